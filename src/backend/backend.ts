/**
 * The compute interface every model is written against. Activations are f32 arrays obtained from
 * the backend (fast backends hand out views of their own memory); weights stay in checkpoint format.
 * The reference backend (ref/) is the spec: every faster backend is tested op by op against it.
 */
import type { Weight } from '../tensor/weight.js';

/** Precomputed RoPE frequencies; see models/blocks/rope.ts for how they are derived from a RopeSpec. */
export interface RopeTable {
  /** Rotated dimensions per head. */
  dim: number;
  /** 'half': pairs (i, i + dim/2). 'interleaved': pairs (2i, 2i + 1). */
  layout: 'half' | 'interleaved';
  /** dim/2 inverse frequencies. */
  invFreq: Float32Array;
  /** cos and sin are multiplied by this (YaRN attention factor; 1 otherwise). */
  scale: number;
}

/**
 * cos and sin of every (row, frequency) pair, [n, dim/2, 2], exactly as the reference rotates:
 * angle = f32(position × invFreq), then cos/sin × scale rounded to f32. Shared by the backends so
 * the fast one can compute it once per forward pass and reuse it across layers.
 */
export function ropeAngles(table: RopeTable, positions: Int32Array, n: number, out: Float32Array = new Float32Array(n * table.dim)): Float32Array {
  const half = table.dim / 2;
  for (let i = 0; i < n; i++) {
    const pos = positions[i]!;
    for (let f = 0; f < half; f++) {
      const angle = Math.fround(pos * table.invFreq[f]!);
      out[(i * half + f) * 2] = Math.cos(angle) * table.scale;
      out[(i * half + f) * 2 + 1] = Math.sin(angle) * table.scale;
    }
  }
  return out;
}

export interface RopeArgs {
  /** [n, heads, stride] rotated in place. */
  x: Float32Array;
  n: number;
  heads: number;
  /** Elements from one head to the next (>= offset + table.dim). */
  stride: number;
  /** First rotated element within a head (MLA rotates the tail of each head). */
  offset: number;
  /** Absolute position of each of the n rows. */
  positions: Int32Array;
  table: RopeTable;
}

export interface AttentionArgs {
  /** [nq, numHeads, dk] */
  q: Float32Array;
  /** Head g's key at absolute position kPos[j] starts at j * kStride + g * kHeadStride. */
  k: Float32Array;
  /** Head g's value j starts at j * vStride + g * vHeadStride. May alias k (MLA: v is the latent prefix of k). */
  v: Float32Array;
  /** Elements between consecutive key rows; numKvHeads * dk when omitted. */
  kStride?: number;
  /** Elements between consecutive value rows; numKvHeads * dv when omitted. */
  vStride?: number;
  /**
   * Elements from kv head g's keys to head g+1's (dk when omitted: heads side by side in a row). A
   * head-major cache ([head][position][dk], kStride dk) sets it to its capacity × dk, so one head's
   * keys are contiguous (rows of all heads are a page apart at 8 heads × 128 dims of f32).
   */
  kHeadStride?: number;
  /** The same for values (dv when omitted). */
  vHeadStride?: number;
  /** [nq, numHeads, dv] */
  out: Float32Array;
  nq: number;
  nk: number;
  numHeads: number;
  /** Query head h reads kv head floor(h / (numHeads / numKvHeads)). */
  numKvHeads: number;
  dk: number;
  dv: number;
  scale: number;
  qPos: Int32Array;
  kPos: Int32Array;
  /** Key j is visible to query i iff kPos[j] <= qPos[i] and (window == null or qPos[i] - kPos[j] < window). */
  window: number | null;
  /** Per-head sink logit joined to the softmax denominator, then dropped (GPT-OSS). */
  sinks: Float32Array | null;
}

export interface Backend {
  readonly name: string;
  /** A zeroed f32 buffer for activations or caches. */
  alloc(length: number): Float32Array;
  /** Hand a buffer from alloc() back for reuse. */
  free(buf: Float32Array): void;
  /** Destination bytes for weight data read from a file (fast backends place weights in their memory). */
  allocWeightBytes(byteLength: number): Uint8Array;
  /** Called once per weight after loading (e.g. repack); returns the weight to use. */
  prepareWeight(w: Weight): Weight;

  /** out[n, w.rows] = x[n, w.cols] · wᵀ */
  matmul(out: Float32Array, x: Float32Array, w: Weight, n: number): void;
  /** out[i, :] = row ids[i] of table, decoded to f32. */
  embed(out: Float32Array, table: Weight, ids: Int32Array): void;
  /** out[n, dim] = x / rms(x) * gamma, per row. out may equal x. */
  rmsNorm(out: Float32Array, x: Float32Array, gamma: Float32Array, n: number, dim: number, eps: number): void;
  rope(args: RopeArgs): void;
  attention(args: AttentionArgs): void;
  /** out = silu(gate) * up, over len elements. */
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, len: number): void;
  /** GPT-OSS: g = min(gate, limit), u = clamp(up, ±limit); out = (u + 1) · g · sigmoid(alpha · g). */
  swigluClamped(out: Float32Array, gate: Float32Array, up: Float32Array, len: number, limit: number, alpha: number): void;
  /** x[i, :] += bias for each of n rows. */
  addBias(x: Float32Array, bias: Float32Array, n: number): void;
  /** out[i] = a[i] + s · b[i] over len elements (residuals, weighted expert sums). out may equal a. */
  addScaled(out: Float32Array, a: Float32Array, b: Float32Array, s: number, len: number): void;
  /** Softmax over each of n rows of dim, in place. */
  softmax(x: Float32Array, n: number, dim: number): void;
}
