// Attention with online softmax over tiles of keys. A work item is a block of up to 4 (query, head)
// rows that read the same kv head (the heads of a GQA group, then the next queries), so every key
// and value row loaded is used for 4 rows: scores 4 dot products per key load, values summed 8
// dimensions x 4 rows at a time in registers. Per tile the running max/denominator rescale an
// output row at most once. Key/value rows are kStride/vStride floats apart and kv heads kHead/vHead
// floats apart (a head-major cache keeps one head's keys contiguous; MLA's values alias the
// latent prefix of its keys).
import { exp4, hsum, hsum4, madd } from './decode';

const TILE = 64;
/** Bytes between touch loads: every cache line (measured, 28 cold layers of 160 keys: 64 B ~200 µs per layer, one per 4 KiB page ~235, none ~300). */
const TOUCH_STEP: usize = 64;
/** Rows per work item. */
const RB = 4;

/** Scratch bytes one thread needs for attention: RB rows of TILE scores. */
export function attention_scratch_bytes(): i32 {
  return RB * TILE * 4;
}

/** Work items for nq queries: RB-row blocks of each kv head's nq * group rows. */
export function attention_items(nq: i32, numKvHeads: i32, group: i32): i32 {
  return numKvHeads * ((nq * group + RB - 1) / RB);
}

export function attention(
  tid: i32, s: i32, e: i32,
  q: usize, k: usize, v: usize, out: usize, nk: i32, numHeads: i32, group: i32, dk: i32, dv: i32,
  kStride: i32, vStride: i32, scale: f32, qPos: usize, kPos: usize, window: i32, sinks: usize, scratch: usize, stride: i32, nq: i32,
  kHead: i32, vHead: i32,
): void {
  const sc = scratch + <usize>tid * <usize>stride;
  const rowsPerKv = nq * group;
  const blocks = (rowsPerKv + RB - 1) / RB;
  const touch = nq == 1;
  for (let item = s; item < e; item++) {
    const g = item / blocks;
    const r0 = (item % blocks) * RB;
    const nb = min(RB, rowsPerKv - r0);
    // Two-row blocks (a decode step's GQA pair) skip the work of rows 2 and 3 entirely.
    if (nb > 2) attendBlock(4, touch, g, r0, nb, sc, q, k, v, out, nk, numHeads, group, dk, dv, kStride, vStride, scale, qPos, kPos, window, sinks, kHead, vHead);
    else attendBlock(2, touch, g, r0, nb, sc, q, k, v, out, nk, numHeads, group, dk, dv, kStride, vStride, scale, qPos, kPos, window, sinks, kHead, vHead);
  }
}

