// Attention with online softmax over tiles of keys. Per tile: scores into the thread's scratch, the
// running max/denominator rescale the output row at most once, probabilities overwrite the scores,
// then the values are summed 32 dimensions at a time in registers (the output row is loaded and
// stored once per tile, not once per key). Work items are (query, head); key/value rows are
// kStride/vStride floats apart (MLA's values alias the latent prefix of its keys).
import { hsum, madd } from './decode';

const TILE = 64;

/** Scratch bytes one thread needs for attention. */
export function attention_scratch_bytes(): i32 {
  return TILE * 4;
}

/** q·k over len floats with four accumulators (one would serialise on the add latency). */
@inline function dot4(a: usize, b: usize, len: i32): f32 {
  const l16 = <usize>(len & ~15) << 2;
  const l4 = <usize>(len & ~3) << 2;
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  let c: usize = 0;
  for (; c < l16; c += 64) {
    s0 = madd(v128.load(a + c), v128.load(b + c), s0);
    s1 = madd(v128.load(a + c, 16), v128.load(b + c, 16), s1);
    s2 = madd(v128.load(a + c, 32), v128.load(b + c, 32), s2);
    s3 = madd(v128.load(a + c, 48), v128.load(b + c, 48), s3);
  }
  for (; c < l4; c += 16) s0 = madd(v128.load(a + c), v128.load(b + c), s0);
  let s = hsum(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  for (; c < (<usize>len << 2); c += 4) s += load<f32>(a + c) * load<f32>(b + c);
  return s;
}

export function attention(
  tid: i32, s: i32, e: i32,
  q: usize, k: usize, v: usize, out: usize, nk: i32, numHeads: i32, group: i32, dk: i32, dv: i32,
  kStride: i32, vStride: i32, scale: f32, qPos: usize, kPos: usize, window: i32, sinks: usize, scratch: usize, stride: i32,
): void {
  const sc = scratch + <usize>tid * <usize>stride;
  const dvBytes = <usize>dv << 2;
  const d32 = <usize>(dv & ~31) << 2;
  const d4 = <usize>(dv & ~3) << 2;
  const vRow = <usize>vStride << 2;
  for (let item = s; item < e; item++) {
    const i = item / numHeads;
    const h = item % numHeads;
    const kvh = h / group;
    const qp = q + (<usize>item * <usize>dk << 2);
    const op = out + (<usize>item * <usize>dv << 2);
    const kb = k + (<usize>(kvh * dk) << 2);
    const vb = v + (<usize>(kvh * dv) << 2);
    const pos = load<i32>(qPos + (<usize>i << 2));
    let m: f32 = sinks ? load<f32>(sinks + (<usize>h << 2)) : -Infinity;
    let l: f32 = sinks ? 1 : 0;
    memory.fill(op, 0, dvBytes);
    for (let j0 = 0; j0 < nk; j0 += TILE) {
      const j1 = min(nk, j0 + TILE);
      // 1. Scores of the visible keys.
      let tmax: f32 = -Infinity;
      for (let j = j0; j < j1; j++) {
        const kp = load<i32>(kPos + (<usize>j << 2));
        let sj: f32 = -Infinity;
        if (kp <= pos && (window < 0 || pos - kp < window)) {
          sj = dot4(qp, kb + (<usize>j * <usize>kStride << 2), dk) * scale;
          tmax = max(tmax, sj);
        }
        store<f32>(sc + (<usize>(j - j0) << 2), sj);
      }
      if (tmax == -Infinity) continue;
      // 2. A new maximum rescales what was summed so far.
      if (tmax > m) {
        const corr = Mathf.exp(m - tmax);
        l *= corr;
        scaleRow(op, d4, dvBytes, corr);
        m = tmax;
      }
      // 3. Probabilities (0 for hidden keys).
      for (let j = j0; j < j1; j++) {
        const a = sc + (<usize>(j - j0) << 2);
        const sj = load<f32>(a);
        const p: f32 = sj == -Infinity ? 0 : Mathf.exp(sj - m);
        l += p;
        store<f32>(a, p);
      }
      // 4. out += Σ_j p_j v_j, 32 dimensions at a time held in registers.
      const vt = vb + <usize>j0 * vRow;
      const n = j1 - j0;
      let c: usize = 0;
      for (; c < d32; c += 128) {
        const o = op + c;
        let a0 = v128.load(o), a1 = v128.load(o, 16), a2 = v128.load(o, 32), a3 = v128.load(o, 48);
        let a4 = v128.load(o, 64), a5 = v128.load(o, 80), a6 = v128.load(o, 96), a7 = v128.load(o, 112);
        for (let t = 0; t < n; t++) {
          const p = load<f32>(sc + (<usize>t << 2));
          if (p == 0) continue;
          const pv = f32x4.splat(p);
          const vp = vt + <usize>t * vRow + c;
          a0 = madd(pv, v128.load(vp), a0);
          a1 = madd(pv, v128.load(vp, 16), a1);
          a2 = madd(pv, v128.load(vp, 32), a2);
          a3 = madd(pv, v128.load(vp, 48), a3);
          a4 = madd(pv, v128.load(vp, 64), a4);
          a5 = madd(pv, v128.load(vp, 80), a5);
          a6 = madd(pv, v128.load(vp, 96), a6);
          a7 = madd(pv, v128.load(vp, 112), a7);
        }
        v128.store(o, a0); v128.store(o, a1, 16); v128.store(o, a2, 32); v128.store(o, a3, 48);
        v128.store(o, a4, 64); v128.store(o, a5, 80); v128.store(o, a6, 96); v128.store(o, a7, 112);
      }
      for (; c < d4; c += 16) {
        let a = v128.load(op + c);
        for (let t = 0; t < n; t++) a = madd(f32x4.splat(load<f32>(sc + (<usize>t << 2))), v128.load(vt + <usize>t * vRow + c), a);
        v128.store(op + c, a);
      }
      for (; c < dvBytes; c += 4) {
        let a = load<f32>(op + c);
        for (let t = 0; t < n; t++) a += load<f32>(sc + (<usize>t << 2)) * load<f32>(vt + <usize>t * vRow + c);
        store<f32>(op + c, a);
      }
    }
    scaleRow(op, d4, dvBytes, l > 0 ? 1 / l : 0);
  }
}

@inline function scaleRow(op: usize, d4: usize, dvBytes: usize, f: f32): void {
  const fv = f32x4.splat(f);
  for (let c: usize = 0; c < d4; c += 16) v128.store(op + c, f32x4.mul(v128.load(op + c), fv));
  for (let c = d4; c < dvBytes; c += 4) store<f32>(op + c, load<f32>(op + c) * f);
}
