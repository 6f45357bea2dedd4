import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { OWL_BIN } from './helpers.js';
import { encodeCases, FAMILIES, tokenizerDir } from './tokenizer-helpers.js';

const owl = (args: string[], input?: string) => spawnSync(process.execPath, [OWL_BIN, ...args], { input, encoding: 'utf8' });

test('owl tokenize reads JSON lines and reproduces the oracle ids for the whole corpus', () => {
  for (const family of FAMILIES) {
    const cases = encodeCases(family);
    const r = owl(['tokenize', '--tokenizer', tokenizerDir(family)], cases.map((c) => JSON.stringify({ text: c.text })).join('\n') + '\n');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { ids: number[] });
    assert.equal(lines.length, cases.length);
    cases.forEach((c, i) => assert.deepEqual(lines[i].ids, c.ids, `${family} ${c.id}`));
  }
});

test('owl tokenize --text matches added tokens like transformers; --plain does not', () => {
  const dir = tokenizerDir('qwen3');
  const r = owl(['tokenize', '--tokenizer', dir, '--text', 'Hi<|im_end|>', '--decode']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { ids: number[]; decoded: string };
  assert.equal(out.ids.at(-1), 151645);
  assert.equal(out.decoded, 'Hi<|im_end|>');
  const plain = JSON.parse(owl(['tokenize', '--tokenizer', dir, '--text', 'Hi<|im_end|>', '--plain']).stdout) as { ids: number[] };
  assert.ok(!plain.ids.includes(151645));
});

test('owl tokenize: bad input lines and bad arguments are clear errors', () => {
  const dir = tokenizerDir('qwen3');
  const r = owl(['tokenize', '--tokenizer', dir], '{"text": "ok"}\nnot json\n');
  assert.equal(r.status, 2);
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(JSON.parse(lines[0]), { ids: [562] });
  assert.match(JSON.parse(lines[1]).error, /line 2/);
  const noDir = owl(['tokenize', '--text', 'x']);
  assert.equal(noDir.status, 2);
  assert.match(noDir.stderr, /--tokenizer DIR is required/);
  const missing = owl(['tokenize', '--tokenizer', '/nonexistent/dir', '--text', 'x']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /not a folder/);
  assert.match(owl(['tokenize', '--help']).stdout, /JSON lines/);
});
