/**
 * The decoder stack all three families share: embed → [x += attn(norm(x)); x += mlp(norm(x))] × L
 * → norm → LM head. Families differ only in the blocks they plug in (see qwen3.ts, deepseek-v3.ts, gpt-oss.ts).
 */
import type { Backend } from '../backend/backend.js';
import type { ModelSpec } from '../config/spec.js';
import { OwlError } from '../errors.js';
import type { Weight } from '../tensor/weight.js';
import type { AttentionBlock } from './blocks/attention.js';
import type { LayerCache } from './blocks/kv-cache.js';
import type { MlpBlock } from './blocks/mlp.js';

export interface DecoderLayer {
  attnNorm: Float32Array;
  attention: AttentionBlock;
  mlpNorm: Float32Array;
  mlp: MlpBlock;
}

export interface DecoderWeights {
  embed: Weight; // [vocab, hidden]
  layers: DecoderLayer[];
  finalNorm: Float32Array;
  lmHead: Weight; // [vocab, hidden] (the embedding when tied)
}

/** The KV cache of a whole model: one LayerCache per layer, all at the same length. */
export class ModelCache {
  constructor(readonly layers: LayerCache[]) {}

  get length(): number {
    return this.layers[0]?.length ?? 0;
  }

  /** Keep the first len tokens; false (and nothing changed) when some layer cannot: the caller starts over. */
  truncate(len: number): boolean {
    if (!this.layers.every((l) => l.canTruncate(len))) return false;
    this.layers.forEach((l) => l.truncate(len));
    return true;
  }

  allocatedBytes(): number {
    return this.layers.reduce((a, l) => a + l.allocatedBytes(), 0);
  }

  /** Hands every layer's storage back to the backend for reuse (backend memory is not garbage-collected); the cache is then empty. */
  release(): void {
    this.layers.forEach((l) => l.release());
  }

  /** What each further token adds at long context (sliding layers add nothing). */
  bytesPerToken(): number {
    return this.layers.reduce((a, l) => a + l.bytesPerToken(), 0);
  }
}

export interface ForwardOptions {
  /** Logits for every position (default) or only the last. */
  logits?: 'all' | 'last';
  /** Called with (index, [n, hidden]) for index 0 = embeddings, i = after layer i, L = final norm output. */
  onHidden?: (index: number, hidden: Float32Array) => void;
  /**
   * Where to write the logits ([rows, vocab], ordinary memory) instead of a new array. A decode
   * loop passes the same buffer every step: a fresh 600 KB array costs ~150 page faults (~2 ms per
   * token measured on the Qwen3 vocabulary), more than the rest of the LM head's copy.
   */
  out?: Float32Array;
}

export interface CausalLM {
  readonly spec: ModelSpec;
  readonly backend: Backend;
  newCache(): ModelCache;
  /** Run ids after the cache's tokens; returns logits [n or 1, vocab]. */
  forward(ids: ArrayLike<number>, cache: ModelCache, opts?: ForwardOptions): Float32Array;
}

export class DecoderModel implements CausalLM {
  constructor(
    readonly spec: ModelSpec,
    readonly backend: Backend,
    private readonly w: DecoderWeights,
  ) {}

  newCache(): ModelCache {
    return new ModelCache(this.w.layers.map((l) => l.attention.newCache()));
  }

  forward(ids: ArrayLike<number>, cache: ModelCache, opts: ForwardOptions = {}): Float32Array {
    const b = this.backend;
    const { hiddenSize: hidden, vocabSize, rmsNormEps: eps, maxPositions } = this.spec;
    const n = ids.length;
    if (n === 0) throw new OwlError('forward: no tokens given');
    const start = cache.length;
    if (start + n > maxPositions)
      throw new OwlError(`${start + n} tokens exceed the model's context of ${maxPositions} (max_position_embeddings)`);
    const tokens = Int32Array.from(ids);
    for (const id of tokens)
      if (!(id >= 0 && id < vocabSize)) throw new OwlError(`token id ${id} is outside the vocabulary (0..${vocabSize - 1})`);
    const positions = Int32Array.from({ length: n }, (_, i) => start + i);
    const rows = opts.logits === 'last' ? 1 : n;
    // Checked before any layer runs: a refused call leaves the cache as it was.
    if (opts.out && opts.out.length !== rows * vocabSize)
      throw new OwlError(`forward: out holds ${opts.out.length} floats, the logits need ${rows} x ${vocabSize}`);

    const x = b.alloc(n * hidden);
    const normed = b.alloc(n * hidden);
    const delta = b.alloc(n * hidden);
    b.embed(x, this.w.embed, tokens);
    opts.onHidden?.(0, x);
    // Only the last `rows` tokens' hidden states reach the logits: the last layer needs every token's
    // keys and values for the cache, but queries, the MLP and the final norm only for those rows.
    const lastRows = opts.onHidden ? n : rows;
    const L = this.w.layers.length;
    this.w.layers.forEach((layer, i) => {
      const m = i === L - 1 ? lastRows : n;
      const xs = x.subarray((n - m) * hidden);
      b.rmsNorm(normed, x, layer.attnNorm, n, hidden, eps);
      layer.attention.forward(normed, delta, n, positions, cache.layers[i]!, m);
      b.addScaled(xs, xs, delta, 1, m * hidden);
      b.rmsNorm(normed, xs, layer.mlpNorm, m, hidden, eps);
      layer.mlp.forward(normed, delta, m);
      b.addScaled(xs, xs, delta, 1, m * hidden);
      if (i < L - 1) opts.onHidden?.(i + 1, x);
    });
    b.rmsNorm(normed, x.subarray((n - lastRows) * hidden), this.w.finalNorm, lastRows, hidden, eps);
    opts.onHidden?.(L, normed);
    // The caller keeps the logits: ordinary memory, written by the LM head (a backend stages and copies them).
    const logits = opts.out ?? new Float32Array(rows * vocabSize);
    b.matmul(logits, normed.subarray((lastRows - rows) * hidden), this.w.lmHead, rows);
    for (const buf of [x, normed, delta]) b.free(buf);
    return logits;
  }
}
