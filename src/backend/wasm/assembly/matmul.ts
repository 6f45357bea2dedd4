// Matrix-matrix products (prefill, n > 1 tokens): out[i, r] = Σ_c x[i, c] · W[r, c].
// Each block of rows is decoded once to f32 and interleaved in the thread's scratch, then reused for
// every token by a 4-row x 2-token register tile.
import { hsum, madd } from './decode';
import { dequantRows, FMT_BF16, FMT_F16, FMT_F32, FMT_FP8, FMT_MXFP4 } from './dequant';

/** Rows per decoded block: about 64 KiB of f32 (L2-resident), at least 4. */
@inline function blockRows(cols: i32): i32 {
  return max(4, (16384 / cols) & ~3);
}

/** Rows per block of matmul_rows (what a caller decoding its own rows must keep to). */
export function matmul_block_rows(cols: i32): i32 {
  return blockRows(cols);
}

/** Scratch bytes one thread needs for matmul over `cols` columns: the interleaved block, then a decoded one. */
export function matmul_scratch_bytes(cols: i32): i32 {
  return 2 * blockRows(cols) * cols * 4;
}

function matmulRows(fmt: i32, tid: i32, r0: i32, r1: i32, out: usize, x: usize, w: usize, n: i32, rows: i32, cols: i32, scales: usize, br: i32, bc: i32, scratch: usize, stride: i32): void {
  const rb = blockRows(cols);
  const mine = scratch + <usize>tid * <usize>stride;
  const decoded = mine + (<usize>(rb * cols) << 2);
  for (let b = r0; b < r1; b += rb) {
    const m = min(rb, r1 - b);
    let src: usize;
    if (fmt == FMT_F32) src = w + (<usize>b * <usize>cols << 2);
    else {
      dequantRows(fmt, b, b + m, decoded, w, cols, scales, br, bc);
      src = decoded;
    }
    matmul_rows(out + (<usize>b << 2), x, src, n, rows, cols, m, mine);
  }
}

/**
 * out[i, 0..m) (row stride `rows`) = x[i, :] · src[0..m, :]ᵀ for every token i, src being m ≤
 * matmul_block_rows(cols) rows of f32; `block` (matmul_block_rows × cols floats, not src) receives
 * them interleaved first.
 */
export function matmul_rows(out: usize, x: usize, src: usize, n: i32, rows: i32, cols: i32, m: i32, block: usize): void {
  interleaveRows(block, src, m, cols);
  gemmBlock(out, x, block, n, rows, cols, m);
}

/**
 * src's rows [0, m) into dst as gemmBlock reads them: each group of 4 rows as one stream, every
 * 4-column step holding the 4 rows' 4 floats side by side ([c/4][row][4]: one pointer and constant
 * offsets in the inner loop, measured +5-9% over 4 row pointers), then the group's last cols % 4
 * columns ([row][cols % 4]); the last m % 4 rows stay row-major.
 */
function interleaveRows(dst: usize, src: usize, m: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  const c4 = <usize>(cols & ~3) << 2;
  const tail = rowBytes - c4;
  let d = dst;
  let j = 0;
  for (; j + 4 <= m; j += 4) {
    const s0 = src + <usize>j * rowBytes;
    const s1 = s0 + rowBytes, s2 = s1 + rowBytes, s3 = s2 + rowBytes;
    for (let c: usize = 0; c < c4; c += 16) {
      v128.store(d, v128.load(s0 + c));
      v128.store(d, v128.load(s1 + c), 16);
      v128.store(d, v128.load(s2 + c), 32);
      v128.store(d, v128.load(s3 + c), 48);
      d += 64;
    }
    if (tail) {
      memory.copy(d, s0 + c4, tail);
      memory.copy(d + tail, s1 + c4, tail);
      memory.copy(d + 2 * tail, s2 + c4, tail);
      memory.copy(d + 3 * tail, s3 + c4, tail);
      d += 4 * tail;
    }
  }
  memory.copy(d, src + <usize>j * rowBytes, <usize>(m - j) * rowBytes);
}

