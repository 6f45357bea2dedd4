/**
 * The wasm backend, op by op, against the reference backend on random inputs: sizes that leave a
 * partial SIMD vector, a partial FP8 block, an uneven share per thread; n = 1 (matvec) and n > 1
 * (blocked matmul); one thread and two. Tolerances scale with the magnitude of the terms summed
 * (f32 accumulation in a different order than the reference's f64).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend, RefBackend, WasmBackend } from '../src/backend/index.js';
import { sizeClass } from '../src/backend/wasm/wasm-backend.js';
import type { AttentionArgs, Backend, RopeTable } from '../src/backend/backend.js';
import { dequantAll, f32Weight, type Weight, type WeightFormat } from '../src/tensor/weight.js';
import { f32ToBf16, f32ToE4M3, f32ToF16 } from '../src/tensor/dtype.js';
import { rng } from '../src/models/random-weights.js';
import { checkAgainstReference, loadFixture, readReference } from './oracle.js';
import { describeWasmConfigs } from './wasm-configs.js';

const ref = new RefBackend();

function randoms(r: () => number, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/** A random weight of the format; `place` puts its bytes in backend memory as a loader would. */
function randomWeight(r: () => number, format: WeightFormat, rows: number, cols: number, b: Backend | null, block: [number, number] = [128, 128]): Weight {
  const values = randoms(r, rows * cols);
  // Some tiny values so f16 and e4m3 subnormal codes occur.
  for (let i = 0; i < values.length; i += 7) values[i]! *= 1e-5;
  const bytes = (n: number) => (b ? b.allocWeightBytes(n) : new Uint8Array(n));
  let w: Weight;
  switch (format) {
    case 'f32': {
      const data = bytes(rows * cols * 4);
      new Float32Array(data.buffer, data.byteOffset, rows * cols).set(values);
      w = { format, rows, cols, data };
      break;
    }
    case 'bf16':
    case 'f16': {
      const data = bytes(rows * cols * 2);
      const u16 = new Uint16Array(data.buffer, data.byteOffset, rows * cols);
      values.forEach((v, i) => (u16[i] = format === 'bf16' ? f32ToBf16(v) : f32ToF16(v)));
      w = { format, rows, cols, data };
      break;
    }
    case 'fp8_e4m3': {
      const data = bytes(rows * cols);
      values.forEach((v, i) => (data[i] = f32ToE4M3(v * 448)));
      const scales = Float32Array.from({ length: Math.ceil(rows / block[0]) * Math.ceil(cols / block[1]) }, () => 0.001 + r() * 0.01);
      w = { format, rows, cols, data, scales, block };
      break;
    }
    case 'mxfp4': {
      const data = bytes((rows * cols) / 2);
      for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
      const scales = bytes((rows * cols) / 32);
      for (let i = 0; i < scales.length; i++) scales[i] = 118 + Math.floor(r() * 16);
      w = { format, rows, cols, data, scales };
      break;
    }
    default:
      throw new Error(`no generator for ${format}`);
  }
  return b ? b.prepareWeight(w) : w;
}

/** |got - want| <= rel * mag elementwise (mag: the sum of magnitudes behind each element). */
function assertClose(got: Float32Array, want: ArrayLike<number>, mag: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(got.length >= want.length, true, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const tol = rel * mag[i]! + 1e-30;
    if (!(Math.abs(got[i]! - want[i]!) <= tol))
      assert.fail(`${what}: element ${i}: got ${got[i]}, want ${want[i]} (tolerance ${tol})`);
  }
}

/** Σ|x|·|w| per output element: the scale of a matmul's rounding error. */
function matmulMagnitude(x: Float32Array, w: Weight, n: number): Float64Array {
  const absW = dequantAll(w).map(Math.abs);
  const out = new Float32Array(n * w.rows);
  ref.matmul(out, x.map(Math.abs), f32Weight(absW, w.rows, w.cols), n);
  return Float64Array.from(out);
}

const FORMATS: WeightFormat[] = ['f32', 'f16', 'bf16', 'fp8_e4m3', 'mxfp4'];

