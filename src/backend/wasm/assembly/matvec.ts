// Matrix-vector products (decode, one token): out[r] = Σ_c x[c] · W[r, c] for rows [r0, r1).
// Weights are decoded in registers; several rows per pass share every activation load.
// STREAMS: the f32/bf16 kernels take rows r0 + i + k·span (k = 0..7 for f32, 0..3 for bf16) in pass
// i, so each row pointer walks on through memory from pass to pass: long sequential streams that the
// hardware prefetchers follow, where adjacent short rows restart them every pass (measured: 7.2 vs
// 4.3 G weights/s on 2 threads for 1024-column bf16 rows streamed from DRAM).
// `xp` is x permuted to the lane order the decoder produces (see permute.ts); f32 uses x as is.
import { bf16, bf16Even, bf16Odd, e4m3, e4m3Bf16High, e4m3Bf16Low, e8m0, e2m1Hi, e2m1Lo, f16, f16x4, hsum, kHigh, kLowHalf, kNibble, lookup16, madd } from './decode';

export function matvec_f32_f32w(tid: i32, r0: i32, r1: i32, out: usize, x: usize, w: usize, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  const c4 = <usize>(cols & ~3) << 2;
  const end = <usize>cols << 2;
  const span = (r1 - r0) >> 3;
  const gap = <usize>span * rowBytes;
  const og = <usize>span << 2;
  for (let i = 0; i < span; i++) {
    const r = r0 + i;
    const p0 = w + <usize>r * rowBytes;
    const p1 = p0 + gap, p2 = p1 + gap, p3 = p2 + gap, p4 = p3 + gap, p5 = p4 + gap, p6 = p5 + gap, p7 = p6 + gap;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
    for (let c: usize = 0; c < c4; c += 16) {
      const xv = v128.load(x + c);
      a0 = madd(v128.load(p0 + c), xv, a0);
      a1 = madd(v128.load(p1 + c), xv, a1);
      a2 = madd(v128.load(p2 + c), xv, a2);
      a3 = madd(v128.load(p3 + c), xv, a3);
      a4 = madd(v128.load(p4 + c), xv, a4);
      a5 = madd(v128.load(p5 + c), xv, a5);
      a6 = madd(v128.load(p6 + c), xv, a6);
      a7 = madd(v128.load(p7 + c), xv, a7);
    }
    const o = out + (<usize>r << 2);
    store<f32>(o, hsum(a0) + tailF32(p0, x, c4, end));
    store<f32>(o + og, hsum(a1) + tailF32(p1, x, c4, end));
    store<f32>(o + 2 * og, hsum(a2) + tailF32(p2, x, c4, end));
    store<f32>(o + 3 * og, hsum(a3) + tailF32(p3, x, c4, end));
    store<f32>(o + 4 * og, hsum(a4) + tailF32(p4, x, c4, end));
    store<f32>(o + 5 * og, hsum(a5) + tailF32(p5, x, c4, end));
    store<f32>(o + 6 * og, hsum(a6) + tailF32(p6, x, c4, end));
    store<f32>(o + 7 * og, hsum(a7) + tailF32(p7, x, c4, end));
  }
  for (let r = r0 + 8 * span; r < r1; r++) {
    const p = w + <usize>r * rowBytes;
    let a = f32x4.splat(0);
    for (let c: usize = 0; c < c4; c += 16) a = madd(v128.load(p + c), v128.load(x + c), a);
    store<f32>(out + (<usize>r << 2), hsum(a) + tailF32(p, x, c4, end));
  }
}

/** Columns past the last whole vector (byte offsets [from, end)). */
@inline function tailF32(p: usize, x: usize, from: usize, end: usize): f32 {
  let s: f32 = 0;
  for (let c = from; c < end; c += 4) s += load<f32>(x + c) * load<f32>(p + c);
  return s;
}

/** Elements [from, cols) of a bf16 row (x in natural order there). */
@inline function tailBf16(p: usize, xp: usize, from: usize, cols: i32): f32 {
  let s: f32 = 0;
  for (let c = from; c < <usize>cols; c++) s += load<f32>(xp + (c << 2)) * bf16(load<u16>(p + (c << 1)));
  return s;
}

