/**
 * The wasm backend's ggml block kernels (q8_0, q4_0, q4_k, q5_k, q6_k) against RefBackend, whose
 * dequantRow is the spec: random blocks (random quants, scales and mins), awkward row counts,
 * n = 1 (in-register matvec) and n > 1 (blocked matmul), one thread and two; embed bit for bit.
 * Then whole models: fixture -> GGUF (convertToGguf, what `owl convert --type` runs) -> the wasm
 * backend predicts as the reference backend does on the same file, from weights kept packed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RefBackend, WasmBackend } from '../src/backend/index.js';
import type { Backend } from '../src/backend/backend.js';
import { dequantAll, f32Weight, GGML_BLOCK, type GgmlBlockFormat, type Weight } from '../src/tensor/weight.js';
import { f32ToF16 } from '../src/tensor/dtype.js';
import { ggmlType } from '../src/gguf/constants.js';
import { BLOCK_FORMAT, decodeToF32 } from '../src/gguf/quants.js';
import { GgufFile, convertToGguf, writeGgufFile } from '../src/node/gguf-file.js';
import { loadModelDir } from '../src/node/model-dir.js';
import { readSafetensorsFile } from '../src/node/tensor-files.js';
import init from '../src/cli/commands/init.js';
import { rng } from '../src/models/random-weights.js';
import { FIXTURES } from './helpers.js';
import { describeWasmConfigs } from './wasm-configs.js';

const ref = new RefBackend();
const FORMATS: GgmlBlockFormat[] = ['q8_0', 'q4_0', 'q4_k', 'q5_k', 'q6_k'];
/** Byte offsets of each format's f16 scale fields (d, and dmin for q4_k/q5_k) inside a block. */
const F16_FIELDS: Record<GgmlBlockFormat, number[]> = { q8_0: [0], q4_0: [0], q4_k: [0, 2], q5_k: [0, 2], q6_k: [208] };

/** Random blocks: every quant, 6-bit scale and high bit random; f16 scales finite, of either sign. */
function randomGgmlWeight(r: () => number, format: GgmlBlockFormat, rows: number, cols: number, b: Backend | null): Weight {
  const { elements, bytes } = GGML_BLOCK[format];
  const n = (rows * cols / elements) * bytes;
  const data = b ? b.allocWeightBytes(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.floor(r() * 256);
  for (let blk = 0; blk < n / bytes; blk++)
    for (const at of F16_FIELDS[format]) {
      const h = f32ToF16((r() * 2 - 1) * 0.05);
      data[blk * bytes + at] = h & 255;
      data[blk * bytes + at + 1] = h >> 8;
    }
  const w: Weight = { format, rows, cols, data };
  return b ? b.prepareWeight(w) : w;
}

function randoms(r: () => number, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

/** |got - want| <= rel · Σ|x|·|w| per element (f32 sums in another order than the reference's f64). */
function assertClose(got: Float32Array, want: Float32Array, x: Float32Array, w: Weight, n: number, what: string): void {
  const mag = new Float32Array(n * w.rows);
  ref.matmul(mag, x.map(Math.abs), f32Weight(dequantAll(w).map(Math.abs), w.rows, w.cols), n);
  for (let i = 0; i < want.length; i++) {
    const tol = 1e-5 * mag[i]! + 1e-30;
    if (!(Math.abs(got[i]! - want[i]!) <= tol)) assert.fail(`${what}: element ${i}: got ${got[i]}, want ${want[i]} (tolerance ${tol})`);
  }
}

describeWasmConfigs('wasm ggml kernels', ({ threads }, backend) => {
  it('matvec and matmul match the reference for every block format, 1/3/17 rows, n = 1, 2, 5', () => {
    const b = backend();
    const r = rng(threads);
    for (const format of FORMATS) {
      const per = GGML_BLOCK[format].elements;
      for (const rows of [1, 3, 17]) {
        for (const cols of [per, 3 * per]) {
          const w = randomGgmlWeight(r, format, rows, cols, b);
          for (const n of [1, 2, 5]) {
            const x = randoms(r, n * cols);
            const want = new Float32Array(n * rows);
            ref.matmul(want, x, w, n);
            const got = n === 2 ? b.alloc(n * rows) : new Float32Array(n * rows);
            b.matmul(got, x, w, n);
            assertClose(got, want, x, w, n, `${format} [${rows}x${cols}] n=${n}`);
          }
        }
      }
    }
  });

  it('embed decodes rows exactly as the reference (q6_k: a weight the backend never prepared)', () => {
    const b = backend();
    const r = rng(10 + threads);
    for (const format of FORMATS) {
      const w = randomGgmlWeight(r, format, 7, 2 * GGML_BLOCK[format].elements, format === 'q6_k' ? null : b);
      const ids = Int32Array.of(6, 0, 3, 3, 1);
      const want = new Float32Array(ids.length * w.cols);
      const got = new Float32Array(ids.length * w.cols);
      ref.embed(want, w, ids);
      b.embed(got, w, ids);
      for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) assert.fail(`${format} embed element ${i}: got ${got[i]}, want ${want[i]}`);
    }
  });

  it('rejects block weights whose size does not match their shape', () => {
    const b = backend();
    const data = new Uint8Array(34 * 2);
    assert.throws(() => b.prepareWeight({ format: 'q8_0', rows: 1, cols: 48, data }), /divisible by 32/);
    assert.throws(() => b.prepareWeight({ format: 'q8_0', rows: 3, cols: 32, data }), /68 data bytes, expected 102/);
  });
});

const MODELS = join(FIXTURES, 'models');

function referenceIds(name: string): number[] {
  const ref = readSafetensorsFile(join(MODELS, name, 'reference.safetensors'));
  return Array.from(new BigInt64Array(ref.get('input_ids_0')!.data.slice().buffer), Number);
}

/** A copy of a GGUF file with every block-quantised tensor rewritten as F32 (reference decoders). */
function decodedCopy(file: string, out: string): string {
  const g = GgufFile.open(file);
  const bytes = readFileSync(file);
  const raw = (t: { byteOffset: number; byteLength: number }) => bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength);
  const tensors = g.header.tensors.map((t) =>
    t.type.name in BLOCK_FORMAT
      ? { name: t.name, ne: t.ne, type: ggmlType('F32'), produce: () => new Uint8Array(decodeToF32(t.type, raw(t), t.ne[0]!, t.name).buffer) }
      : { name: t.name, ne: t.ne, type: t.type, produce: () => raw(t) },
  );
  writeGgufFile(out, [...g.header.kv.values()], tensors);
  g.close();
  return out;
}

