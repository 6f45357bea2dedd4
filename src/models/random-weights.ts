/**
 * Random weights of the right shapes and sensible scales for a checkpoint layout (`owl init`):
 * matrices uniform with std `initializer_range`, norms 1, biases and sinks 0, MXFP4 experts as
 * random E2M1 nibbles under a scale that gives about the same std.
 */
import { f32ToBf16, f32ToF16, type FileDtype } from '../tensor/dtype.js';
import type { TensorPlan } from './checkpoint-layout.js';

export type InitDtype = 'f32' | 'bf16' | 'f16';

const FILE_DTYPE: Record<InitDtype, FileDtype> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function planDtype(plan: TensorPlan, dtype: InitDtype): FileDtype {
  if (plan.role === 'mxfp4_blocks' || plan.role === 'mxfp4_scales') return 'U8';
  if (plan.role === 'score_bias') return 'F32';
  return FILE_DTYPE[dtype];
}

/** The bytes of one tensor. `std` is the matrices' standard deviation. */
export function randomTensor(plan: TensorPlan, dtype: InitDtype, std: number, next: () => number): Uint8Array {
  const n = plan.shape.reduce((a, b) => a * b, 1);
  const fileDtype = planDtype(plan, dtype);
  if (plan.role === 'mxfp4_blocks') {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const r = (next() * 4294967296) >>> 0;
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (r >>> (8 * j)) & 0xff;
    }
    return out;
  }
  if (plan.role === 'mxfp4_scales') {
    // Random E2M1 values have std ≈ 3.2; 2^e · 3.2 ≈ std.
    return new Uint8Array(n).fill(127 + Math.round(Math.log2(std / 3.2)));
  }
  const value = plan.role === 'norm' ? () => 1 : plan.role === 'matrix' ? () => (next() * 2 - 1) * std * Math.sqrt(3) : () => 0;
  if (fileDtype === 'F32') return new Uint8Array(Float32Array.from({ length: n }, value).buffer);
  const conv = fileDtype === 'BF16' ? f32ToBf16 : f32ToF16;
  const u16 = new Uint16Array(n);
  for (let i = 0; i < n; i++) u16[i] = conv(value());
  return new Uint8Array(u16.buffer);
}
