/**
 * Scalar formats of the published checkpoints and their reference decoders.
 * Kernels compute in f32; weights stay in these formats in memory.
 */

/** Element types a tensor file can hold (safetensors names). */
export type FileDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const FILE_DTYPE_BYTES: Record<FileDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** bfloat16 bits -> f32: the top 16 bits of an IEEE f32. */
export function bf16ToF32(bits: number): number {
  u32Scratch[0] = bits << 16;
  return f32Scratch[0]!;
}

/** f32 -> bfloat16 bits, round to nearest even (as torch does). */
export function f32ToBf16(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return 0x7fc0; // NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** IEEE half bits -> f32. */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** f32 -> IEEE half bits, round to nearest even. */
export function f32ToF16(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** float8_e4m3fn (bias 7, no infinities, 0x7f/0xff = NaN) -> f32, as a 256-entry table. */
export const E4M3_TABLE: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const s = b & 0x80 ? -1 : 1;
    const e = (b >> 3) & 0xf;
    const m = b & 7;
    if (e === 15 && m === 7) t[b] = NaN;
    else if (e === 0) t[b] = s * (m / 8) * 2 ** -6;
    else t[b] = s * (1 + m / 8) * 2 ** (e - 7);
  }
  return t;
})();

/** f32 -> nearest float8_e4m3fn byte (saturating at ±448); used by `owl init` and tests. */
export function f32ToE4M3(x: number): number {
  if (Number.isNaN(x)) return 0x7f;
  let best = 0;
  let bestErr = Infinity;
  for (let b = 0; b < 127; b++) {
    const err = Math.abs(E4M3_TABLE[b]! - Math.abs(x));
    if (err < bestErr || (err === bestErr && (b & 1) === 0)) {
      best = b;
      bestErr = err;
    }
  }
  return x < 0 ? best | 0x80 : best;
}

/** MXFP4 element: E2M1 nibble -> value. */
export const E2M1_TABLE: Float32Array = new Float32Array([
  0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6,
]);

/** E8M0 scale byte -> 2^(b - 127). */
export function e8m0ToF32(b: number): number {
  return 2 ** (b - 127);
}