/** One block of R (a constant: 2 or 4) rows, nb of them real; rows past nb repeat row 0 (computed, never stored). */
@inline function attendBlock(
  R: i32, touch: bool, g: i32, r0: i32, nb: i32, sc: usize,
  q: usize, k: usize, v: usize, out: usize, nk: i32, numHeads: i32, group: i32, dk: i32, dv: i32,
  kStride: i32, vStride: i32, scale: f32, qPos: usize, kPos: usize, window: i32, sinks: usize, kHead: i32, vHead: i32,
): void {
  const dvBytes = <usize>dv << 2;
  const dkBytes = <usize>dk << 2;
  const i0 = r0 / group, h0 = g * group + r0 % group;
  const ra = r0 + 1 < r0 + nb ? r0 + 1 : r0, rb = r0 + 2 < r0 + nb ? r0 + 2 : r0, rc = r0 + 3 < r0 + nb ? r0 + 3 : r0;
  const i1 = ra / group, h1 = g * group + ra % group;
  const i2 = rb / group, h2 = g * group + rb % group;
  const i3 = rc / group, h3 = g * group + rc % group;
  const q0 = q + (<usize>(i0 * numHeads + h0) * dkBytes), q1 = q + (<usize>(i1 * numHeads + h1) * dkBytes);
  const q2 = q + (<usize>(i2 * numHeads + h2) * dkBytes), q3 = q + (<usize>(i3 * numHeads + h3) * dkBytes);
  const o0 = out + (<usize>(i0 * numHeads + h0) * dvBytes), o1 = out + (<usize>(i1 * numHeads + h1) * dvBytes);
  const o2 = out + (<usize>(i2 * numHeads + h2) * dvBytes), o3 = out + (<usize>(i3 * numHeads + h3) * dvBytes);
  const pos0 = load<i32>(qPos + (<usize>i0 << 2)), pos1 = load<i32>(qPos + (<usize>i1 << 2));
  const pos2 = load<i32>(qPos + (<usize>i2 << 2)), pos3 = load<i32>(qPos + (<usize>i3 << 2));
  const kb = k + (<usize>(g * kHead) << 2);
  const vb = v + (<usize>(g * vHead) << 2);
  const pmin = min(min(pos0, pos1), min(pos2, pos3)), pmax = max(max(pos0, pos1), max(pos2, pos3));
  const posV = i32x4(pos0, pos1, pos2, pos3);
  const scaleV = f32x4.splat(scale);
  let m0: f32 = -Infinity, m1: f32 = -Infinity, m2: f32 = -Infinity, m3: f32 = -Infinity;
  let l0: f32 = 0, l1: f32 = 0, l2: f32 = 0, l3: f32 = 0;
  if (sinks) {
    m0 = load<f32>(sinks + (<usize>h0 << 2)); m1 = load<f32>(sinks + (<usize>h1 << 2));
    m2 = load<f32>(sinks + (<usize>h2 << 2)); m3 = load<f32>(sinks + (<usize>h3 << 2));
    l0 = 1; l1 = 1; l2 = 1; l3 = 1;
  }
  memory.fill(o0, 0, dvBytes);
  memory.fill(o1, 0, dvBytes);
  if (R == 4) {
    memory.fill(o2, 0, dvBytes);
    memory.fill(o3, 0, dvBytes);
  }
  const s0 = sc, s1 = sc + TILE * 4, s2 = sc + 2 * TILE * 4, s3 = sc + 3 * TILE * 4;
  let touched: u32 = 0;
  for (let j0 = 0; j0 < nk; j0 += TILE) {
    const j1 = min(nk, j0 + TILE);
    // A tile no row sees is skipped; in one every row sees whole (most of a causal prefill), the
    // per-key visibility tests are skipped.
    let kmin = i32.MAX_VALUE, kmax = i32.MIN_VALUE;
    for (let j = j0; j < j1; j++) {
      const kp = load<i32>(kPos + (<usize>j << 2));
      kmin = min(kmin, kp);
      kmax = max(kmax, kp);
    }
    if (kmin > pmax || (window >= 0 && pmin - kmax >= window)) continue;
    const all = kmax <= pmin && (window < 0 || pmax - kmin < window);
    // 0. A load per cache line of this tile's values and the next tile's keys, before the passes
    // that use them: the cache is cold after a token's weight stream, and these independent misses
    // overlap where the passes' own loads would wait in turn (wasm has no prefetch instruction).
    // Each range ends at its last row's own data (row-major rows hold other heads past it).
    // Decode only: a prefill's blocks find the keys warm from the block before, and there the touch
    // loads cost a third of the op (512 queries: 33 -> 22.5 ms per layer without them).
    if (touch) touched += touchLines(vb + (<usize>j0 * <usize>vStride << 2), (<usize>(j1 - j0 - 1) * <usize>vStride << 2) + dvBytes);
    if (touch && j1 < nk) touched += touchLines(kb + (<usize>j1 * <usize>kStride << 2), (<usize>(min(nk, j1 + TILE) - j1 - 1) * <usize>kStride << 2) + dkBytes);
    // 1. Scores of the keys each row sees (-inf where hidden).
    let t0: f32 = -Infinity, t1: f32 = -Infinity, t2: f32 = -Infinity, t3: f32 = -Infinity;
    let jStart = j0;
    if (R == 2) {
      // A decode step's GQA pair: two keys per step, so eight independent accumulation chains
      // keep the multiply-add units busy (one key leaves them waiting on each add's latency).
      const d4 = <usize>(dk & ~3) << 2;
      const d8 = <usize>(dk & ~7) << 2;
      // Lanes [row 0 key a, row 1 key a, row 0 key b, row 1 key b] keep scale, mask and max in one vector.
      const pos2v = i32x4(pos0, pos1, pos0, pos1);
      let tv = f32x4(t0, t1, t0, t1);
      for (; jStart + 1 < j1; jStart += 2) {
        const j = jStart;
        const kpa = load<i32>(kPos + (<usize>j << 2)), kpb = load<i32>(kPos + (<usize>j << 2), 4);
        const at = <usize>(j - j0) << 2;
        let vis = i32x4.splat(-1);
        if (!all) {
          vis = visibleLanes(i32x4(kpa, kpa, kpb, kpb), pos2v, window);
          if (!v128.any_true(vis)) {
            store<f32>(s0 + at, -Infinity); store<f32>(s0 + at, -Infinity, 4);
            store<f32>(s1 + at, -Infinity); store<f32>(s1 + at, -Infinity, 4);
            continue;
          }
        }
        const ka = kb + (<usize>j * <usize>kStride << 2);
        const kc = ka + (<usize>kStride << 2);
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), b0 = f32x4.splat(0), b1 = f32x4.splat(0);
        let c0 = f32x4.splat(0), c1 = f32x4.splat(0), e0 = f32x4.splat(0), e1 = f32x4.splat(0);
        let c: usize = 0;
        for (; c < d8; c += 32) {
          const qa = v128.load(q0 + c), qb = v128.load(q0 + c, 16), qc = v128.load(q1 + c), qd = v128.load(q1 + c, 16);
          const ke = v128.load(ka + c), kf = v128.load(ka + c, 16), kg = v128.load(kc + c), kh = v128.load(kc + c, 16);
          a0 = madd(qa, ke, a0); b0 = madd(qb, kf, b0);
          a1 = madd(qc, ke, a1); b1 = madd(qd, kf, b1);
          c0 = madd(qa, kg, c0); e0 = madd(qb, kh, e0);
          c1 = madd(qc, kg, c1); e1 = madd(qd, kh, e1);
        }
        if (c < d4) {
          const qa = v128.load(q0 + c), qc = v128.load(q1 + c);
          const ke = v128.load(ka + c), kg = v128.load(kc + c);
          a0 = madd(qa, ke, a0); a1 = madd(qc, ke, a1);
          c0 = madd(qa, kg, c0); c1 = madd(qc, kg, c1);
          c += 16;
        }
        let sv = hsum4(f32x4.add(a0, b0), f32x4.add(a1, b1), f32x4.add(c0, e0), f32x4.add(c1, e1));
        for (; c < dkBytes; c += 4) {
          const x0 = load<f32>(q0 + c), x1 = load<f32>(q1 + c), ya = load<f32>(ka + c), yb = load<f32>(kc + c);
          sv = f32x4.add(sv, f32x4.mul(f32x4(x0, x1, x0, x1), f32x4(ya, ya, yb, yb)));
        }
        sv = v128.bitselect(f32x4.mul(sv, scaleV), f32x4.splat(-Infinity), vis);
        tv = f32x4.pmax(tv, sv);
        store<f32>(s0 + at, f32x4.extract_lane(sv, 0)); store<f32>(s1 + at, f32x4.extract_lane(sv, 1));
        store<f32>(s0 + at, f32x4.extract_lane(sv, 2), 4); store<f32>(s1 + at, f32x4.extract_lane(sv, 3), 4);
      }
      t0 = max(f32x4.extract_lane(tv, 0), f32x4.extract_lane(tv, 2));
      t1 = max(f32x4.extract_lane(tv, 1), f32x4.extract_lane(tv, 3));
    }
    if (R == 4) {
      // Four rows (a prefill's queries, or a wide GQA group): two keys per step, one accumulator per
      // (row, key), so each q load feeds two multiply-adds and each key load four. Each key's four
      // scores then stay one vector (scale, mask, running max: no scalar f32 max, which V8 branches on).
      const d4 = <usize>(dk & ~3) << 2;
      let tv = f32x4(t0, t1, t2, t3);
      for (; jStart + 1 < j1; jStart += 2) {
        const j = jStart;
        const kpa = load<i32>(kPos + (<usize>j << 2)), kpb = load<i32>(kPos + (<usize>j << 2), 4);
        const at = <usize>(j - j0) << 2;
        let visA = i32x4.splat(-1), visB = i32x4.splat(-1);
        if (!all) {
          visA = visibleLanes(i32x4.splat(kpa), posV, window);
          visB = visibleLanes(i32x4.splat(kpb), posV, window);
          if (!v128.any_true(v128.or(visA, visB))) {
            const hidden = f32x4.splat(-Infinity);
            storeLanes(s0, s1, s2, s3, at, hidden);
            storeLanes(s0, s1, s2, s3, at + 4, hidden);
            continue;
          }
        }
        const ka = kb + (<usize>j * <usize>kStride << 2);
        const kc = ka + (<usize>kStride << 2);
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
        let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
        for (let c: usize = 0; c < d4; c += 16) {
          const x = v128.load(ka + c), y = v128.load(kc + c);
          const u0 = v128.load(q0 + c);
          a0 = madd(u0, x, a0); c0 = madd(u0, y, c0);
          const u1 = v128.load(q1 + c);
          a1 = madd(u1, x, a1); c1 = madd(u1, y, c1);
          const u2 = v128.load(q2 + c);
          a2 = madd(u2, x, a2); c2 = madd(u2, y, c2);
          const u3 = v128.load(q3 + c);
          a3 = madd(u3, x, a3); c3 = madd(u3, y, c3);
        }
        let sa = hsum4(a0, a1, a2, a3), sb = hsum4(c0, c1, c2, c3);
        for (let c = d4; c < dkBytes; c += 4) {
          const qc = f32x4(load<f32>(q0 + c), load<f32>(q1 + c), load<f32>(q2 + c), load<f32>(q3 + c));
          sa = f32x4.add(sa, f32x4.mul(qc, f32x4.splat(load<f32>(ka + c))));
          sb = f32x4.add(sb, f32x4.mul(qc, f32x4.splat(load<f32>(kc + c))));
        }
        const minus = f32x4.splat(-Infinity);
        sa = v128.bitselect(f32x4.mul(sa, scaleV), minus, visA);
        sb = v128.bitselect(f32x4.mul(sb, scaleV), minus, visB);
        tv = f32x4.pmax(tv, f32x4.pmax(sa, sb));
        storeLanes(s0, s1, s2, s3, at, sa);
        storeLanes(s0, s1, s2, s3, at + 4, sb);
      }
      t0 = f32x4.extract_lane(tv, 0); t1 = f32x4.extract_lane(tv, 1);
      t2 = f32x4.extract_lane(tv, 2); t3 = f32x4.extract_lane(tv, 3);
    }
    for (let j = jStart; j < j1; j++) {
      const kp = load<i32>(kPos + (<usize>j << 2));
      const v0 = all || visible(kp, pos0, window), v1 = all || visible(kp, pos1, window);
      const v2 = R == 4 && (all || visible(kp, pos2, window)), v3 = R == 4 && (all || visible(kp, pos3, window));
      const at = <usize>(j - j0) << 2;
      let d0: f32 = -Infinity, d1: f32 = -Infinity, d2: f32 = -Infinity, d3: f32 = -Infinity;
      if (v0 | v1 | v2 | v3) {
        const kr = kb + (<usize>j * <usize>kStride << 2);
        // Two accumulators per row: one per row would wait on the add latency at every step.
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
        let b0 = f32x4.splat(0), b1 = f32x4.splat(0), b2 = f32x4.splat(0), b3 = f32x4.splat(0);
        const d8 = <usize>(dk & ~7) << 2;
        const d4 = <usize>(dk & ~3) << 2;
        let c: usize = 0;
        for (; c < d8; c += 32) {
          const kv = v128.load(kr + c), kw = v128.load(kr + c, 16);
          a0 = madd(v128.load(q0 + c), kv, a0);
          b0 = madd(v128.load(q0 + c, 16), kw, b0);
          a1 = madd(v128.load(q1 + c), kv, a1);
          b1 = madd(v128.load(q1 + c, 16), kw, b1);
          if (R == 4) {
            a2 = madd(v128.load(q2 + c), kv, a2);
            b2 = madd(v128.load(q2 + c, 16), kw, b2);
            a3 = madd(v128.load(q3 + c), kv, a3);
            b3 = madd(v128.load(q3 + c, 16), kw, b3);
          }
        }
        if (c < d4) {
          const kv = v128.load(kr + c);
          a0 = madd(v128.load(q0 + c), kv, a0);
          a1 = madd(v128.load(q1 + c), kv, a1);
          if (R == 4) {
            a2 = madd(v128.load(q2 + c), kv, a2);
            a3 = madd(v128.load(q3 + c), kv, a3);
          }
        }
        a0 = f32x4.add(a0, b0);
        a1 = f32x4.add(a1, b1);
        if (R == 4) {
          a2 = f32x4.add(a2, b2);
          a3 = f32x4.add(a3, b3);
        }
        let e0 = hsum(a0), e1 = hsum(a1), e2 = hsum(a2), e3 = hsum(a3);
        for (let c = d4; c < dkBytes; c += 4) {
          const kx = load<f32>(kr + c);
          e0 += load<f32>(q0 + c) * kx; e1 += load<f32>(q1 + c) * kx;
          if (R == 4) { e2 += load<f32>(q2 + c) * kx; e3 += load<f32>(q3 + c) * kx; }
        }
        if (v0) { d0 = e0 * scale; t0 = max(t0, d0); }
        if (v1) { d1 = e1 * scale; t1 = max(t1, d1); }
        if (v2) { d2 = e2 * scale; t2 = max(t2, d2); }
        if (v3) { d3 = e3 * scale; t3 = max(t3, d3); }
      }
      store<f32>(s0 + at, d0); store<f32>(s1 + at, d1);
      if (R == 4) { store<f32>(s2 + at, d2); store<f32>(s3 + at, d3); }
    }
    if (t0 == -Infinity && t1 == -Infinity && (R == 2 || (t2 == -Infinity && t3 == -Infinity))) continue;
    // 2. A new maximum rescales what was summed so far (rows repeating row 0 leave it alone);
    // probabilities replace the scores.
    if (t0 > m0) { const c = Mathf.exp(m0 - t0); l0 *= c; scaleRow(o0, dvBytes, c); m0 = t0; }
    if (t1 > m1) { const c = Mathf.exp(m1 - t1); l1 *= c; if (nb > 1) scaleRow(o1, dvBytes, c); m1 = t1; }
    if (t2 > m2) { const c = Mathf.exp(m2 - t2); l2 *= c; if (nb > 2) scaleRow(o2, dvBytes, c); m2 = t2; }
    if (t3 > m3) { const c = Mathf.exp(m3 - t3); l3 *= c; if (nb > 3) scaleRow(o3, dvBytes, c); m3 = t3; }
    const n = j1 - j0;
    l0 += probabilities(s0, n, m0);
    if (nb > 1) l1 += probabilities(s1, n, m1);
    if (nb > 2) l2 += probabilities(s2, n, m2);
    if (nb > 3) l3 += probabilities(s3, n, m3);
    // 3. out_b += Σ_j p_bj v_j, 8 dimensions x 4 rows held in registers.
    const vt = vb + (<usize>j0 * <usize>vStride << 2);
    const vRow = <usize>vStride << 2;
    const d8 = <usize>(dv & ~7) << 2;
    let c: usize = 0;
    if (R == 2) {
      // A decode step's pair: a whole 64-byte line of each value row per step, so every line of the
      // tile is read once (32 bytes per step read each line twice, mostly from L2).
      const d16 = <usize>(dv & ~15) << 2;
      for (; c < d16; c += 64) {
        let a0 = v128.load(o0 + c), a1 = v128.load(o0 + c, 16), a2 = v128.load(o0 + c, 32), a3 = v128.load(o0 + c, 48);
        let b0 = v128.load(o1 + c), b1 = v128.load(o1 + c, 16), b2 = v128.load(o1 + c, 32), b3 = v128.load(o1 + c, 48);
        let vp = vt + c;
        for (let t: usize = 0; t < <usize>n << 2; t += 4) {
          const p = v128.load32_splat(s0 + t), r = v128.load32_splat(s1 + t);
          const x0 = v128.load(vp), x1 = v128.load(vp, 16), x2 = v128.load(vp, 32), x3 = v128.load(vp, 48);
          a0 = madd(p, x0, a0); a1 = madd(p, x1, a1); a2 = madd(p, x2, a2); a3 = madd(p, x3, a3);
          b0 = madd(r, x0, b0); b1 = madd(r, x1, b1); b2 = madd(r, x2, b2); b3 = madd(r, x3, b3);
          vp += vRow;
        }
        // Row 1 may repeat row 0 (same pointer): store it first, row 0 last.
        v128.store(o1 + c, b0); v128.store(o1 + c, b1, 16); v128.store(o1 + c, b2, 32); v128.store(o1 + c, b3, 48);
        v128.store(o0 + c, a0); v128.store(o0 + c, a1, 16); v128.store(o0 + c, a2, 32); v128.store(o0 + c, a3, 48);
      }
    }
    for (; c < d8; c += 32) {
      let a0 = v128.load(o0 + c), b0 = v128.load(o0 + c, 16), a1 = v128.load(o1 + c), b1 = v128.load(o1 + c, 16);
      let a2 = v128.load(o2 + c), b2 = v128.load(o2 + c, 16), a3 = v128.load(o3 + c), b3 = v128.load(o3 + c, 16);
      let vp = vt + c;
      for (let t: usize = 0; t < <usize>n << 2; t += 4) {
        const x = v128.load(vp), y = v128.load(vp, 16);
        const p0 = v128.load32_splat(s0 + t), p1 = v128.load32_splat(s1 + t);
        a0 = madd(p0, x, a0); b0 = madd(p0, y, b0);
        a1 = madd(p1, x, a1); b1 = madd(p1, y, b1);
        if (R == 4) {
          const p2 = v128.load32_splat(s2 + t), p3 = v128.load32_splat(s3 + t);
          a2 = madd(p2, x, a2); b2 = madd(p2, y, b2);
          a3 = madd(p3, x, a3); b3 = madd(p3, y, b3);
        }
        vp += vRow;
      }
      // Rows repeating row 0 must not overwrite it: store them first, row 0 last.
      if (R == 4) {
        v128.store(o3 + c, a3); v128.store(o3 + c, b3, 16);
        v128.store(o2 + c, a2); v128.store(o2 + c, b2, 16);
      }
      v128.store(o1 + c, a1); v128.store(o1 + c, b1, 16);
      v128.store(o0 + c, a0); v128.store(o0 + c, b0, 16);
    }
    for (; c < dvBytes; c += 4) {
      let a0 = load<f32>(o0 + c), a1 = load<f32>(o1 + c), a2 = load<f32>(o2 + c), a3 = load<f32>(o3 + c);
      for (let t = 0; t < n; t++) {
        const x = load<f32>(vt + <usize>t * vRow + c);
        const at = <usize>t << 2;
        a0 += load<f32>(s0 + at) * x; a1 += load<f32>(s1 + at) * x;
        if (R == 4) { a2 += load<f32>(s2 + at) * x; a3 += load<f32>(s3 + at) * x; }
      }
      if (R == 4) { store<f32>(o3 + c, a3); store<f32>(o2 + c, a2); }
      store<f32>(o1 + c, a1); store<f32>(o0 + c, a0);
    }
  }
  // The touched bytes are kept (as nothing) so the loads are not dropped.
  if (touched == 0xffffffff) store<u32>(sc, touched);
  // Duplicate rows share their pointers with row 0, so scale each distinct row once.
  scaleRow(o0, dvBytes, l0 > 0 ? 1 / l0 : 0);
  if (nb > 1) scaleRow(o1, dvBytes, l1 > 0 ? 1 / l1 : 0);
  if (nb > 2) scaleRow(o2, dvBytes, l2 > 0 ? 1 / l2 : 0);
  if (nb > 3) scaleRow(o3, dvBytes, l3 > 0 ? 1 / l3 : 0);
}

