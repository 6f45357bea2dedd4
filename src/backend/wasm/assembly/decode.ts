// Register-level decoders: packed weight elements -> f32x4 lanes. No denormal f32 is ever an
// operand (x86 handles those in microcode, ~100x slower), so subnormal codes take an exact fix-up.

/**
 * Vector constants, read from memory at each use: V8 does not hoist constant vectors out of loops
 * and rebuilds each one with 2-3 instructions, where a load from this table is one.
 */
const K = memory.data<u32>([
  0x0f0f0f0f, 0x0f0f0f0f, 0x0f0f0f0f, 0x0f0f0f0f, // 0: low nibbles
  0xffff0000, 0xffff0000, 0xffff0000, 0xffff0000, // 16: high halves
  0xc0800000, 0xc0804000, 0xc0800000, 0xc0804000, // 32: E2M1 -> second byte of its f32
  0x3f3f3f00, 0x40404040, 0xbfbfbf80, 0xc0c0c0c0, // 48: E2M1 -> high byte of its f32
  0x07f00000, 0x07f00000, 0x07f00000, 0x07f00000, // 64: e4m3 magnitude at bits 20..26
  0x07800000, 0x07800000, 0x07800000, 0x07800000, // 80: e4m3 exponent
  0x3c000000, 0x3c000000, 0x3c000000, 0x3c000000, // 96: (127 - 7) << 23
  0x00800000, 0x00800000, 0x00800000, 0x00800000, // 112: 1 << 23
  0x3c800000, 0x3c800000, 0x3c800000, 0x3c800000, // 128: 2^-6
  0x7fc00000, 0x7fc00000, 0x7fc00000, 0x7fc00000, // 144: NaN
  0x80000000, 0x80000000, 0x80000000, 0x80000000, // 160: sign
  0x00007fff, 0x00007fff, 0x00007fff, 0x00007fff, // 176: f16 magnitude
  0x0f800000, 0x0f800000, 0x0f800000, 0x0f800000, // 192: f16 exponent after << 13
  0x38000000, 0x38000000, 0x38000000, 0x38000000, // 208: (127 - 15) << 23
  0x38800000, 0x38800000, 0x38800000, 0x38800000, // 224: 2^-14
  0x00008000, 0x00008000, 0x00008000, 0x00008000, // 240: f16 sign
  0x0000ffff, 0x0000ffff, 0x0000ffff, 0x0000ffff, // 256: low halves
  0x4b40007f, 0x4b40007f, 0x4b40007f, 0x4b40007f, // 272: 2^23 + 2^22 + 127 as f32 (exp4's 2^n)
  0x4b400000, 0x4b400000, 0x4b400000, 0x4b400000, // 288: the bits of 2^23 + 2^22
  0x3f3e3d3c, 0x43424140, 0xbfbebdbc, 0xc3c2c1c0, // 304: e4m3 -> bf16 high byte, by the high nibble (normal codes)
  0x3b3b3b00, 0x3c3c3c3c, 0x00000000, 0x00000000, // 320: e4m3 subnormal -> bf16 high byte, by the mantissa
  0xc0800000, 0x60402000, 0x00000000, 0x00000000, // 336: e4m3 subnormal -> bf16 low byte, by the mantissa
  0x78787878, 0x78787878, 0x78787878, 0x78787878, // 352: e4m3 exponent bits of each byte
  0x80808080, 0x80808080, 0x80808080, 0x80808080, // 368: sign bit of each byte
  0x7f7f7f7f, 0x7f7f7f7f, 0x7f7f7f7f, 0x7f7f7f7f, // 384: magnitude bits of each byte
], 16);

@inline export function kNibble(): v128 { return v128.load(K, 0); }
@inline export function kHigh(): v128 { return v128.load(K, 16); }
@inline export function kLowHalf(): v128 { return v128.load(K, 256); }
@inline export function e2m1Lo(): v128 { return v128.load(K, 32); }
@inline export function e2m1Hi(): v128 { return v128.load(K, 48); }

/** a * b + c; fused where the runtime has relaxed SIMD (the kernels-relaxed.wasm build). */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

/** Table lookup with indices known to be < 16 (relaxed: one pshufb, no saturation fix-up). */
@inline export function lookup16(table: v128, idx: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(table, idx);
  return i8x16.swizzle(table, idx);
}