describeWasmConfigs('wasm backend', ({ threads }, backend) => {
  it('matmul matches the reference for every format, awkward sizes, n = 1 and n > 1', () => {
    const b = backend();
    const r = rng(threads);
    for (const format of FORMATS) {
      const shapes: [number, number][] =
        format === 'mxfp4' ? [[1, 32], [3, 64], [17, 96], [67, 512]] : [[1, 32], [3, 33], [17, 32], [17, 33], [5, 7], [67, 520]];
      for (const [rows, cols] of shapes) {
        const blocks: [number, number][] = format === 'fp8_e4m3' ? [[128, 128], [2, 16], [3, 5], [16, 32]] : [[128, 128]];
        for (const block of blocks) {
          const w = randomWeight(r, format, rows, cols, b, block);
          for (const n of [1, 2, 5]) {
            const x = randoms(r, n * cols);
            const want = new Float32Array(n * rows);
            ref.matmul(want, x, w, n);
            // Activations from the backend (no staging) and plain arrays (staged) alike.
            const xs = n === 2 ? x : b.alloc(n * cols);
            if (xs !== x) xs.set(x);
            const got = n === 5 ? new Float32Array(n * rows) : b.alloc(n * rows);
            b.matmul(got, xs, w, n);
            assertClose(got, want, matmulMagnitude(x, w, n), 1e-5, `${format} [${rows}x${cols}] block ${block} n=${n}`);
          }
        }
      }
    }
  });

  it('matmul works on weights it was never given (prepared on first use)', () => {
    const b = backend();
    const r = rng(10 + threads);
    const w = randomWeight(r, 'bf16', 9, 40, null);
    const x = randoms(r, 3 * 40);
    const want = new Float32Array(27);
    const got = new Float32Array(27);
    ref.matmul(want, x, w, 3);
    b.matmul(got, x, w, 3);
    assertClose(got, want, matmulMagnitude(x, w, 3), 1e-5, 'unprepared bf16');
  });

  it('embed decodes every f16 and e4m3 code, and random bf16/mxfp4/fp8 rows, exactly as the reference', () => {
    const b = backend();
    const r = rng(20 + threads);
    const all16 = new Uint8Array(65536 * 2);
    new Uint16Array(all16.buffer).forEach((_, i, a) => (a[i] = i));
    const all8 = Uint8Array.from({ length: 256 }, (_, i) => i);
    const tables: Weight[] = [
      b.prepareWeight({ format: 'f16', rows: 256, cols: 256, data: all16 }),
      b.prepareWeight({ format: 'fp8_e4m3', rows: 16, cols: 16, data: all8, scales: Float32Array.of(0.5, 3, 1e-3, 7), block: [8, 8] }),
      randomWeight(r, 'bf16', 50, 33, b),
      randomWeight(r, 'mxfp4', 40, 96, b),
      randomWeight(r, 'fp8_e4m3', 30, 45, b, [4, 16]),
      randomWeight(r, 'f32', 20, 13, b),
    ];
    for (const t of tables) {
      const ids = Int32Array.from({ length: t.rows + 3 }, (_, i) => (i < t.rows ? t.rows - 1 - i : 0));
      const want = new Float32Array(ids.length * t.cols);
      const got = new Float32Array(ids.length * t.cols);
      ref.embed(want, t, ids);
      b.embed(got, t, ids);
      for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) assert.fail(`${t.format} embed element ${i}: got ${got[i]}, want ${want[i]}`);
    }
    assert.throws(() => b.embed(new Float32Array(13), tables[5]!, Int32Array.of(20)), /outside the vocabulary/);
  });

  it('matvec decodes every e4m3 code in registers exactly as the reference (0x7f/0xff: NaN)', () => {
    const b = backend();
    const all8 = Uint8Array.from({ length: 256 }, (_, i) => i);
    const w = b.prepareWeight({ format: 'fp8_e4m3', rows: 16, cols: 16, data: all8, scales: Float32Array.of(1), block: [16, 16] });
    // x one-hot at column c: out[r] is code 16r + c, decoded, times 1 (NaN for the rows holding 0x7f/0xff, as NaN * 0 is NaN).
    for (let c = 0; c < 16; c++) {
      const x = new Float32Array(16);
      x[c] = 1;
      const want = new Float32Array(16);
      const got = new Float32Array(16);
      ref.matmul(want, x, w, 1);
      b.matmul(got, x, w, 1);
      for (let r = 0; r < 16; r++) {
        const same = got[r] === want[r] || (Number.isNaN(got[r]) && Number.isNaN(want[r]));
        if (!same) assert.fail(`e4m3 row ${r}, x one-hot at column ${c} (code 0x${(16 * r + c).toString(16)}): got ${got[r]}, want ${want[r]}`);
      }
    }
  });

  it('rmsNorm, in place and not, including rows that leave a partial vector', () => {
    const b = backend();
    const r = rng(30 + threads);
    for (const [n, dim] of [[3, 33], [1, 8], [40, 1000]] as const) {
      const x = randoms(r, n * dim, 3);
      const gamma = randoms(r, dim);
      const want = new Float32Array(n * dim);
      ref.rmsNorm(want, x, gamma, n, dim, 1e-6);
      const got = b.alloc(n * dim);
      b.rmsNorm(got, x, gamma, n, dim, 1e-6);
      assertClose(got, want, want.map(Math.abs), 1e-5, `rmsNorm ${n}x${dim}`);
      const inPlace = b.alloc(n * dim);
      inPlace.set(x);
      b.rmsNorm(inPlace, inPlace, gamma, n, dim, 1e-6);
      assertClose(inPlace, want, want.map(Math.abs), 1e-5, `rmsNorm in place ${n}x${dim}`);
    }
  });

  it('rope, both layouts, with an offset inside a wider head, positions changed in place', () => {
    const b = backend();
    const r = rng(40 + threads);
    for (const layout of ['half', 'interleaved'] as const) {
      for (const [n, heads, stride, offset, dim] of [[3, 2, 8, 0, 8], [4, 3, 14, 4, 6], [64, 8, 64, 0, 64]] as const) {
        const table: RopeTable = { dim, layout, invFreq: Float32Array.from({ length: dim / 2 }, (_, i) => 10000 ** (-(2 * i) / dim)), scale: 1.25 };
        const positions = Int32Array.from({ length: n }, (_, i) => 5 + i * 997);
        const x = randoms(r, n * heads * stride);
        const want = x.slice();
        ref.rope({ x: want, n, heads, stride, offset, positions, table });
        const got = b.alloc(x.length);
        got.set(x);
        b.rope({ x: got, n, heads, stride, offset, positions, table });
        assertClose(got, want, new Float32Array(x.length).fill(2.5), 1e-5, `rope ${layout} ${n}x${heads}x${stride}`);
        // The same table and positions array again, with one position changed in place: the
        // backend's reused angles must follow the new contents.
        positions[n - 1] = positions[n - 1]! + 3;
        const want2 = x.slice();
        ref.rope({ x: want2, n, heads, stride, offset, positions, table });
        got.set(x);
        b.rope({ x: got, n, heads, stride, offset, positions, table });
        assertClose(got, want2, new Float32Array(x.length).fill(2.5), 1e-5, `rope ${layout} after a position changed`);
      }
    }
  });

  it('attention: causal, windowed, sinks, GQA, MLA-style aliased values, head-major caches, more keys than a tile', () => {
    const b = backend();
    const r = rng(50 + threads);
    // kShift stores key positions rotated (a ring cache's order): tiles then hold unsorted positions.
    type Case = { nq: number; nk: number; H: number; KV: number; dk: number; dv: number; window: number | null; sinks: boolean; mla?: boolean; qPos?: number[]; headMajor?: boolean; kShift?: number };
    const cases: Case[] = [
      { nq: 3, nk: 7, H: 4, KV: 2, dk: 8, dv: 8, window: null, sinks: false },
      { nq: 5, nk: 9, H: 4, KV: 1, dk: 5, dv: 3, window: 3, sinks: true },
      { nq: 2, nk: 6, H: 3, KV: 3, dk: 4, dv: 6, window: null, sinks: false, qPos: [-1, 2] },
      { nq: 1, nk: 300, H: 8, KV: 2, dk: 64, dv: 64, window: 100, sinks: true },
      { nq: 4, nk: 150, H: 16, KV: 1, dk: 36, dv: 32, window: null, sinks: false, mla: true },
      { nq: 1, nk: 71, H: 8, KV: 4, dk: 20, dv: 12, window: null, sinks: false, headMajor: true },
      { nq: 3, nk: 130, H: 6, KV: 3, dk: 32, dv: 32, window: 50, sinks: true, headMajor: true },
      // Prefill-sized: tiles no query sees, tiles every query sees whole, and the diagonal between.
      { nq: 150, nk: 150, H: 4, KV: 2, dk: 16, dv: 16, window: null, sinks: false, headMajor: true },
      { nq: 140, nk: 200, H: 2, KV: 1, dk: 12, dv: 8, window: 70, sinks: true },
      { nq: 90, nk: 160, H: 4, KV: 2, dk: 8, dv: 8, window: 64, sinks: false, kShift: 37 },
    ];
    for (const c of cases) {
      const { nq, nk, H, KV, dk, dv } = c;
      const kPos = Int32Array.from({ length: nk }, (_, j) => (j + (c.kShift ?? 0)) % nk);
      const qPos = Int32Array.from(c.qPos ?? Array.from({ length: nq }, (_, i) => nk - nq + i));
      const q = randoms(r, nq * H * dk, 2);
      let k: Float32Array, v: Float32Array, kStride: number | undefined, vStride: number | undefined;
      if (c.mla) {
        // One row per key holds [latent (dv) | rope (dk - dv)]; values read the latent prefix of the same rows.
        k = b.alloc(nk * dk);
        k.set(randoms(r, nk * dk));
        v = k;
        kStride = dk;
        vStride = dk;
      } else {
        k = randoms(r, nk * KV * dk);
        v = randoms(r, nk * KV * dv);
      }
      const sinks = c.sinks ? randoms(r, H, 2) : null;
      let kHeadStride: number | undefined, vHeadStride: number | undefined;
      const rowMajor = { k, v };
      if (c.headMajor) {
        // [head][capacity][d] with spare capacity, as FullCache keeps it.
        const cap = nk + 5;
        const byHead = (x: Float32Array, d: number) => {
          const y = new Float32Array(KV * cap * d);
          for (let j = 0; j < nk; j++) for (let g = 0; g < KV; g++) y.set(x.subarray((j * KV + g) * d, (j * KV + g + 1) * d), (g * cap + j) * d);
          return y;
        };
        [k, v] = [byHead(k, dk), byHead(v, dv)];
        [kStride, vStride, kHeadStride, vHeadStride] = [dk, dv, cap * dk, cap * dv];
      }
      const args = (out: Float32Array): AttentionArgs => ({
        q, k, v, kStride, vStride, kHeadStride, vHeadStride, out, nq, nk, numHeads: H, numKvHeads: KV, dk, dv, scale: 1 / Math.sqrt(dk), qPos, kPos, window: c.window, sinks,
      });
      const want = new Float32Array(nq * H * dv);
      ref.attention(args(want));
      if (c.headMajor) {
        const rowWant = new Float32Array(want.length);
        ref.attention({ ...args(rowWant), ...rowMajor, kStride: undefined, vStride: undefined, kHeadStride: undefined, vHeadStride: undefined });
        assert.deepEqual(want, rowWant, 'the reference reads head-major and row-major caches alike');
      }
      const got = b.alloc(nq * H * dv);
      got.fill(123); // must be fully overwritten
      b.attention(args(got));
      const vmax = v.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
      assertClose(got, want, new Float32Array(want.length).fill(vmax), 1e-5, `attention ${JSON.stringify(c)}`);
    }
  });

  it('swiglu, swigluClamped, addBias, addScaled, softmax', () => {
    const b = backend();
    const r = rng(60 + threads);
    for (const len of [1, 37, 70001]) {
      const g = randoms(r, len, 8);
      const u = randoms(r, len, 8);
      const want = new Float32Array(len);
      const got = b.alloc(len);
      ref.swiglu(want, g, u, len);
      b.swiglu(got, g, u, len);
      assertClose(got, want, g.map((gv, i) => Math.abs(gv * u[i]!)), 1e-5, `swiglu ${len}`);
      ref.swigluClamped(want, g, u, len, 7, 1.702);
      b.swigluClamped(got, g, u, len, 7, 1.702);
      assertClose(got, want, g.map((gv, i) => Math.abs(gv) * (Math.abs(u[i]!) + 1)), 1e-5, `swigluClamped ${len}`);
      const a = randoms(r, len);
      ref.addScaled(want, a, u, 0.3, len);
      const sum = b.alloc(len);
      sum.set(a);
      b.addScaled(sum, sum, u, 0.3, len);
      assertClose(sum, want, a.map((av, i) => Math.abs(av) + Math.abs(0.3 * u[i]!)), 1e-6, `addScaled ${len}`);
    }
    for (const [n, dim] of [[3, 5], [2, 33], [70, 1000]] as const) {
      const bias = randoms(r, dim);
      const x = randoms(r, n * dim, 10);
      const want = x.slice();
      ref.addBias(want, bias, n);
      const got = x.slice();
      b.addBias(got, bias, n);
      assert.deepEqual(got, want, `addBias ${n}x${dim}`);
      ref.softmax(want, n, dim);
      b.softmax(got, n, dim);
      assertClose(got, want, want.map((p) => p + 1e-7), 1e-5, `softmax ${n}x${dim}`);
    }
  });

  it('alloc returns zeroed buffers, also after free; free ignores foreign arrays', () => {
    const b = backend();
    const a = b.alloc(100);
    a.fill(7);
    b.free(a);
    b.free(new Float32Array(100));
    const c = b.alloc(100);
    assert.equal(c.every((v) => v === 0), true);
    // Reuse proves the backend recognises its own buffers (else every op would stage copies).
    assert.equal(c.byteOffset, a.byteOffset);
    assert.equal(c.buffer, a.buffer);
    // A nearby size (same size class) reuses a freed buffer too, zeroed where it is seen.
    const d = b.alloc(1000);
    d.fill(3);
    b.free(d);
    const e = b.alloc(1020);
    assert.equal(e.byteOffset, d.byteOffset);
    assert.equal(e.length, 1020);
    assert.equal(e.every((v) => v === 0), true);
    b.free(e);
    b.free(c);
  });

  it('size classes: at most 25% over the request, four per doubling', () => {
    for (let bytes = 1; bytes < 1 << 22; bytes = Math.ceil(bytes * 1.07)) {
      const c = sizeClass(bytes);
      assert.ok(c >= bytes && (bytes <= 256 ? c === 256 : c <= bytes * 1.25), `${bytes} -> ${c}`);
    }
    assert.deepEqual([1024, 1025, 1280, 1281, 1536, 2048].map(sizeClass), [1024, 1280, 1280, 1536, 1536, 2048]);
  });
});