/** Loads one byte per TOUCH_STEP bytes of [p, p + bytes); returns their sum. */
@inline function touchLines(p: usize, bytes: usize): u32 {
  let sum: u32 = 0;
  for (let o: usize = 0; o < bytes; o += TOUCH_STEP) sum += load<u8>(p + o);
  return sum;
}

/** visible() lane by lane: all-ones lanes where key position kV's lane is visible to query position posV's. */
@inline function visibleLanes(kV: v128, posV: v128, window: i32): v128 {
  const causal = i32x4.le_s(kV, posV);
  return window < 0 ? causal : v128.and(causal, i32x4.lt_s(i32x4.sub(posV, kV), i32x4.splat(window)));
}

/** Lane r of v to row r's scores at byte offset at. */
@inline function storeLanes(s0: usize, s1: usize, s2: usize, s3: usize, at: usize, v: v128): void {
  store<f32>(s0 + at, f32x4.extract_lane(v, 0)); store<f32>(s1 + at, f32x4.extract_lane(v, 1));
  store<f32>(s2 + at, f32x4.extract_lane(v, 2)); store<f32>(s3 + at, f32x4.extract_lane(v, 3));
}

@inline function visible(kp: i32, pos: i32, window: i32): bool {
  return kp <= pos && (window < 0 || pos - kp < window);
}

