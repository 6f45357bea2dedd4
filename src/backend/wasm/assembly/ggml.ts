// llama.cpp (GGUF) block formats: q8_0, q4_0, q4_k, q5_k, q6_k, laid out as ggml stores them (see
// src/tensor/weight.ts). One row decoder per format, two forms: with `store` it writes every element
// exactly as the reference dequantRow does (same f32 products; embed, the matmul weight block);
// without, it dots the quants with x in registers and applies each block's scale (and min) once (matvec).
import { f16, f16x4, hsum, madd } from './decode';
import { matmul_block_rows, matmul_rows } from './matmul';

/** Format codes (the host's GGML_CODE). */
const Q8_0 = 0;
const Q4_0 = 1;
const Q4_K = 2;
const Q5_K = 3;
const Q6_K = 4;

@inline function blockBytes(fmt: i32): i32 {
  return fmt == Q8_0 ? 34 : fmt == Q4_0 ? 18 : fmt == Q4_K ? 144 : fmt == Q5_K ? 176 : 210;
}

@inline function blockElements(fmt: i32): i32 {
  return fmt <= Q4_0 ? 32 : 256;
}

/**
 * 16 quants (byte lanes, signed or not) for the elements at p. store: q·d - m written at p (the
 * reference's products). Otherwise returns Σ q·x as a tree of independent products (no long add
 * chain); the caller applies d (and m) once per block.
 */
@inline function quads16(v: v128, signed: bool, d: v128, m: v128, p: usize, store: bool): v128 {
  const h0 = signed ? i16x8.extend_low_i8x16_s(v) : i16x8.extend_low_i8x16_u(v);
  const h1 = signed ? i16x8.extend_high_i8x16_s(v) : i16x8.extend_high_i8x16_u(v);
  const f0 = f32x4.convert_i32x4_s(signed ? i32x4.extend_low_i16x8_s(h0) : i32x4.extend_low_i16x8_u(h0));
  const f1 = f32x4.convert_i32x4_s(signed ? i32x4.extend_high_i16x8_s(h0) : i32x4.extend_high_i16x8_u(h0));
  const f2 = f32x4.convert_i32x4_s(signed ? i32x4.extend_low_i16x8_s(h1) : i32x4.extend_low_i16x8_u(h1));
  const f3 = f32x4.convert_i32x4_s(signed ? i32x4.extend_high_i16x8_s(h1) : i32x4.extend_high_i16x8_u(h1));
  if (store) {
    v128.store(p, f32x4.sub(f32x4.mul(f0, d), m));
    v128.store(p, f32x4.sub(f32x4.mul(f1, d), m), 16);
    v128.store(p, f32x4.sub(f32x4.mul(f2, d), m), 32);
    v128.store(p, f32x4.sub(f32x4.mul(f3, d), m), 48);
    return d;
  }
  return f32x4.add(madd(f1, v128.load(p, 16), f32x4.mul(f0, v128.load(p))), madd(f3, v128.load(p, 48), f32x4.mul(f2, v128.load(p, 32))));
}

/** The f16 at p in every lane (branch-free vector decode; the scalar one is a call with branches). */
@inline function f16Splat(p: usize): v128 {
  return f16x4(i32x4.splat(<i32>load<u16>(p)));
}

@inline function rowQ8_0(w: usize, io: usize, nb: i32, store: bool): v128 {
  let acc = f32x4.splat(0);
  const zero = f32x4.splat(0);
  for (let b = 0; b < nb; b++) {
    const q = w + <usize>b * 34;
    const o = io + (<usize>b << 7);
    const d = f16Splat(q);
    const s = f32x4.add(quads16(v128.load(q, 2), true, d, zero, o, store), quads16(v128.load(q, 18), true, d, zero, o + 64, store));
    if (!store) acc = madd(s, d, acc);
  }
  return acc;
}

@inline function rowQ4_0(w: usize, io: usize, nb: i32, store: bool): v128 {
  let acc = f32x4.splat(0);
  const zero = f32x4.splat(0);
  const eight = i8x16.splat(8);
  for (let b = 0; b < nb; b++) {
    const q = w + <usize>b * 18;
    const o = io + (<usize>b << 7);
    const d = f16Splat(q);
    const v = v128.load(q, 2);
    const lo = quads16(i8x16.sub(v128.and(v, i8x16.splat(15)), eight), true, d, zero, o, store);
    const s = f32x4.add(lo, quads16(i8x16.sub(i8x16.shr_u(v, 4), eight), true, d, zero, o + 64, store));
    if (!store) acc = madd(s, d, acc);
  }
  return acc;
}

/** 6-bit scale (min: false) or min (true) j of a K-quant super-block (get_scale_min_k4). */
@inline function kScale(sc: usize, j: i32, min: bool): u32 {
  const a = <u32>load<u8>(sc + j + 4);
  if (j < 4) return min ? a & 63 : <u32>load<u8>(sc + j) & 63;
  return min ? (a >> 4) | ((<u32>load<u8>(sc + j) >> 6) << 4) : (a & 15) | ((<u32>load<u8>(sc + j - 4) >> 6) << 4);
}