describe('GGUF block files on the wasm backend', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'owl-wasm-ggml-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  // The fixtures are narrower than Q4_K's 256-value rows: a random Qwen3-MoE of width 256 (owl init) for it.
  const wide = join(tmp, 'qwen3-moe-256');
  before(async () => {
    const config = JSON.parse(readFileSync(join(MODELS, 'qwen3-moe', 'config.json'), 'utf8'));
    Object.assign(config, { hidden_size: 256, head_dim: 64, intermediate_size: 512, moe_intermediate_size: 256, num_hidden_layers: 2, vocab_size: 512 });
    mkdirSync(wide);
    writeFileSync(join(tmp, 'wide-config.json'), JSON.stringify(config));
    assert.equal(await init.run(['--config', join(tmp, 'wide-config.json'), '--out', wide, '--dtype', 'f32', '--seed', '3']), 0);
  });
  const cases = [['qwen3-dense', 'q8_0'], ['qwen3-moe', 'q8_0'], ['deepseek-v3', 'q8_0'], ['gpt-oss', 'q8_0'], ['qwen3-moe', 'q4_0'], ['qwen3-moe-256', 'q4_k']] as const;
  for (const [name, type] of cases) {
    it(`${name} as ${type}: logits equal the reference backend's; matrices stay ${type} in memory`, async () => {
      const file = join(tmp, `${name}-${type}.gguf`);
      convertToGguf(name === 'qwen3-moe-256' ? wide : join(MODELS, name), file, { type });
      const ids = name === 'qwen3-moe-256' ? [5, 300, 17, 511, 42, 0, 9] : referenceIds(name);
      const b = await WasmBackend.create({ threads: 2, minParallelWork: 1 });
      try {
        const prepared: Weight[] = [];
        const prepare = b.prepareWeight.bind(b);
        b.prepareWeight = (w) => (prepared.push(w), prepare(w));
        const onWasm = loadModelDir(file, { backend: b });
        const onRef = loadModelDir(file);
        // Prefill all but the last token (matmul), then decode it alone (matvec).
        const run = (m: typeof onRef.model) => {
          const cache = m.newCache();
          const head = m.forward(ids.slice(0, -1), cache).slice();
          const tail = m.forward(ids.slice(-1), cache);
          return Float32Array.from([...head, ...tail]);
        };
        const got = run(onWasm.model);
        const want = run(onRef.model);
        assert.equal(got.length, want.length);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
        assert.ok(worst <= 1e-4, `max |wasm - ref| = ${worst}`);
        // Packed views (expert slices, GPT-OSS's interleaved gate/up rows) hold the same values as
        // the file decoded to f32 up front: the reference backend predicts identically from both.
        const decoded = loadModelDir(decodedCopy(file, join(tmp, `${name}-${type}-f32.gguf`)));
        const f32Logits = run(decoded.model);
        for (let i = 0; i < want.length; i++) if (want[i] !== f32Logits[i]) assert.fail(`packed vs decoded file: logit ${i}: ${want[i]} vs ${f32Logits[i]}`);

        // Every GGUF tensor of the block type becomes a Weight of that format, except MLA's per-head
        // transposed attn_k_b/attn_v_b (decoded to f32 for the kv_b_proj view).
        const g = GgufFile.open(file);
        const elems = (shape: number[]) => shape.reduce((a, x) => a * x, 1);
        const inFile = g.header.tensors
          .filter((t) => t.type.name === type.toUpperCase() && !/attn_[kv]_b/.test(t.name))
          .reduce((a, t) => a + elems(t.shape), 0);
        g.close();
        // Stacked weights (q/k/v, gate/up for decode) are counted once: their parts are views of them.
        const inside = (w: Weight, o: Weight) =>
          o !== w && o.data.buffer === w.data.buffer && o.data.byteLength > w.data.byteLength &&
          o.data.byteOffset <= w.data.byteOffset && w.data.byteOffset + w.data.byteLength <= o.data.byteOffset + o.data.byteLength;
        const packed = prepared.filter((w) => w.format === type && !prepared.some((o) => inside(w, o)));
        const packedElems = packed.reduce((a, w) => a + w.rows * w.cols, 0);
        const packedBytes = packed.reduce((a, w) => a + w.data.byteLength, 0);
        assert.ok(inFile > 0);
        assert.equal(packedElems, inFile, `elements held as ${type}`);
        assert.equal(packedBytes / packedElems, GGML_BLOCK[type].bytes / GGML_BLOCK[type].elements, 'bytes per weight');
      } finally {
        await b.dispose();
      }
    });
  }
});
