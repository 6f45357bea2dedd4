/**
 * Grouped-query attention as Qwen3 and GPT-OSS use it: optional q/k/v/o biases, per-head
 * QK-norm before RoPE (Qwen3), learned sinks and sliding windows (GPT-OSS).
 */
import type { Backend, RopeTable } from '../../backend/backend.js';
import type { GqaAttentionSpec } from '../../config/spec.js';
import type { Weight } from '../../tensor/weight.js';
import { FullCache, RingCache, type LayerCache } from './kv-cache.js';
import { project } from './projections.js';

export interface AttentionBlock {
  /**
   * out[outRows, hidden] = attention(x[n, hidden]) for the last outRows (default n) of the tokens at
   * `positions`; every token's keys and values go into `cache`. A prefill whose last layer feeds
   * only the last token's logits asks for 1 row and skips the other rows' queries' work.
   */
  forward(x: Float32Array, out: Float32Array, n: number, positions: Int32Array, cache: LayerCache, outRows?: number): void;
  newCache(): LayerCache;
}

export interface GqaWeights {
  q: Weight;
  k: Weight;
  v: Weight;
  /** q, k and v stacked (their data are views of it): one matvec per decode step. */
  qkv?: Weight;
  o: Weight;
  qBias?: Float32Array;
  kBias?: Float32Array;
  vBias?: Float32Array;
  oBias?: Float32Array;
  qNorm?: Float32Array;
  kNorm?: Float32Array;
  sinks?: Float32Array;
}

export interface GqaOptions {
  spec: GqaAttentionSpec;
  rope: RopeTable;
  normEps: number;
  /** Sliding window for this layer, or null for full attention. */
  window: number | null;
}

export class GqaAttention implements AttentionBlock {
  private readonly scale: number;

  constructor(
    private readonly backend: Backend,
    private readonly w: GqaWeights,
    private readonly opt: GqaOptions,
  ) {
    this.scale = 1 / Math.sqrt(opt.spec.headDim);
  }

  newCache(): LayerCache {
    const { numKvHeads, headDim } = this.opt.spec;
    const width = numKvHeads * headDim;
    return this.opt.window === null
      ? new FullCache(this.backend, width, width, numKvHeads)
      : new RingCache(this.backend, width, width, this.opt.window);
  }

  forward(x: Float32Array, out: Float32Array, n: number, positions: Int32Array, cache: LayerCache, outRows = n): void {
    const b = this.backend;
    const { numHeads, numKvHeads, headDim } = this.opt.spec;
    const m = outRows;
    const { w } = this;
    // 1. Projections
    const { outs: [q, k, v], buffers } = project(b, x, n, [w.q, w.k, w.v], w.qkv);
    if (w.qBias) b.addBias(q, w.qBias, n);
    if (w.kBias) b.addBias(k, w.kBias, n);
    if (w.vBias) b.addBias(v, w.vBias, n);
    // 2. Per-head QK-norm, then RoPE
    if (w.qNorm) b.rmsNorm(q, q, w.qNorm, n * numHeads, headDim, this.opt.normEps);
    if (w.kNorm) b.rmsNorm(k, k, w.kNorm, n * numKvHeads, headDim, this.opt.normEps);
    const rope = { n, stride: headDim, offset: 0, positions, table: this.opt.rope };
    b.rope({ ...rope, x: q, heads: numHeads });
    b.rope({ ...rope, x: k, heads: numKvHeads });
    // 3. Attend over cached + new keys
    const kv = cache.append(k, v, n, positions);
    const attn = b.alloc(m * numHeads * headDim);
    b.attention({
      q: q.subarray((n - m) * numHeads * headDim), k: kv.k, v: kv.v, out: attn, nq: m, nk: kv.nk, numHeads, numKvHeads, dk: headDim, dv: headDim,
      kStride: kv.kStride, vStride: kv.vStride, kHeadStride: kv.kHeadStride, vHeadStride: kv.vHeadStride, scale: this.scale, qPos: positions.subarray(n - m), kPos: kv.kPos,
      window: this.opt.window, sinks: w.sinks ?? null,
    });
    // 4. Output projection
    b.matmul(out, attn, w.o, m);
    if (w.oBias) b.addBias(out, w.oBias, m);
    for (const buf of [...buffers, attn]) b.free(buf);
  }
}