/**
 * q4_k (five = false) and q5_k: 8 sub-blocks of 32 with a 6-bit scale and min each. Dot form:
 * Σ (d1·q - m1)·x = d1·Σ q·x - m1·Σ x, with Σ x per 32 elements precomputed at xs.
 */
@inline function rowQ45K(w: usize, io: usize, xs: usize, nb: i32, store: bool, five: bool): v128 {
  let acc = f32x4.splat(0);
  const zero = f32x4.splat(0);
  const low = i8x16.splat(15), one = i8x16.splat(1);
  for (let b = 0; b < nb; b++) {
    const q = w + <usize>b * (five ? 176 : 144);
    const o = io + (<usize>b << 10);
    const d = f16(load<u16>(q)), dm = f16(load<u16>(q, 2));
    const sc = q + 4, qh = q + 16;
    let qs = q + (five ? 48 : 16);
    for (let j = 0; j < 4; j++) {
      const m1 = dm * <f32>kScale(sc, 2 * j, true), m2 = dm * <f32>kScale(sc, 2 * j + 1, true);
      const d1 = f32x4.splat(d * <f32>kScale(sc, 2 * j, false)), n1 = f32x4.splat(m1);
      const d2 = f32x4.splat(d * <f32>kScale(sc, 2 * j + 1, false)), n2 = f32x4.splat(m2);
      const a0 = v128.load(qs), a1 = v128.load(qs, 16);
      let l0 = v128.and(a0, low), l1 = v128.and(a1, low), h0 = i8x16.shr_u(a0, 4), h1 = i8x16.shr_u(a1, 4);
      if (five) {
        const b0 = v128.load(qh), b1 = v128.load(qh, 16);
        l0 = v128.or(l0, i8x16.shl(v128.and(i8x16.shr_u(b0, 2 * j), one), 4));
        l1 = v128.or(l1, i8x16.shl(v128.and(i8x16.shr_u(b1, 2 * j), one), 4));
        h0 = v128.or(h0, i8x16.shl(v128.and(i8x16.shr_u(b0, 2 * j + 1), one), 4));
        h1 = v128.or(h1, i8x16.shl(v128.and(i8x16.shr_u(b1, 2 * j + 1), one), 4));
      }
      const oj = o + (<usize>j << 8);
      const s1 = f32x4.add(quads16(l0, false, d1, n1, oj, store), quads16(l1, false, d1, n1, oj + 64, store));
      const s2 = f32x4.add(quads16(h0, false, d2, n2, oj + 128, store), quads16(h1, false, d2, n2, oj + 192, store));
      if (!store) {
        // Lane 0 carries the min terms: m·Σx of each sub-block.
        const k = xs + (<usize>(b * 8 + 2 * j) << 2);
        const mins = f32x4.replace_lane(zero, 0, -(m1 * load<f32>(k) + m2 * load<f32>(k, 4)));
        acc = f32x4.add(acc, madd(s2, d2, madd(s1, d1, mins)));
      }
      qs += 32;
    }
  }
  return acc;
}

/** q6_k: ql[128] | qh[64] | int8 scales[16] | d; 16 sub-blocks of 16, values 6 bits minus 32. */
@inline function rowQ6K(w: usize, io: usize, nb: i32, store: bool): v128 {
  let acc = f32x4.splat(0);
  const zero = f32x4.splat(0);
  const low = i8x16.splat(15), three = i8x16.splat(3), bias = i8x16.splat(32);
  for (let b = 0; b < nb; b++) {
    const q = w + <usize>b * 210;
    const d = f16(load<u16>(q, 208));
    for (let n = 0; n < 2; n++) {
      const ql = q + 64 * n, qh = q + 128 + 32 * n, sc = q + 192 + 8 * n;
      const o = io + (<usize>b << 10) + (<usize>n << 9);
      for (let g = 0; g < 2; g++) {
        const a = v128.load(ql + 16 * g), c = v128.load(ql + 32 + 16 * g), h = v128.load(qh + 16 * g);
        const e0 = i8x16.sub(v128.or(v128.and(a, low), i8x16.shl(v128.and(h, three), 4)), bias);
        const e1 = i8x16.sub(v128.or(v128.and(c, low), i8x16.shl(v128.and(i8x16.shr_u(h, 2), three), 4)), bias);
        const e2 = i8x16.sub(v128.or(i8x16.shr_u(a, 4), i8x16.shl(v128.and(i8x16.shr_u(h, 4), three), 4)), bias);
        const e3 = i8x16.sub(v128.or(i8x16.shr_u(c, 4), i8x16.shl(i8x16.shr_u(h, 6), 4)), bias);
        const s = sc + g;
        const og = o + (<usize>g << 6);
        const d0 = f32x4.splat(d * <f32>load<i8>(s)), d1 = f32x4.splat(d * <f32>load<i8>(s, 2));
        const d2 = f32x4.splat(d * <f32>load<i8>(s, 4)), d3 = f32x4.splat(d * <f32>load<i8>(s, 6));
        const t0 = quads16(e0, true, d0, zero, og, store);
        const t1 = quads16(e1, true, d1, zero, og + 128, store);
        const t2 = quads16(e2, true, d2, zero, og + 256, store);
        const t3 = quads16(e3, true, d3, zero, og + 384, store);
        if (!store) acc = f32x4.add(acc, f32x4.add(madd(t1, d1, f32x4.mul(t0, d0)), madd(t3, d3, f32x4.mul(t2, d2))));
      }
    }
  }
  return acc;
}

