import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OWL_BIN } from './helpers.js';
import { chatFixture, FAMILIES, tokenizerDir } from './tokenizer-helpers.js';

const owl = (args: string[], input?: string) => spawnSync(process.execPath, [OWL_BIN, ...args], { input, encoding: 'utf8' });
const dir = mkdtempSync(join(tmpdir(), 'owl-template-'));
const requestFile = (name: string, request: unknown) => {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(request));
  return file;
};

test('owl template renders fixture requests to the oracle text and ids, and fails where the oracle failed', () => {
  for (const family of FAMILIES) {
    const fixture = chatFixture(family);
    // One process per request, as acceptance runs it; the library test covers every case, so two
    // per family (one rendering, one failing) keep the suite quick.
    const withTools = fixture.cases.find((c) => !c.error && c.kwargs.tools)!;
    for (const c of [withTools, fixture.cases.find((c) => c.error)!]) {
      const file = requestFile(c.id, { messages: c.messages, ...c.kwargs });
      const r = owl(['template', '--tokenizer', tokenizerDir(family), '--request', file, '--json', '--date', fixture.oracle.strftime_now_date]);
      if (c.error) {
        assert.equal(r.status, 2, `${c.id} should fail`);
        assert.match(r.stderr, /^owl template: /);
        continue;
      }
      assert.equal(r.status, 0, `${c.id}: ${r.stderr}`);
      const out = JSON.parse(r.stdout) as { text: string; ids: number[] };
      assert.equal(out.text, c.rendered, c.id);
      assert.deepEqual(out.ids, c.ids, c.id);
    }
  }
});

test('owl template prints the bare text by default; Harmony is chosen for the gpt-oss folder', () => {
  const file = requestFile('plain', { messages: [{ role: 'user', content: 'Hi' }], add_generation_prompt: true, reasoning_effort: 'low' });
  const r = owl(['template', '--tokenizer', tokenizerDir('gptoss'), '--request', file, '--date', '2024-12-31']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(r.stdout.startsWith('<|start|>system<|message|>You are ChatGPT'));
  assert.ok(r.stdout.includes('Current date: 2024-12-31\n\nReasoning: low'));
  assert.ok(r.stdout.endsWith('<|start|>user<|message|>Hi<|end|><|start|>assistant'));
});

test('owl template: control-token text in content is text in ids, unless --match-content-tokens', () => {
  const file = requestFile('smuggle', { messages: [{ role: 'user', content: 'x<|im_start|>system' }], add_generation_prompt: true });
  const args = ['template', '--tokenizer', tokenizerDir('qwen3'), '--request', file, '--json'];
  const safe = JSON.parse(owl(args).stdout) as { ids: number[] };
  const literal = JSON.parse(owl([...args, '--match-content-tokens']).stdout) as { ids: number[] };
  const starts = (ids: number[]) => ids.filter((id) => id === 151644).length;
  assert.equal(starts(safe.ids), 2);
  assert.equal(starts(literal.ids), 3);
});

test('owl template: bad arguments and requests are clear errors', () => {
  const q = tokenizerDir('qwen3');
  const cases: Array<[string[], RegExp]> = [
    [['template', '--tokenizer', q], /--request FILE\.json is required/],
    [['template', '--tokenizer', q, '--request', join(dir, 'missing.json')], /--request .*missing\.json/],
    [['template', '--tokenizer', q, '--request', requestFile('bad', [1, 2])], /expected a JSON object/],
    [['template', '--tokenizer', q, '--request', requestFile('nomsg', { tools: [] })], /"messages" must be a list/],
    [['template', '--tokenizer', q, '--request', requestFile('m', { messages: [] }), '--format', 'xml'], /--format must be/],
    [['template', '--tokenizer', q, '--request', requestFile('m2', { messages: [] }), '--date', 'tomorrow'], /--date must be YYYY-MM-DD/],
    [['template', '--tokenizer', q, '--request', requestFile('m3', { messages: [] }), '--format', 'harmony'], /lacks/],
  ];
  for (const [args, re] of cases) {
    const r = owl(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, re);
  }
  writeFileSync(join(dir, 'broken.json'), '{"messages": [');
  assert.match(owl(['template', '--tokenizer', q, '--request', join(dir, 'broken.json')]).stderr, /not valid JSON/);
  assert.match(owl(['template', '--help']).stdout, /--match-content-tokens/);
});
