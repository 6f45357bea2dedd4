/**
 * A model with one KV cache that remembers which token ids it holds, so the next prompt only
 * prefills what differs from them (multi-turn chat re-sends the whole conversation each turn).
 */
import { OwlError } from '../errors.js';
import type { CausalLM, ModelCache } from '../models/decoder.js';

export interface PrefillResult {
  /** Logits after the last prompt token. */
  logits: Float32Array;
  /** Prompt tokens whose keys/values were already in the cache. */
  reused: number;
  /** Prompt tokens run through the model now. */
  prefilled: number;
}

export interface PrefillOptions {
  signal?: AbortSignal;
  /** Keep nothing from earlier calls. */
  noReuse?: boolean;
  /** Tokens per forward call; the event loop gets a turn between chunks (default 256). */
  chunk?: number;
}

/** Let timers, input and abort handlers run between synchronous forward passes. */
export const yieldToEventLoop: () => Promise<void> =
  typeof setImmediate === 'function' ? () => new Promise((r) => setImmediate(r)) : () => new Promise((r) => setTimeout(r, 0));

export class AbortedError extends OwlError {
  override name = 'AbortedError';
}

export class CachedModel {
  private cache: ModelCache | null = null;
  private ids: number[] = [];
  private stepLogits: Float32Array | null = null;

  constructor(readonly model: CausalLM) {}

  /** The token ids whose keys/values the cache holds, in order. */
  get cachedIds(): readonly number[] {
    return this.ids;
  }

  get contextLength(): number {
    return this.model.spec.maxPositions;
  }

  reset(): void {
    this.cache?.release();
    this.cache = null;
    this.ids = [];
  }

  /**
   * Bring the cache to exactly `prompt` and return the logits after its last token, reusing the
   * longest common prefix with what is cached (at least the last token is always run).
   */
  async prefill(prompt: readonly number[], opts: PrefillOptions = {}): Promise<PrefillResult> {
    const n = prompt.length;
    if (n === 0) throw new OwlError('the prompt is empty (no tokens)');
    if (n >= this.contextLength)
      throw new OwlError(`the prompt has ${n} tokens but the model's context is ${this.contextLength} (max_position_embeddings): no room to generate`);
    let keep = opts.noReuse ? 0 : commonPrefix(this.ids, prompt);
    if (keep === n) keep = n - 1;
    if (!this.cache || !this.cache.truncate(keep)) {
      // A sliding-window ring that has rolled past `keep` cannot go back: start over.
      this.cache?.release();
      this.cache = this.model.newCache();
      keep = 0;
    }
    this.ids.length = keep;
    const chunk = Math.max(1, opts.chunk ?? 256);
    let logits: Float32Array | null = null;
    for (let at = keep; at < n; at += chunk) {
      if (at > keep) {
        await yieldToEventLoop();
        if (opts.signal?.aborted) throw new AbortedError('generation cancelled during the prompt');
      }
      logits = this.run(prompt.slice(at, Math.min(n, at + chunk)));
    }
    return { logits: logits!, reused: keep, prefilled: n - keep };
  }

  /**
   * Append one generated token; returns the logits after it, in a buffer this model reuses: they
   * are valid until the next step() (copy them to keep them).
   */
  step(id: number): Float32Array {
    if (this.ids.length + 1 > this.contextLength) throw new OwlError(`the context of ${this.contextLength} tokens is full`);
    this.stepLogits ??= new Float32Array(this.model.spec.vocabSize);
    return this.run([id], this.stepLogits);
  }

  private run(ids: number[], out?: Float32Array): Float32Array {
    try {
      const logits = this.model.forward(ids, this.cache!, { logits: 'last', out });
      this.ids.push(...ids);
      return logits;
    } catch (e) {
      // A failed forward may have written some layers' caches and not others.
      this.reset();
      throw e;
    }
  }
}

export function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