/** f16: same lane order as bf16 (xp: permutePairs); each half is rebuilt as f32 in integer lanes. */
export function matvec_f32_f16w(tid: i32, r0: i32, r1: i32, out: usize, xp: usize, w: usize, cols: i32): void {
  const rowBytes = <usize>cols << 1;
  const c8 = <usize>(cols & ~7);
  const lo = kLowHalf();
  let r = r0;
  for (; r + 2 <= r1; r += 2) {
    const p0 = w + <usize>r * rowBytes;
    const p1 = p0 + rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
    for (let c: usize = 0; c < c8; c += 8) {
      const xe = v128.load(xp + (c << 2));
      const xo = v128.load(xp + (c << 2), 16);
      const v0 = v128.load(p0 + (c << 1));
      const v1 = v128.load(p1 + (c << 1));
      a0 = madd(f16x4(v128.and(v0, lo)), xe, a0);
      b0 = madd(f16x4(i32x4.shr_u(v0, 16)), xo, b0);
      a1 = madd(f16x4(v128.and(v1, lo)), xe, a1);
      b1 = madd(f16x4(i32x4.shr_u(v1, 16)), xo, b1);
    }
    let s0 = hsum(f32x4.add(a0, b0)), s1 = hsum(f32x4.add(a1, b1));
    for (let c = c8; c < <usize>cols; c++) {
      const xv = load<f32>(xp + (c << 2));
      s0 += xv * f16(load<u16>(p0 + (c << 1)));
      s1 += xv * f16(load<u16>(p1 + (c << 1)));
    }
    store<f32>(out + (<usize>r << 2), s0);
    store<f32>(out + (<usize>r << 2), s1, 4);
  }
  for (; r < r1; r++) {
    const p = w + <usize>r * rowBytes;
    let a = f32x4.splat(0), b = f32x4.splat(0);
    for (let c: usize = 0; c < c8; c += 8) {
      const v = v128.load(p + (c << 1));
      a = madd(f16x4(v128.and(v, lo)), v128.load(xp + (c << 2)), a);
      b = madd(f16x4(i32x4.shr_u(v, 16)), v128.load(xp + (c << 2), 16), b);
    }
    let s = hsum(f32x4.add(a, b));
    for (let c = c8; c < <usize>cols; c++) s += load<f32>(xp + (c << 2)) * f16(load<u16>(p + (c << 1)));
    store<f32>(out + (<usize>r << 2), s);
  }
}

/**
 * Dot product of 16 fp8 bytes at p with xp's group of 16 (pair order, see permutePairs): the bytes
 * become bf16 by nibble lookups (e4m3Bf16High/Low), then f32 by the bf16 shift and mask. Measured
 * against decoding each lane to f32 by integer rebias: 0.93 -> 2.26 G weights/s (1 thread, cache-hot).
 */
