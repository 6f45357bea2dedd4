import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer as LibTokenizer } from '@huggingface/tokenizers';
import { IncrementalDecoder, loadTokenizer } from '../src/tokenizer/index.js';
import type { Tokenizer } from '../src/tokenizer/types.js';
import { encodeCases, FAMILIES, tokenizerFor } from './tokenizer-helpers.js';

/** Feed ids one at a time; check every intermediate output is a clean prefix of the full decode. */
function streamAndCheck(tok: Tokenizer, ids: number[], label: string): string[] {
  const full = tok.decode(ids);
  const dec = new IncrementalDecoder(tok);
  const pieces: string[] = [];
  let soFar = '';
  for (const id of ids) {
    const piece = dec.push(id);
    pieces.push(piece);
    soFar += piece;
    assert.ok(full.startsWith(soFar), `${label}: output so far is not a prefix of decode(ids)`);
    if (!full.includes('\ufffd')) assert.ok(!soFar.includes('\ufffd'), `${label}: emitted a broken character`);
  }
  soFar += dec.flush();
  assert.equal(soFar, full, label);
  return pieces;
}

test('streaming every prefix of multi-byte text never emits a broken character', () => {
  const samples = ['Grüße, 你好世界! 👋🏽 🇫🇷 नमस्ते — ∑x² ≤ 𝔘𝔫𝔦', '日本語のテキストと絵文字🎉🎉', 'e\u0301 a\u0308 \u{1F469}\u200D\u{1F4BB}'];
  for (const family of FAMILIES) {
    const tok = tokenizerFor(family);
    for (const text of samples) {
      const ids = tok.encode(text);
      const pieces = streamAndCheck(tok, ids, `${family} ${text}`);
      // Byte-level vocabularies split 4-byte emoji across tokens: some steps must hold back.
      if (text.includes('𝔘')) assert.ok(pieces.includes(''), `${family}: expected a held-back step`);
    }
    for (const c of encodeCases(family)) streamAndCheck(tok, c.ids, `${family} ${c.id}`);
  }
});

test('a partial character is held back, then released whole', () => {
  const tok = tokenizerFor('qwen3');
  const ids = tok.encode('𓀀');
  assert.equal(ids.length, 3, 'the hieroglyph takes three byte-level tokens');
  const dec = new IncrementalDecoder(tok);
  const out = ids.map((id) => dec.push(id));
  assert.deepEqual(out.slice(0, -1), ids.slice(0, -1).map(() => ''));
  assert.equal(out[out.length - 1], '𓀀');
  // An incomplete character at the end comes out as U+FFFD on flush, as decode() gives it.
  const dec2 = new IncrementalDecoder(tok);
  assert.equal(dec2.push(ids[0]), '');
  assert.equal(dec2.flush(), tok.decode([ids[0]]));
  assert.equal(tok.decode([ids[0]]), '\ufffd');
});

test('skipSpecial leaves special tokens out of the stream', () => {
  const tok = tokenizerFor('gptoss');
  const ids = tok.encode('<|start|>assistant<|channel|>final<|message|>Hé 👋<|return|>');
  const dec = new IncrementalDecoder(tok, { skipSpecial: true });
  const text = ids.map((id) => dec.push(id)).join('') + dec.flush();
  assert.equal(text, 'assistantfinalHé 👋');
});

/** A tiny SentencePiece-style BPE with byte fallback (Llama/Mistral layout). */
function byteFallbackTokenizerJson(): object {
  const vocab: Record<string, number> = { '<unk>': 0 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 1 + b;
  for (const t of ['▁', 'h', 'i', 'e', 'l', 'o', '▁h', '▁hi', 'll', 'llo', '你']) vocab[t] = Object.keys(vocab).length;
  return {
    version: '1.0',
    added_tokens: [{ id: 0, content: '<unk>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false }],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', fuse_unk: true, byte_fallback: true, vocab, merges: ['▁ h', '▁h i', 'l l', 'll o'] },
  };
}

test('byte-fallback tokens: encode matches the library, streaming holds partial bytes', () => {
  const json = byteFallbackTokenizerJson();
  const tok = loadTokenizer({ tokenizerJson: json });
  const lib = new LibTokenizer(json, {});
  for (const text of ['hi hello', 'hi 好好 你', 'é👋 hi']) {
    const ids = tok.encode(text);
    assert.deepEqual(ids, lib.encode(text, { add_special_tokens: false }).ids, text);
    assert.equal(tok.decode(ids), text);
    streamAndCheck(tok, ids, `byte fallback: ${text}`);
  }
  // 好 is not in the vocabulary: three <0xNN> tokens, the first two held back.
  const ids = tok.encode('好');
  const byteTokens = ids.filter((id) => /^<0x/.test(tok.idToToken(id)!));
  assert.equal(byteTokens.length, 3);
  const dec = new IncrementalDecoder(tok);
  assert.deepEqual(ids.map((id) => dec.push(id)).filter(Boolean), ['好']);
});