/** Scores -> exp(score - m) in place (0 where hidden), four at a time; returns their sum. */
@inline function probabilities(sr: usize, n: i32, m: f32): f32 {
  // No visible key so far: every score is -inf (and -inf - -inf would be NaN).
  if (m == -Infinity) {
    memory.fill(sr, 0, <usize>n << 2);
    return 0;
  }
  const mv = f32x4.splat(m);
  let acc = f32x4.splat(0);
  const n4 = <usize>(n & ~3) << 2;
  let j: usize = 0;
  for (; j < n4; j += 16) {
    const p = exp4(f32x4.sub(v128.load(sr + j), mv));
    acc = f32x4.add(acc, p);
    v128.store(sr + j, p);
  }
  let l = hsum(acc);
  for (; j < (<usize>n << 2); j += 4) {
    const sj = load<f32>(sr + j);
    const p: f32 = sj == -Infinity ? 0 : Mathf.exp(sj - m);
    l += p;
    store<f32>(sr + j, p);
  }
  return l;
}

@inline function scaleRow(op: usize, dvBytes: usize, f: f32): void {
  const d4 = dvBytes & ~15;
  const fv = f32x4.splat(f);
  for (let c: usize = 0; c < d4; c += 16) v128.store(op + c, f32x4.mul(v128.load(op + c), fv));
  for (let c = d4; c < dvBytes; c += 4) store<f32>(op + c, load<f32>(op + c) * f);
}