@inline function fp8Dot16(p: usize, xg: usize, acc: v128): v128 {
  const v = v128.load(p);
  const h = e4m3Bf16High(v), l = e4m3Bf16Low(v);
  const a = i8x16.shuffle(l, h, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b = i8x16.shuffle(l, h, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  acc = madd(bf16Even(a), v128.load(xg), acc);
  acc = madd(bf16Odd(a), v128.load(xg, 16), acc);
  acc = madd(bf16Even(b), v128.load(xg, 32), acc);
  return madd(bf16Odd(b), v128.load(xg, 48), acc);
}

/**
 * fp8 e4m3 with f32 block scales [ceil(rows/br), ceil(cols/bc)]: each block's partial sum is scaled once.
 * xp: permutePairs when bc is a multiple of 16 (else x as is, and the scalar path runs).
 */
export function matvec_f32_fp8w(tid: i32, r0: i32, r1: i32, out: usize, xp: usize, w: usize, cols: i32, scales: usize, br: i32, bc: i32): void {
  const scaleCols = (cols + bc - 1) / bc;
  const simd = (bc & 15) == 0;
  const c16 = simd ? cols & ~15 : 0;
  for (let r = r0; r < r1; r += 2) {
    const two = r + 1 < r1;
    const p0 = w + <usize>r * <usize>cols;
    const p1 = two ? p0 + <usize>cols : p0;
    const sr0 = scales + (<usize>((r / br) * scaleCols) << 2);
    const sr1 = scales + (<usize>(((two ? r + 1 : r) / br) * scaleCols) << 2);
    let t0: f32 = 0, t1: f32 = 0;
    for (let b = 0; b < scaleCols; b++) {
      const cb = b * bc;
      const ce = min(cb + bc, cols);
      const cv = min(ce, c16);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
      let c = cb;
      for (; c < cv; c += 16) {
        const xg = xp + (<usize>c << 2);
        a0 = fp8Dot16(p0 + <usize>c, xg, a0);
        a1 = fp8Dot16(p1 + <usize>c, xg, a1);
      }
      let s0 = hsum(a0), s1 = hsum(a1);
      for (; c < ce; c++) {
        const xv = load<f32>(xp + (<usize>c << 2));
        s0 += xv * e4m3(load<u8>(p0 + <usize>c));
        s1 += xv * e4m3(load<u8>(p1 + <usize>c));
      }
      t0 += s0 * load<f32>(sr0 + (<usize>b << 2));
      t1 += s1 * load<f32>(sr1 + (<usize>b << 2));
    }
    store<f32>(out + (<usize>r << 2), t0);
    if (two) store<f32>(out + (<usize>r << 2), t1, 4);
  }
}

/**
 * One 32-element MXFP4 block of a row dotted with xp (lane order of permuteMxfp4). The table and mask
 * vectors come in registers (loaded once per call), and even and odd lanes sum in two chains.
 */
@inline function mxfp4Block(v: v128, xb: usize, nibble: v128, high: v128, tl: v128, th: v128): v128 {
  const lo = v128.and(v, nibble);
  const hi = v128.and(i16x8.shr_u(v, 4), nibble);
  const ll = lookup16(tl, lo), hl = lookup16(th, lo);
  const lh = lookup16(tl, hi), hh = lookup16(th, hi);
  // bf16 vectors: even elements 0..14, 16..30; odd elements 1..15, 17..31.
  const ea = i8x16.shuffle(ll, hl, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const eb = i8x16.shuffle(ll, hl, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const oa = i8x16.shuffle(lh, hh, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const ob = i8x16.shuffle(lh, hh, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  let s = f32x4.mul(bf16Even(ea), v128.load(xb));
  let t = f32x4.mul(v128.and(ea, high), v128.load(xb, 16));
  s = madd(bf16Even(eb), v128.load(xb, 32), s);
  t = madd(v128.and(eb, high), v128.load(xb, 48), t);
  s = madd(bf16Even(oa), v128.load(xb, 64), s);
  t = madd(v128.and(oa, high), v128.load(xb, 80), t);
  s = madd(bf16Even(ob), v128.load(xb, 96), s);
  return f32x4.add(s, madd(v128.and(ob, high), v128.load(xb, 112), t));
}

/**
 * MXFP4: 16 bytes + one E8M0 scale per 32 elements; E2M1 is decoded to bf16 by two table swizzles.
 * Constants held in registers, two product chains per block, and two blocks per step into two
 * accumulators. Measured, 2880 columns: 3.6 -> 4.1 G weights/s (1 thread, cache-hot) for the first
 * two, 5.4 -> 6.1 for the two blocks per step (a faster moment of the machine); 2 threads, 4 MiB:
 * 6.9 -> 7.9, then 7.1-9.2 -> 8.9-9.7.
 */
export function matvec_f32_mxfp4w(tid: i32, r0: i32, r1: i32, out: usize, xp: usize, w: usize, cols: i32, scales: usize): void {
  const blocks = <usize>(cols >> 5);
  const nibble = kNibble(), high = kHigh(), tl = e2m1Lo(), th = e2m1Hi();
  // One row per pass: the decode needs most registers, and sharing x loads gains nothing here.
  for (let r = r0; r < r1; r++) {
    const p = w + <usize>r * (blocks << 4);
    const sp = scales + <usize>r * blocks;
    let a = f32x4.splat(0), a2 = f32x4.splat(0);
    let b: usize = 0;
    for (; b + 1 < blocks; b += 2) {
      const d0 = mxfp4Block(v128.load(p + (b << 4)), xp + (b << 7), nibble, high, tl, th);
      const d1 = mxfp4Block(v128.load(p + (b << 4), 16), xp + (b << 7) + 128, nibble, high, tl, th);
      a = madd(d0, f32x4.splat(e8m0(load<u8>(sp + b))), a);
      a2 = madd(d1, f32x4.splat(e8m0(load<u8>(sp + b, 1))), a2);
    }
    if (b < blocks) a = madd(mxfp4Block(v128.load(p + (b << 4)), xp + (b << 7), nibble, high, tl, th), f32x4.splat(e8m0(load<u8>(sp + b))), a);
    store<f32>(out + (<usize>r << 2), hsum(f32x4.add(a, a2)));
  }
}

/**
 * bf16: one load gives 8 elements; a shift and a mask split them into even and odd lanes (xp:
 * permutePairs). Four rows a span apart per pass (see STREAMS), 8 columns per step, each row's two
 * multiply-adds chained straight into its accumulator, the mask held in a register and one address
 * walking from row to row: fewer instructions per weight than summing products apart from the
 * accumulator, and no spills (V8 issues a step's loads first, so wider steps spill). Measured
 * against that earlier form, 2 threads: 12.1 vs 10.1 G weights/s on a 4 MiB matrix held in L3, and
 * 1.07x on decode's 28-layer sequence streamed from DRAM (median of 10 alternating rounds).
 */
export function matvec_f32_bf16w(tid: i32, r0: i32, r1: i32, out: usize, xp: usize, w: usize, cols: i32): void {
  const rowBytes = <usize>cols << 1;
  const c8 = <usize>(cols & ~7);
  const b8 = c8 << 1;
  const span = (r1 - r0) >> 2;
  const gap = <usize>span * rowBytes;
  const og = <usize>span << 2;
  const hi = kHigh();
  for (let i = 0; i < span; i++) {
    const r = r0 + i;
    const p0 = w + <usize>r * rowBytes;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let wo: usize = 0; wo < b8; wo += 16) {
      const xa = xp + (wo << 1);
      const xe = v128.load(xa), xo = v128.load(xa, 16);
      let p = p0 + wo;
      const v0 = v128.load(p);
      p += gap;
      a0 = madd(v128.and(v0, hi), xo, madd(bf16Even(v0), xe, a0));
      const v1 = v128.load(p);
      p += gap;
      a1 = madd(v128.and(v1, hi), xo, madd(bf16Even(v1), xe, a1));
      const v2 = v128.load(p);
      p += gap;
      a2 = madd(v128.and(v2, hi), xo, madd(bf16Even(v2), xe, a2));
      const v3 = v128.load(p);
      a3 = madd(v128.and(v3, hi), xo, madd(bf16Even(v3), xe, a3));
    }
    const o = out + (<usize>r << 2);
    store<f32>(o, hsum(a0) + tailBf16(p0, xp, c8, cols));
    store<f32>(o + og, hsum(a1) + tailBf16(p0 + gap, xp, c8, cols));
    store<f32>(o + 2 * og, hsum(a2) + tailBf16(p0 + 2 * gap, xp, c8, cols));
    store<f32>(o + 3 * og, hsum(a3) + tailBf16(p0 + 3 * gap, xp, c8, cols));
  }
  for (let r = r0 + 4 * span; r < r1; r++) {
    const p = w + <usize>r * rowBytes;
    let a = f32x4.splat(0);
    for (let wo: usize = 0; wo < b8; wo += 16) {
      const v = v128.load(p + wo);
      a = madd(v128.and(v, hi), v128.load(xp + (wo << 1), 16), madd(bf16Even(v), v128.load(xp + (wo << 1)), a));
    }
    store<f32>(out + (<usize>r << 2), hsum(a) + tailBf16(p, xp, c8, cols));
  }
}

