// Whole rows decoded to f32 in natural order: embedding lookups and the weight block of the
// matrix-matrix kernel (decoded once, then reused for every token).
import { bf16, bf16Even, bf16Odd, e4m3, e4m3x4, e8m0, e2m1Hi, e2m1Lo, f16, f16x4, kNibble, lookup16 } from './decode';

export const FMT_F32 = 0;
export const FMT_F16 = 1;
export const FMT_BF16 = 2;
export const FMT_FP8 = 3;
export const FMT_MXFP4 = 4;

/** Rows [r0, r1) of w into dst ([r1 - r0, cols] f32). Block scales as in the matvec kernels. */
export function dequantRows(fmt: i32, r0: i32, r1: i32, dst: usize, w: usize, cols: i32, scales: usize, br: i32, bc: i32): void {
  for (let r = r0; r < r1; r++) {
    const o = dst + (<usize>(r - r0) * <usize>cols << 2);
    if (fmt == FMT_F32) memory.copy(o, w + (<usize>r * <usize>cols << 2), <usize>cols << 2);
    else if (fmt == FMT_BF16) rowBf16(o, w + (<usize>r * <usize>cols << 1), cols);
    else if (fmt == FMT_F16) rowF16(o, w + (<usize>r * <usize>cols << 1), cols);
    else if (fmt == FMT_FP8) rowFp8(o, w + <usize>r * <usize>cols, cols, scales + (<usize>((r / br) * ((cols + bc - 1) / bc)) << 2), bc);
    else rowMxfp4(o, w + <usize>r * <usize>(cols >> 1), cols, scales + <usize>r * <usize>(cols >> 5));
  }
}

function rowBf16(o: usize, p: usize, cols: i32): void {
  const c8 = <usize>(cols & ~7);
  for (let c: usize = 0; c < c8; c += 8) {
    const v = v128.load(p + (c << 1));
    const e = bf16Even(v), d = bf16Odd(v);
    v128.store(o + (c << 2), i32x4.shuffle(e, d, 0, 4, 1, 5));
    v128.store(o + (c << 2), i32x4.shuffle(e, d, 2, 6, 3, 7), 16);
  }
  for (let c = c8; c < <usize>cols; c++) store<f32>(o + (c << 2), bf16(load<u16>(p + (c << 1))));
}

function rowF16(o: usize, p: usize, cols: i32): void {
  const c8 = <usize>(cols & ~7);
  for (let c: usize = 0; c < c8; c += 8) {
    const v = v128.load(p + (c << 1));
    v128.store(o + (c << 2), f16x4(i32x4.extend_low_i16x8_u(v)));
    v128.store(o + (c << 2), f16x4(i32x4.extend_high_i16x8_u(v)), 16);
  }
  for (let c = c8; c < <usize>cols; c++) store<f32>(o + (c << 2), f16(load<u16>(p + (c << 1))));
}

function rowFp8(o: usize, p: usize, cols: i32, srow: usize, bc: i32): void {
  for (let cb = 0; cb < cols; cb += bc) {
    const ce = min(cb + bc, cols);
    const s = load<f32>(srow + (<usize>(cb / bc) << 2));
    const sv = f32x4.splat(s);
    let c = cb;
    // Whole 16-groups inside this block (any block width).
    for (; c + 16 <= ce; c += 16) {
      const v = v128.load(p + <usize>c);
      const h0 = i16x8.extend_low_i8x16_u(v), h1 = i16x8.extend_high_i8x16_u(v);
      const q = o + (<usize>c << 2);
      v128.store(q, f32x4.mul(e4m3x4(i32x4.shl(i32x4.extend_low_i16x8_u(h0), 24)), sv));
      v128.store(q, f32x4.mul(e4m3x4(i32x4.shl(i32x4.extend_high_i16x8_u(h0), 24)), sv), 16);
      v128.store(q, f32x4.mul(e4m3x4(i32x4.shl(i32x4.extend_low_i16x8_u(h1), 24)), sv), 32);
      v128.store(q, f32x4.mul(e4m3x4(i32x4.shl(i32x4.extend_high_i16x8_u(h1), 24)), sv), 48);
    }
    for (; c < ce; c++) store<f32>(o + (<usize>c << 2), e4m3(load<u8>(p + <usize>c)) * s);
  }
}

function rowMxfp4(o: usize, p: usize, cols: i32, srow: usize): void {
  const blocks = <usize>(cols >> 5);
  for (let b: usize = 0; b < blocks; b++) {
    const tl = e2m1Lo(), th = e2m1Hi();
    const v = v128.load(p + (b << 4));
    const sv = f32x4.splat(e8m0(load<u8>(srow + b)));
    // Nibbles in element order: low nibble of byte j is element 2j.
    const lo = v128.and(v, kNibble());
    const hi = v128.and(i16x8.shr_u(v, 4), kNibble());
    const na = i8x16.shuffle(lo, hi, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const nb = i8x16.shuffle(lo, hi, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const q = o + (b << 7);
    storeBf16x8(q, lookup16(tl, na), lookup16(th, na), sv);
    storeBf16x8(q + 64, lookup16(tl, nb), lookup16(th, nb), sv);
  }
}

/** 16 bf16 values given as low/high byte vectors -> 16 f32 at q, times sv. */
@inline function storeBf16x8(q: usize, l: v128, h: v128, sv: v128): void {
  const a = i8x16.shuffle(l, h, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b = i8x16.shuffle(l, h, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  v128.store(q, f32x4.mul(i32x4.shl(i32x4.extend_low_i16x8_u(a), 16), sv));
  v128.store(q, f32x4.mul(i32x4.shl(i32x4.extend_high_i16x8_u(a), 16), sv), 16);
  v128.store(q, f32x4.mul(i32x4.shl(i32x4.extend_low_i16x8_u(b), 16), sv), 32);
  v128.store(q, f32x4.mul(i32x4.shl(i32x4.extend_high_i16x8_u(b), 16), sv), 48);
}
