import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer as LibTokenizer } from '@huggingface/tokenizers';
import { loadTokenizer, TokenizerError } from '../src/tokenizer/index.js';
import { loadTokenizerFromDir } from '../src/node/tokenizer-dir.js';
import { OwlError } from '../src/errors.js';
import { encodeCases, FAMILIES, tokenizerDir, tokenizerFor } from './tokenizer-helpers.js';
import { readFileSync } from 'node:fs';

for (const family of FAMILIES) {
  test(`${family}: every corpus string encodes to the Python oracle's ids and decodes to its text`, () => {
    const tok = tokenizerFor(family);
    const cases = encodeCases(family);
    assert.ok(cases.length > 100);
    for (const c of cases) {
      assert.deepEqual(tok.encode(c.text), c.ids, `${c.id} (${c.category}) encode`);
      assert.equal(tok.decode(c.ids), c.decoded, `${c.id} (${c.category}) decode`);
    }
  });
}

test('Owl BPE equals the @huggingface/tokenizers pipeline on random mixed-script strings', () => {
  // The library reproduces the oracle on the corpus; this checks Owl's own BPE / splitting off-corpus.
  const pieces = ['a', 'the ', 'Hello', ' world', '\n', '\t', '  ', '123', '4567', 'é', 'ü', '你好', 'こんにちは', 'ヴ', '👋🏽', '\u0301',
    "'s", "'LL", 'CamelCaseWord', 'x'.repeat(80), 'ab'.repeat(40), '<|im_start|>', '<think>', '<｜User｜>', '<|start|>', '\r\n', '\u200b', '…', '—'];
  let seed = 20250805;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const family of FAMILIES) {
    const dir = tokenizerDir(family);
    const lib = new LibTokenizer(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')));
    const tok = tokenizerFor(family);
    for (let n = 0; n < 300; n++) {
      let s = '';
      for (let k = 1 + Math.floor(rnd() * 20); k > 0; k--) s += pieces[Math.floor(rnd() * pieces.length)];
      const expected = lib.encode(s, { add_special_tokens: false }).ids;
      assert.deepEqual(tok.encode(s), expected, `${family}: ${JSON.stringify(s)}`);
      assert.equal(tok.decode(expected), lib.decode(expected), `${family} decode: ${JSON.stringify(s)}`);
    }
  }
});

test('decode of an empty list is "", skipSpecial drops special tokens only', () => {
  const q = tokenizerFor('qwen3');
  assert.equal(q.decode([]), '');
  const ids = q.encode('<|im_start|>user\n<think>hi</think><|im_end|>');
  assert.equal(q.decode(ids), '<|im_start|>user\n<think>hi</think><|im_end|>');
  // <think> is an added token but not a special one in Qwen3's tokenizer.json.
  assert.equal(q.decode(ids, { skipSpecial: true }), 'user\n<think>hi</think>');
});

test('specials: false encodes added-token text as plain text', () => {
  for (const family of FAMILIES) {
    const tok = tokenizerFor(family);
    const text = family === 'deepseek_v3' ? 'a<｜User｜>b' : family === 'qwen3' ? 'a<|im_start|>b' : 'a<|start|>b';
    const withSpecials = tok.encode(text);
    const plain = tok.encode(text, { specials: false });
    assert.equal(withSpecials.filter((id) => tok.isAdded(id)).length, 1, family);
    assert.equal(plain.filter((id) => tok.isAdded(id)).length, 0, family);
    assert.equal(tok.decode(plain), text);
  }
});

test('token lookups, named tokens and eos ids', () => {
  const q = tokenizerFor('qwen3');
  assert.equal(q.tokenToId('<|im_end|>'), 151645);
  assert.equal(q.idToToken(151645), '<|im_end|>');
  assert.equal(q.tokenToId('Hello'), q.encode('Hello')[0]);
  assert.equal(q.idToToken(q.encode('Hello')[0]), 'Hello');
  assert.ok(q.isSpecial(151645) && q.isAdded(151667) && !q.isSpecial(151667));
  assert.deepEqual(q.eosIds, [151645]);
  assert.equal(q.vocabSize, 151669);
  const g = tokenizerFor('gptoss');
  assert.deepEqual(g.eosIds, [g.tokenToId('<|return|>')]);
  assert.equal(g.namedTokens.bos?.content, '<|startoftext|>');
  assert.equal(g.vocabSize, 200019);
  assert.equal(g.tokenToId('<|reserved_200500|>'), undefined);
  const d = tokenizerFor('deepseek_v3');
  assert.equal(d.namedTokens.bos?.id, 0);
  assert.equal(d.vocabSize, 128815);
  assert.ok(d.chatTemplate?.includes('<｜Assistant｜>'));
  assert.equal(g.chatTemplate, undefined);
});

test('findAddedTokens is leftmost-longest', () => {
  const q = tokenizerFor('qwen3');
  assert.deepEqual(q.findAddedTokens('x<tool_call>y</tool_call><|im_end|>'), [
    { start: 1, end: 12, id: 151657 },
    { start: 13, end: 25, id: 151658 },
    { start: 25, end: 35, id: 151645 },
  ]);
});

test('bad tokenizer files give clear errors', () => {
  assert.throws(() => loadTokenizer({ tokenizerJson: '{not json', source: 'x/tokenizer.json' }), (e: Error) => e instanceof TokenizerError && /x\/tokenizer\.json: not valid JSON/.test(e.message));
  assert.throws(() => loadTokenizer({ tokenizerJson: { added_tokens: [] } }), /field "model"/);
  assert.throws(() => loadTokenizer({ tokenizerJson: { model: { type: 'BPE', vocab: {}, merges: [] }, added_tokens: [{ id: 'x' }] } }), /added_tokens\[0\]/);
  const dir = mkdtempSync(join(tmpdir(), 'owl-tok-'));
  assert.throws(() => loadTokenizerFromDir(dir), (e: Error) => e instanceof OwlError && /no tokenizer\.json/.test(e.message));
  assert.throws(() => loadTokenizerFromDir(join(dir, 'missing')), /not a folder/);
  writeFileSync(join(dir, 'tokenizer.json'), '{}');
  writeFileSync(join(dir, 'tokenizer_config.json'), '{oops');
  assert.throws(() => loadTokenizerFromDir(dir), /tokenizer_config\.json: not valid JSON/);
});