describe('wasm backend arenas', () => {
  for (const threads of [1, 2]) {
    it(`spreads weights over several memories and stages activations across them (${threads} thread(s))`, async () => {
      const b = await WasmBackend.create({ threads, arenaWeightBytes: 256 * 1024, minParallelWork: 1 });
      try {
        const r = rng(70 + threads);
        const weights = FORMATS.flatMap((f) => [randomWeight(r, f, 67, 1024, b, [16, 32]), randomWeight(r, f, 33, 512, b, [16, 32])]);
        // Loader path (allocWeightBytes) and copy path (prepareWeight of plain memory) both land in arenas.
        weights.push(b.prepareWeight(randomWeight(r, 'fp8_e4m3', 40, 256, null, [16, 32])));
        assert.ok(b.arenaCount >= 3, `expected several arenas, got ${b.arenaCount}`);
        for (const w of weights) {
          for (const n of [1, 3]) {
            const x = b.alloc(n * w.cols);
            x.set(randoms(r, n * w.cols));
            const want = new Float32Array(n * w.rows);
            ref.matmul(want, x, w, n);
            const got = b.alloc(n * w.rows);
            b.matmul(got, x, w, n);
            assertClose(got, want, matmulMagnitude(x, w, n), 1e-5, `${w.format} in arena ${(w.handle as { arena: number }).arena} n=${n}`);
          }
          const ids = Int32Array.of(w.rows - 1, 0, 7);
          const want = new Float32Array(3 * w.cols);
          const got = b.alloc(3 * w.cols);
          ref.embed(want, w, ids);
          b.embed(got, w, ids);
          assert.deepEqual(got, want, `${w.format} embed from arena ${(w.handle as { arena: number }).arena}`);
        }
      } finally {
        await b.dispose();
      }
    });
  }
});