/** out[i, 0..m) (row stride `rows`) = x[i, :] · wb[0..m, :]ᵀ for every token i. */
function gemmBlock(out: usize, x: usize, wb: usize, n: i32, rows: i32, cols: i32, m: i32): void {
  const rowBytes = <usize>cols << 2;
  const c4 = <usize>(cols & ~3) << 2;
  const end = <usize>cols << 2;
  for (let i = 0; i < n; i += 2) {
    const two = i + 1 < n;
    const x0 = x + <usize>i * rowBytes;
    const x1 = two ? x0 + rowBytes : x0;
    const o0 = out + (<usize>i * <usize>rows << 2);
    const o1 = o0 + (<usize>rows << 2);
    let j = 0;
    for (; j + 4 <= m; j += 4) {
      const g = wb + <usize>j * rowBytes; // group j / 4 (interleaved: see interleaveRows)
      let p = g;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
      for (let c: usize = 0; c < c4; c += 16) {
        const u = v128.load(x0 + c);
        const v = v128.load(x1 + c);
        const w0 = v128.load(p), w1 = v128.load(p, 16), w2 = v128.load(p, 32), w3 = v128.load(p, 48);
        p += 64;
        a0 = madd(w0, u, a0);
        b0 = madd(w0, v, b0);
        a1 = madd(w1, u, a1);
        b1 = madd(w1, v, b1);
        a2 = madd(w2, u, a2);
        b2 = madd(w2, v, b2);
        a3 = madd(w3, u, a3);
        b3 = madd(w3, v, b3);
      }
      let s0 = hsum(a0), s1 = hsum(a1), s2 = hsum(a2), s3 = hsum(a3);
      let t0 = hsum(b0), t1 = hsum(b1), t2 = hsum(b2), t3 = hsum(b3);
      // The group's last cols % 4 columns: [row][cols % 4] after its interleaved part.
      const tail = end - c4;
      const t = g + (c4 << 2) - c4;
      for (let c = c4; c < end; c += 4) {
        const u = load<f32>(x0 + c), v = load<f32>(x1 + c);
        const w0 = load<f32>(t + c), w1 = load<f32>(t + tail + c), w2 = load<f32>(t + 2 * tail + c), w3 = load<f32>(t + 3 * tail + c);
        s0 += w0 * u; s1 += w1 * u; s2 += w2 * u; s3 += w3 * u;
        t0 += w0 * v; t1 += w1 * v; t2 += w2 * v; t3 += w3 * v;
      }
      const q0 = o0 + (<usize>j << 2);
      store<f32>(q0, s0); store<f32>(q0, s1, 4); store<f32>(q0, s2, 8); store<f32>(q0, s3, 12);
      if (two) {
        const q1 = o1 + (<usize>j << 2);
        store<f32>(q1, t0); store<f32>(q1, t1, 4); store<f32>(q1, t2, 8); store<f32>(q1, t3, 12);
      }
    }
    for (; j < m; j++) {
      const p = wb + <usize>j * rowBytes;
      let a = f32x4.splat(0), b = f32x4.splat(0);
      for (let c: usize = 0; c < c4; c += 16) {
        const wv = v128.load(p + c);
        a = madd(wv, v128.load(x0 + c), a);
        b = madd(wv, v128.load(x1 + c), b);
      }
      let s = hsum(a), t = hsum(b);
      for (let c = c4; c < end; c += 4) {
        const wv = load<f32>(p + c);
        s += wv * load<f32>(x0 + c);
        t += wv * load<f32>(x1 + c);
      }
      store<f32>(o0 + (<usize>j << 2), s);
      if (two) store<f32>(o1 + (<usize>j << 2), t);
    }
  }
}

export function matmul_f32_f32w(tid: i32, r0: i32, r1: i32, out: usize, x: usize, w: usize, n: i32, rows: i32, cols: i32, scratch: usize, stride: i32): void {
  matmulRows(FMT_F32, tid, r0, r1, out, x, w, n, rows, cols, 0, 1, 1, scratch, stride);
}
export function matmul_f32_f16w(tid: i32, r0: i32, r1: i32, out: usize, x: usize, w: usize, n: i32, rows: i32, cols: i32, scratch: usize, stride: i32): void {
  matmulRows(FMT_F16, tid, r0, r1, out, x, w, n, rows, cols, 0, 1, 1, scratch, stride);
}
export function matmul_f32_bf16w(tid: i32, r0: i32, r1: i32, out: usize, x: usize, w: usize, n: i32, rows: i32, cols: i32, scratch: usize, stride: i32): void {
  matmulRows(FMT_BF16, tid, r0, r1, out, x, w, n, rows, cols, 0, 1, 1, scratch, stride);
}
export function matmul_f32_fp8w(tid: i32, r0: i32, r1: i32, out: usize, x: usize, w: usize, n: i32, rows: i32, cols: i32, scratch: usize, stride: i32, scales: usize, br: i32, bc: i32): void {
  matmulRows(FMT_FP8, tid, r0, r1, out, x, w, n, rows, cols, scales, br, bc, scratch, stride);
}
export function matmul_f32_mxfp4w(tid: i32, r0: i32, r1: i32, out: usize, x: usize, w: usize, n: i32, rows: i32, cols: i32, scratch: usize, stride: i32, scales: usize): void {
  matmulRows(FMT_MXFP4, tid, r0, r1, out, x, w, n, rows, cols, scales, 1, 1, scratch, stride);
}

/** Embedding rows: out[i, :] = row ids[i] of the table, decoded (ids already range-checked by the host). */
export function embed_rows(tid: i32, s: i32, e: i32, out: usize, ids: usize, w: usize, fmt: i32, cols: i32, scales: usize, br: i32, bc: i32): void {
  for (let i = s; i < e; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    dequantRows(fmt, id, id + 1, out + (<usize>i * <usize>cols << 2), w, cols, scales, br, bc);
  }
}