/** Sum of the four lanes. */
@inline export function hsum(v: v128): f32 {
  const s = f32x4.add(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** The four horizontal sums [Σa, Σb, Σc, Σd] in one vector (6 shuffles and 3 adds, not 4 hsums). */
@inline export function hsum4(a: v128, b: v128, c: v128, d: v128): v128 {
  const ab = f32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const cd = f32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return f32x4.add(i32x4.shuffle(ab, cd, 0, 1, 4, 5), i32x4.shuffle(ab, cd, 2, 3, 6, 7));
}

/** bf16 pairs: the low halves (elements 2j) as f32. */
@inline export function bf16Even(v: v128): v128 {
  return i32x4.shl(v, 16);
}

/** bf16 pairs: the high halves (elements 2j+1) as f32. */
@inline export function bf16Odd(v: v128): v128 {
  return v128.and(v, kHigh());
}

/** IEEE half in the low 16 bits of each lane (upper bits zero) -> f32. */
@inline export function f16x4(h: v128): v128 {
  const o = i32x4.shl(v128.and(h, v128.load(K, 176)), 13);
  const exp = v128.and(o, v128.load(K, 192));
  const isInf = i32x4.eq(exp, v128.load(K, 192));
  const isSub = i32x4.eq(exp, i32x4.splat(0));
  const bias = v128.load(K, 208);
  let b = i32x4.add(i32x4.add(o, bias), v128.and(isInf, bias));
  b = i32x4.add(b, v128.and(isSub, v128.load(K, 112)));
  // Subnormals: 2^-14 * (1 + m/1024) - 2^-14, exact.
  const f = f32x4.sub(b, v128.and(isSub, v128.load(K, 224)));
  return v128.or(f, i32x4.shl(v128.and(h, v128.load(K, 240)), 16));
}

/**
 * Sixteen float8_e4m3fn bytes -> the high bytes of their bf16 values (every e4m3 value is exact in
 * bf16, subnormals included, and none is a bf16 subnormal). Normal codes: sign | (exponent + 120) >> 1,
 * a lookup by the high nibble; exponent-0 codes: a lookup by the mantissa, with the sign; 0x7f/0xff: NaN.
 */
@inline export function e4m3Bf16High(v: v128): v128 {
  const lo = v128.and(v, kNibble());
  const normal = lookup16(v128.load(K, 304), v128.and(i16x8.shr_u(v, 4), kNibble()));
  const high = v128.bitselect(v128.or(lookup16(v128.load(K, 320), lo), v128.and(v, v128.load(K, 368))), normal, e4m3Zero(v));
  const mag = v128.load(K, 384);
  return v128.or(high, v128.and(i8x16.eq(v128.and(v, mag), mag), mag));
}

/** The low bytes to go with e4m3Bf16High: low nibble << 4 for normal codes, a lookup by the mantissa for exponent 0. */
@inline export function e4m3Bf16Low(v: v128): v128 {
  const lo = v128.and(v, kNibble());
  return v128.bitselect(lookup16(v128.load(K, 336), lo), i16x8.shl(lo, 4), e4m3Zero(v));
}

/** Bytes whose e4m3 exponent is 0 (zero and subnormals) as all-ones. */
@inline function e4m3Zero(v: v128): v128 {
  return i8x16.eq(v128.and(v, v128.load(K, 352)), i8x16.splat(0));
}

/** float8_e4m3fn byte held in bits 24..31 of each lane (lower bits ignored) -> f32. */
@inline export function e4m3x4(t: v128): v128 {
  const mag = v128.load(K, 64);
  const em = v128.and(i32x4.shr_u(t, 4), mag);
  const isSub = i32x4.eq(v128.and(em, v128.load(K, 80)), i32x4.splat(0));
  const isNan = i32x4.eq(em, mag);
  const b = i32x4.add(i32x4.add(em, v128.load(K, 96)), v128.and(isSub, v128.load(K, 112)));
  // Subnormals: 2^-6 * (1 + m/8) - 2^-6, exact.
  const f = f32x4.sub(b, v128.and(isSub, v128.load(K, 128)));
  return v128.or(v128.or(f, v128.and(isNan, v128.load(K, 144))), v128.and(t, v128.load(K, 160)));
}

/** Scalar forms of the same decoders (tails). */
@inline export function bf16(bits: u32): f32 {
  return reinterpret<f32>(bits << 16);
}

export function f16(h: u32): f32 {
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  let v: f32;
  if (e == 0) v = <f32>m * reinterpret<f32>(0x33800000); // m * 2^-24
  else if (e == 31) v = m ? NaN : Infinity;
  else v = reinterpret<f32>(((e + 112) << 23) | (m << 13));
  return h & 0x8000 ? -v : v;
}

export function e4m3(b: u32): f32 {
  const e = (b >> 3) & 0xf;
  const m = b & 7;
  let v: f32;
  if (e == 15 && m == 7) v = NaN;
  else if (e == 0) v = <f32>m * reinterpret<f32>(0x3b000000); // m * 2^-9
  else v = reinterpret<f32>(((e + 120) << 23) | (m << 20));
  return b & 0x80 ? -v : v;
}

/** E8M0 scale byte -> 2^(b - 127); 0 is the one subnormal, 255 overflows to Infinity as in the reference. */
@inline export function e8m0(b: u32): f32 {
  return b == 0 ? reinterpret<f32>(0x00400000) : reinterpret<f32>(b << 23);
}


/** Dot product of two f32 vectors of len elements. */
@inline export function dot(a: usize, b: usize, len: i32): f32 {
  const l4 = <usize>(len & ~3) << 2;
  let acc = f32x4.splat(0);
  for (let c: usize = 0; c < l4; c += 16) acc = madd(v128.load(a + c), v128.load(b + c), acc);
  let sdot = hsum(acc);
  for (let c = l4; c < (<usize>len << 2); c += 4) sdot += load<f32>(a + c) * load<f32>(b + c);
  return sdot;
}

/** exp4's constants (lanes splatted), loaded like K's. */
const KE = memory.data<f32>([
  -87.0, -87.0, -87.0, -87.0,
  88.0, 88.0, 88.0, 88.0,
  1.44269504, 1.44269504, 1.44269504, 1.44269504,
  0.5, 0.5, 0.5, 0.5,
  0.693359375, 0.693359375, 0.693359375, 0.693359375,
  -0.00021219444, -0.00021219444, -0.00021219444, -0.00021219444,
  0.000198756915, 0.000198756915, 0.000198756915, 0.000198756915,
  0.0013981999507, 0.0013981999507, 0.0013981999507, 0.0013981999507,
  0.0083334519073, 0.0083334519073, 0.0083334519073, 0.0083334519073,
  0.041665795894, 0.041665795894, 0.041665795894, 0.041665795894,
  0.16666665459, 0.16666665459, 0.16666665459, 0.16666665459,
  0.50000001201, 0.50000001201, 0.50000001201, 0.50000001201,
  1.0, 1.0, 1.0, 1.0,
], 16);

/**
 * e^x in four lanes (Cephes expf: x = n ln2 + r, degree-6 polynomial in r; relative error ~1e-7).
 * Below -87 (and -inf) the result is 0, never a denormal; above 88 it saturates at e^88.
 * 2^n is built by adding 2^23 + 2^22 + 127 (n lands in the low mantissa bits) and shifting.
 */
@inline export function exp4(x: v128): v128 {
  const lo = v128.load(KE, 0);
  const tiny = f32x4.lt(x, lo);
  const xc = f32x4.pmin(f32x4.pmax(x, lo), v128.load(KE, 16)); // pmin/pmax: one instruction each (min/max are ~8 in V8)
  const n = f32x4.floor(f32x4.add(f32x4.mul(xc, v128.load(KE, 32)), v128.load(KE, 48)));
  const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(n, v128.load(KE, 64))), f32x4.mul(n, v128.load(KE, 80)));
  let y = v128.load(KE, 96);
  y = f32x4.add(f32x4.mul(y, r), v128.load(KE, 112));
  y = f32x4.add(f32x4.mul(y, r), v128.load(KE, 128));
  y = f32x4.add(f32x4.mul(y, r), v128.load(KE, 144));
  y = f32x4.add(f32x4.mul(y, r), v128.load(KE, 160));
  y = f32x4.add(f32x4.mul(y, r), v128.load(KE, 176));
  y = f32x4.add(f32x4.add(f32x4.mul(y, f32x4.mul(r, r)), r), v128.load(KE, 192));
  const scale = i32x4.shl(i32x4.sub(f32x4.add(n, v128.load(K, 272)), v128.load(K, 288)), 23);
  return v128.andnot(f32x4.mul(y, scale), tiny);
}