/** Rows [r0, r1) of w decoded to f32 at dst ([r1 - r0, cols]). */
function decodeRows(fmt: i32, r0: i32, r1: i32, dst: usize, w: usize, cols: i32): void {
  const nb = cols / blockElements(fmt);
  const rb = <usize>(nb * blockBytes(fmt));
  for (let r = r0; r < r1; r++) {
    const p = w + <usize>r * rb;
    const o = dst + (<usize>(r - r0) * <usize>cols << 2);
    if (fmt == Q8_0) rowQ8_0(p, o, nb, true);
    else if (fmt == Q4_0) rowQ4_0(p, o, nb, true);
    else if (fmt == Q4_K) rowQ45K(p, o, 0, nb, true, false);
    else if (fmt == Q5_K) rowQ45K(p, o, 0, nb, true, true);
    else rowQ6K(p, o, nb, true);
  }
}

/** Σ x over each 32 columns, for the K-quants' min terms (run by the host before matvec_ggml). */
export function ggml_block_sums(x: usize, xs: usize, cols: i32): void {
  for (let c = 0; c < cols; c += 32) {
    const p = x + (<usize>c << 2);
    let a = f32x4.add(v128.load(p), v128.load(p, 16));
    a = f32x4.add(a, f32x4.add(v128.load(p, 32), v128.load(p, 48)));
    a = f32x4.add(a, f32x4.add(v128.load(p, 64), v128.load(p, 80)));
    a = f32x4.add(a, f32x4.add(v128.load(p, 96), v128.load(p, 112)));
    store<f32>(xs + (<usize>(c >> 5) << 2), hsum(a));
  }
}

/**
 * Matrix-vector: out[r] = x · W[r, :] for rows [r0, r1), decoded in registers (one loop per format).
 * xs: ggml_block_sums of x (q4_k, q5_k).
 */
export function matvec_ggml(tid: i32, r0: i32, r1: i32, out: usize, x: usize, w: usize, cols: i32, fmt: i32, xs: usize): void {
  const nb = cols / blockElements(fmt);
  const rb = <usize>(nb * blockBytes(fmt));
  if (fmt == Q8_0) for (let r = r0; r < r1; r++) store<f32>(out + (<usize>r << 2), hsum(rowQ8_0(w + <usize>r * rb, x, nb, false)));
  else if (fmt == Q4_0) for (let r = r0; r < r1; r++) store<f32>(out + (<usize>r << 2), hsum(rowQ4_0(w + <usize>r * rb, x, nb, false)));
  else if (fmt == Q4_K) for (let r = r0; r < r1; r++) store<f32>(out + (<usize>r << 2), hsum(rowQ45K(w + <usize>r * rb, x, xs, nb, false, false)));
  else if (fmt == Q5_K) for (let r = r0; r < r1; r++) store<f32>(out + (<usize>r << 2), hsum(rowQ45K(w + <usize>r * rb, x, xs, nb, false, true)));
  else for (let r = r0; r < r1; r++) store<f32>(out + (<usize>r << 2), hsum(rowQ6K(w + <usize>r * rb, x, nb, false)));
}

/**
 * Matrix-matrix (n > 1 tokens): each block of rows is decoded once into the thread's scratch (the
 * size matmul.ts asks for), then multiplied by every token with the f32 kernel's register tile.
 */
export function matmul_ggml(tid: i32, r0: i32, r1: i32, out: usize, x: usize, w: usize, n: i32, rows: i32, cols: i32, scratch: usize, stride: i32, fmt: i32): void {
  const rb = matmul_block_rows(cols);
  const block = scratch + <usize>tid * <usize>stride;
  const decoded = block + (<usize>(rb * cols) << 2);
  for (let b = r0; b < r1; b += rb) {
    const m = min(rb, r1 - b);
    decodeRows(fmt, b, b + m, decoded, w, cols);
    matmul_rows(out + (<usize>b << 2), x, decoded, n, rows, cols, m, block);
  }
}

/** Embedding rows: out[i, :] = row ids[i] decoded (ids range-checked by the host). */
export function embed_ggml(tid: i32, s: i32, e: i32, out: usize, ids: usize, w: usize, fmt: i32, cols: i32): void {
  for (let i = s; i < e; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    decodeRows(fmt, id, id + 1, out + (<usize>i * <usize>cols << 2), w, cols);
  }
}
