// Attention with online softmax over tiles of keys: scores for a tile go to the thread's scratch,
// the running max/denominator rescale the output row once per tile. Work items are (query, head);
// key/value rows are kStride/vStride floats apart (MLA's values alias the latent prefix of its keys).
import { dot, madd } from './decode';

const TILE = 64;

/** Scratch bytes one thread needs for attention. */
export function attention_scratch_bytes(): i32 {
  return TILE * 4;
}

export function attention(
  tid: i32, s: i32, e: i32,
  q: usize, k: usize, v: usize, out: usize, nk: i32, numHeads: i32, group: i32, dk: i32, dv: i32,
  kStride: i32, vStride: i32, scale: f32, qPos: usize, kPos: usize, window: i32, sinks: usize, scratch: usize, stride: i32,
): void {
  const sc = scratch + <usize>tid * <usize>stride;
  const dv4 = <usize>(dv & ~3) << 2;
  const dvBytes = <usize>dv << 2;
  for (let item = s; item < e; item++) {
    const i = item / numHeads;
    const h = item % numHeads;
    const kvh = h / group;
    const qp = q + (<usize>item * <usize>dk << 2);
    const op = out + (<usize>item * <usize>dv << 2);
    const pos = load<i32>(qPos + (<usize>i << 2));
    let m: f32 = sinks ? load<f32>(sinks + (<usize>h << 2)) : -Infinity;
    let l: f32 = sinks ? 1 : 0;
    memory.fill(op, 0, dvBytes);
    for (let j0 = 0; j0 < nk; j0 += TILE) {
      const j1 = min(nk, j0 + TILE);
      let tmax: f32 = -Infinity;
      for (let j = j0; j < j1; j++) {
        const kp = load<i32>(kPos + (<usize>j << 2));
        let sj: f32 = -Infinity;
        if (kp <= pos && (window < 0 || pos - kp < window)) {
          sj = dot(qp, k + ((<usize>j * <usize>kStride + <usize>(kvh * dk)) << 2), dk) * scale;
          tmax = max(tmax, sj);
        }
        store<f32>(sc + (<usize>(j - j0) << 2), sj);
      }
      if (tmax == -Infinity) continue;
      if (tmax > m) {
        const corr = Mathf.exp(m - tmax);
        l *= corr;
        scaleRow(op, dv4, dvBytes, corr);
        m = tmax;
      }
      for (let j = j0; j < j1; j++) {
        const sj = load<f32>(sc + (<usize>(j - j0) << 2));
        if (sj == -Infinity) continue;
        const p = Mathf.exp(sj - m);
        l += p;
        const vp = v + ((<usize>j * <usize>vStride + <usize>(kvh * dv)) << 2);
        const pv = f32x4.splat(p);
        for (let c: usize = 0; c < dv4; c += 16) v128.store(op + c, madd(pv, v128.load(vp + c), v128.load(op + c)));
        for (let c = dv4; c < dvBytes; c += 4) store<f32>(op + c, load<f32>(op + c) + p * load<f32>(vp + c));
      }
    }
    scaleRow(op, dv4, dvBytes, l > 0 ? 1 / l : 0);
  }
}

@inline function scaleRow(op: usize, dv4: usize, dvBytes: usize, f: f32): void {
  const fv = f32x4.splat(f);
  for (let c: usize = 0; c < dv4; c += 16) v128.store(op + c, f32x4.mul(v128.load(op + c), fv));
  for (let c = dv4; c < dvBytes; c += 4) store<f32>(op + c, load<f32>(op + c) * f);
}
