// Row-wise and element-wise ops. Ranges [s, e) are rows for row ops and elements for element ops.
import { exp4, hsum } from './decode';

/** out[r] = gamma * (x[r] / rms(x[r])); the sum of squares accumulates in f64 as the reference does. */
export function rms_norm(tid: i32, s: i32, e: i32, out: usize, x: usize, gamma: usize, dim: i32, eps: f64): void {
  const bytes = <usize>dim << 2;
  const d4 = <usize>(dim & ~3) << 2;
  for (let r = s; r < e; r++) {
    const xr = x + <usize>r * bytes;
    const or = out + <usize>r * bytes;
    let a = f64x2.splat(0), b = f64x2.splat(0);
    for (let c: usize = 0; c < d4; c += 16) {
      const v = v128.load(xr + c);
      const lo = f64x2.promote_low_f32x4(v);
      const hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
      a = f64x2.add(a, f64x2.mul(lo, lo));
      b = f64x2.add(b, f64x2.mul(hi, hi));
    }
    const t = f64x2.add(a, b);
    let ss = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
    for (let c = d4; c < bytes; c += 4) {
      const v = <f64>load<f32>(xr + c);
      ss += v * v;
    }
    const inv = <f32>(1 / Math.sqrt(ss / dim + eps));
    const iv = f32x4.splat(inv);
    for (let c: usize = 0; c < d4; c += 16) {
      v128.store(or + c, f32x4.mul(v128.load(gamma + c), f32x4.mul(v128.load(xr + c), iv)));
    }
    for (let c = d4; c < bytes; c += 4) store<f32>(or + c, load<f32>(gamma + c) * (load<f32>(xr + c) * inv));
  }
}

/** Rotates rows [s, e) of x[n, heads, stride] in place; cos/sin per (row, frequency) shared by all heads. */
export function rope(tid: i32, s: i32, e: i32, x: usize, heads: i32, stride: i32, offset: i32, angles: usize, dim: i32, interleaved: i32): void {
  const half = dim >> 1;
  for (let i = s; i < e; i++) {
    const row = x + (<usize>i * <usize>heads * <usize>stride << 2);
    const cs = angles + (<usize>(i * half) << 3);
    for (let f = 0; f < half; f++) {
      const cos = load<f32>(cs + (<usize>f << 3));
      const sin = load<f32>(cs + (<usize>f << 3), 4);
      const ia = interleaved ? 2 * f : f;
      const ib = interleaved ? 2 * f + 1 : f + half;
      for (let h = 0; h < heads; h++) {
        const base = row + (<usize>(h * stride + offset) << 2);
        const pa = base + (<usize>ia << 2);
        const pb = base + (<usize>ib << 2);
        const x0 = load<f32>(pa);
        const x1 = load<f32>(pb);
        store<f32>(pa, x0 * cos - x1 * sin);
        store<f32>(pb, x1 * cos + x0 * sin);
      }
    }
  }
}

@inline function silu(g: f32): f32 {
  return g / (1 + Mathf.exp(-g));
}

/** silu(gate) * up, four lanes at a time (vector exp: the scalar one cost ~12 ns an element). */
export function swiglu(tid: i32, s: i32, e: i32, out: usize, gate: usize, up: usize): void {
  const one = f32x4.splat(1);
  let i = <usize>s;
  for (; i + 4 <= <usize>e; i += 4) {
    const o = i << 2;
    const g = v128.load(gate + o);
    v128.store(out + o, f32x4.mul(f32x4.div(g, f32x4.add(one, exp4(f32x4.neg(g)))), v128.load(up + o)));
  }
  for (; i < <usize>e; i++) {
    const o = i << 2;
    store<f32>(out + o, silu(load<f32>(gate + o)) * load<f32>(up + o));
  }
}

export function swiglu_clamped(tid: i32, s: i32, e: i32, out: usize, gate: usize, up: usize, limit: f32, alpha: f32): void {
  for (let i = <usize>s; i < <usize>e; i++) {
    const o = i << 2;
    const g = min(load<f32>(gate + o), limit);
    const u = min(max(load<f32>(up + o), -limit), limit);
    store<f32>(out + o, (u + 1) * g * (1 / (1 + Mathf.exp(-alpha * g))));
  }
}

/** x[r, :] += bias for rows [s, e). */
export function add_bias(tid: i32, s: i32, e: i32, x: usize, bias: usize, dim: i32): void {
  const bytes = <usize>dim << 2;
  const d4 = <usize>(dim & ~3) << 2;
  for (let r = s; r < e; r++) {
    const xr = x + <usize>r * bytes;
    for (let c: usize = 0; c < d4; c += 16) v128.store(xr + c, f32x4.add(v128.load(xr + c), v128.load(bias + c)));
    for (let c = d4; c < bytes; c += 4) store<f32>(xr + c, load<f32>(xr + c) + load<f32>(bias + c));
  }
}

/** out[i] = a[i] + sc * b[i] for elements [s, e). */
export function add_scaled(tid: i32, s: i32, e: i32, out: usize, a: usize, b: usize, sc: f32): void {
  const sv = f32x4.splat(sc);
  let i = <usize>s << 2;
  const end = <usize>e << 2;
  for (; i + 16 <= end; i += 16) v128.store(out + i, f32x4.add(v128.load(a + i), f32x4.mul(sv, v128.load(b + i))));
  for (; i < end; i += 4) store<f32>(out + i, load<f32>(a + i) + sc * load<f32>(b + i));
}

/** Softmax over each of rows [s, e) of x[n, dim], in place; the sum accumulates in f64. */
export function softmax(tid: i32, s: i32, e: i32, x: usize, dim: i32): void {
  const bytes = <usize>dim << 2;
  for (let r = s; r < e; r++) {
    const xr = x + <usize>r * bytes;
    let mx: f32 = -Infinity;
    for (let c: usize = 0; c < bytes; c += 4) mx = max(mx, load<f32>(xr + c));
    let sum: f64 = 0;
    for (let c: usize = 0; c < bytes; c += 4) {
      const v = Mathf.exp(load<f32>(xr + c) - mx);
      store<f32>(xr + c, v);
      sum += v;
    }
    const inv = <f32>(1 / sum);
    for (let c: usize = 0; c < bytes; c += 4) store<f32>(xr + c, load<f32>(xr + c) * inv);
  }
}