describe('whole models on the wasm backend (2 threads) match the Hugging Face references', () => {
  // Tolerances from test/fixtures/models/README.md ("recommended logits atol"), as in the family tests.
  const CASES: Array<[string, number]> = [
    ['qwen3-dense', 5e-4], ['qwen3-dense-bf16', 5e-4], ['qwen3-yarn', 5e-4], ['qwen3-moe', 5e-4],
    ['gpt-oss', 5e-4], ['gpt-oss-mxfp4', 5e-4],
    ['deepseek-v3', 1e-3], ['deepseek-v3-nolora', 1e-3], ['deepseek-v3-fp8', 1e-3],
  ];
  let b: WasmBackend;
  before(async () => {
    b = await WasmBackend.create({ threads: 2 });
  });
  after(async () => {
    await b.dispose();
  });
  for (const [name, atol] of CASES) {
    it(name, () => {
      const measured = checkAgainstReference(loadFixture(name, b), readReference(name), atol);
      console.log(`# ${name} (wasm): ${JSON.stringify(measured)}`);
    });
  }
});

describe('createBackend', () => {
  it('gives the wasm backend where supported and the reference one on request', async () => {
    const w = await createBackend('wasm', { threads: 1 });
    assert.equal(w.name, 'wasm');
    await w.dispose();
    const r = await createBackend('ref');
    assert.equal(r.name, 'ref');
    await r.dispose();
  });

  it('rejects a bad thread count', async () => {
    await assert.rejects(createBackend('wasm', { threads: 0 }), /threads must be a positive integer/);
  });
});
