/** Test doubles for the generation loop: a model with scripted logits, a byte tokenizer, a tiny chat format. */
import type { ModelSpec } from '../src/config/spec.js';
import type { Backend } from '../src/backend/backend.js';
import type { LayerCache } from '../src/models/blocks/kv-cache.js';
import { ModelCache, type CausalLM } from '../src/models/decoder.js';
import type { ChatDelta, OutputParser } from '../src/generate/stream.js';
import type { SessionChatFormat } from '../src/generate/session.js';
import { StreamingDetokenizer } from '../src/generate/incremental.js';

/** Byte tokenizer: ids 0..255 are bytes, then a few specials. */
export const EOS = 256;
export const THINK = 257;
export const END_THINK = 258;
export const IM_START = 259;
export const IM_END = 260;
const SPECIALS: Record<number, string> = { [EOS]: '<eos>', [THINK]: '<think>', [END_THINK]: '</think>', [IM_START]: '<|im_start|>', [IM_END]: '<|im_end|>' };
export const VOCAB = 264;

export const byteTokenizer = {
  encode(text: string): number[] {
    const out: number[] = [];
    const re = /<eos>|<think>|<\/think>|<\|im_start\|>|<\|im_end\|>/g;
    let last = 0;
    const bytes = (s: string) => out.push(...new TextEncoder().encode(s));
    for (let m = re.exec(text); m; m = re.exec(text)) {
      bytes(text.slice(last, m.index));
      out.push(Number(Object.keys(SPECIALS).find((k) => SPECIALS[Number(k)] === m![0])));
      last = m.index + m[0].length;
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

export interface Msg {
  role: string;
  content: string;
  reasoning_content?: string;
}

/** A ChatML-like format over the byte tokenizer, with <think>…</think> reasoning. */
export const miniChat: SessionChatFormat<Msg, never> = {
  render(messages, kwargs = {}) {
    let text = messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
    if (kwargs.add_generation_prompt) text += '<|im_start|>assistant\n';
    if (kwargs.enable_thinking === false) text += '<think>\n\n</think>\n\n';
    return { text, ids: byteTokenizer.encode(text) };
  },
  parser(): OutputParser<never> {
    const detok = new StreamingDetokenizer(byteTokenizer);
    let inThink = false;
    const wrap = (text: string): ChatDelta<never>[] => (text ? [inThink ? { reasoning: text } : { content: text }] : []);
    return {
      push(id) {
        if (id === THINK || id === END_THINK) {
          const rest = wrap(detok.flush());
          inThink = id === THINK;
          return rest;
        }
        return wrap(detok.push(id));
      },
      finish: () => wrap(detok.flush()),
    };
  },
  stopTokens: [IM_END],
  thinkingSwitch: true,
};
