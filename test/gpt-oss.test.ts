import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { RefBackend } from '../src/backend/ref/ref-backend.js';
import type { QuantSpec } from '../src/config/spec.js';
import { OwlError } from '../src/errors.js';
import { GatedMlp, type GatedMlpWeights, type MlpBlock } from '../src/models/blocks/mlp.js';
import { MoeBlock } from '../src/models/blocks/moe.js';
import { loadGptOssExperts } from '../src/models/gpt-oss.js';
import { WeightStore } from '../src/models/weight-store.js';
import { readConfigFile } from '../src/node/config-file.js';
import { E2M1_TABLE, e8m0ToF32, f32ToBf16, type FileDtype } from '../src/tensor/dtype.js';
import { dequantAll, f32Weight, weightBytes } from '../src/tensor/weight.js';
import type { TensorInfo } from '../src/weights/safetensors.js';
import type { TensorSource } from '../src/weights/source.js';
import { FIXTURES } from './helpers.js';
import { checkAgainstReference, loadFixture, readReference } from './oracle.js';

// Tolerances from test/fixtures/models/README.md ("recommended logits atol").
const CASES: Array<[string, number]> = [
  ['gpt-oss', 5e-4],
  ['gpt-oss-mxfp4', 5e-4],
];

for (const [name, atol] of CASES) {
  test(`${name} matches the Hugging Face reference`, () => {
    const measured = checkAgainstReference(loadFixture(name), readReference(name), atol);
    console.log(`# ${name}: ${JSON.stringify(measured)}`);
  });
}

// ---- Analytic checks of the GPT-OSS pieces, with hand-computed values ----

const ref = new RefBackend();
const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

test('router: bias joins the logits, top-k over them, softmax over the k chosen only', () => {
  // Expert e returns [e + 1, 10 (e + 1)] whatever its input, so the output shows the weights.
  const experts: MlpBlock[] = [0, 1, 2, 3].map((e) => ({
    forward: (_x: Float32Array, out: Float32Array, n: number) => {
      for (let t = 0; t < n; t++) out.set([e + 1, 10 * (e + 1)], t * 2);
    },
  }));
  const moe = new MoeBlock(
    ref,
    {
      router: f32Weight(Float32Array.from([1, 0, 3, 0.5, 2.5, -0.5, -1, 1]), 4, 2),
      routerBias: Float32Array.from([2.2, 0, 0, 0]),
      experts,
    },
    { kind: 'topk_softmax' },
    2,
    2,
  );
  const out = new Float32Array(4);
  moe.forward(Float32Array.from([1, 0, 0, 1]), out, 2);
  // Token 0: logits [1, 3, 2.5, -1] + bias = [3.2, 3, 2.5, -1] (without bias: experts 1, 2).
  // Weights softmax([3.2, 3]) = [0.549834, 0.450166]; output 0.549834·1 + 0.450166·2.
  assert.deepEqual(moe.lastRouting[0]!.experts, [0, 1]);
  close(moe.lastRouting[0]!.weights[0]!, 0.549833997312478);
  close(out[0]!, 1.450166002687522);
  close(out[1]!, 14.50166002687522);
  // Token 1: logits [0, 0.5, -0.5, 1] + bias = [2.2, 0.5, -0.5, 1] -> experts 0, 3, softmax([2.2, 1]).
  assert.deepEqual(moe.lastRouting[1]!.experts, [0, 3]);
  close(moe.lastRouting[1]!.weights[1]!, 0.23147521650098246);
  close(out[2]!, 1.6944256495029473);
});

test('clamped SwiGLU: gate = min(gate, 7), up = clamp(up, ±7), (up + 1)·gate·sigmoid(1.702·gate)', () => {
  const spec = readConfigFile(join(FIXTURES, 'models', 'gpt-oss'));
  assert.deepEqual(spec.activation, { kind: 'swiglu_clamped', limit: 7, alpha: 1.702 });
  // [gate, up, expected] computed with Python floats.
  const cases: Array<[number, number, number]> = [
    [1, 0.5, 1.268693648899232], // no clamp: 1.5 · 1 · σ(1.702)
    [9, 10, 55.99962502642654], // both clamps: 8 · 7 · σ(11.914)
    [-3, -9, 0.10842785824671582], // up clamped below: (-6)(-3) σ(-5.106)
    [-20, 0, -3.2934102413993747e-14], // gate has no lower clamp
    [7.5, -7.5, -41.99971876981991], // both clamps, opposite signs: (-6) · 7 · σ(11.914)
  ];
  const n = cases.length;
  // gate = x through an identity gate projection; up comes from the up bias (zero up matrix), down = identity.
  const eye = f32Weight(Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)), n, n);
  const mlp = new GatedMlp(
    ref,
    { gate: eye, up: f32Weight(new Float32Array(n * n), n, n), down: eye, upBias: Float32Array.from(cases, (c) => c[1]) },
    spec.activation,
  );
  const out = new Float32Array(n);
  mlp.forward(Float32Array.from(cases, (c) => c[0]), out, 1);
  cases.forEach(([, , want], i) => close(out[i]!, want, 1e-5));
});

/** A checkpoint held in memory (tensor name -> dtype, shape, bytes). */
class MemorySource implements TensorSource {
  readonly tensors = new Map<string, TensorInfo>();
  private readonly data = new Map<string, Uint8Array>();
  add(name: string, dtype: FileDtype, shape: number[], bytes: Uint8Array): this {
    this.tensors.set(name, { name, dtype, shape, file: 'memory', byteOffset: 0, byteLength: bytes.length });
    this.data.set(name, bytes);
    return this;
  }
  has(name: string): boolean {
    return this.tensors.has(name);
  }
  info(name: string): TensorInfo {
    return this.tensors.get(name)!;
  }
  read(name: string, dest?: Uint8Array): Uint8Array {
    const out = dest ?? new Uint8Array(this.data.get(name)!.length);
    out.set(this.data.get(name)!);
    return out;
  }
}

test('expert surgery: dense x@W (f32, bf16) and MXFP4 checkpoints give the same de-interleaved nn.Linear experts', () => {
  const [E, H, I] = [2, 64, 32];
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  // Random MXFP4 tensors [E, R, K/32] and their values [E, R, K].
  const mx = (R: number, K: number) => {
    const blocks = Uint8Array.from({ length: (E * R * K) / 2 }, () => Math.floor(rand() * 256));
    const scales = Uint8Array.from({ length: (E * R * K) / 32 }, () => 124 + Math.floor(rand() * 6));
    const values = Float32Array.from({ length: E * R * K }, (_, i) => {
      const byte = blocks[i >> 1]!;
      return E2M1_TABLE[i % 2 ? byte >> 4 : byte & 15]! * e8m0ToF32(scales[Math.floor(i / 32)]!);
    });
    return { blocks, scales, values };
  };
  const gu = mx(2 * I, H);
  const dn = mx(H, I);
  // The dense checkpoint stores the transpose [E, K, R] (x @ W).
  const transposed = (v: Float32Array, R: number, K: number) =>
    Float32Array.from({ length: E * R * K }, (_, i) => {
      const [e, k, r] = [Math.floor(i / (K * R)), Math.floor(i / R) % K, i % R];
      return v[(e * R + r) * K + k]!;
    });
  const bytesOf = (v: Float32Array, dtype: FileDtype) =>
    dtype === 'F32' ? new Uint8Array(v.buffer) : new Uint8Array(Uint16Array.from(v, f32ToBf16).buffer);
  // Eighths below 32: exact in bf16 too.
  const gateUpBias = Float32Array.from({ length: E * 2 * I }, (_, i) => i / 8);
  const downBias = Float32Array.from({ length: E * H }, (_, i) => -i / 8);
  const p = 'model.layers.0.mlp.experts';
  const withBiases = (dtype: FileDtype) =>
    new MemorySource()
      .add(`${p}.gate_up_proj_bias`, dtype, [E, 2 * I], bytesOf(gateUpBias, dtype))
      .add(`${p}.down_proj_bias`, dtype, [E, H], bytesOf(downBias, dtype));
  const load = (source: TensorSource, quant: QuantSpec) =>
    loadGptOssExperts(new WeightStore(source, ref, quant, 'memory'), p, E, H, I);

  const variants: Array<[string, GatedMlpWeights[]]> = (['F32', 'BF16'] as FileDtype[]).map((dtype) => [
    dtype,
    load(
      withBiases(dtype)
        .add(`${p}.gate_up_proj`, dtype, [E, H, 2 * I], bytesOf(transposed(gu.values, 2 * I, H), dtype))
        .add(`${p}.down_proj`, dtype, [E, I, H], bytesOf(transposed(dn.values, H, I), dtype)),
      { kind: 'none' },
    ),
  ]);
  const mxfp4 = load(
    withBiases('BF16')
      .add(`${p}.gate_up_proj_blocks`, 'U8', [E, 2 * I, H / 32, 16], gu.blocks)
      .add(`${p}.gate_up_proj_scales`, 'U8', [E, 2 * I, H / 32], gu.scales)
      .add(`${p}.down_proj_blocks`, 'U8', [E, H, I / 32, 16], dn.blocks)
      .add(`${p}.down_proj_scales`, 'U8', [E, H, I / 32], dn.scales),
    { kind: 'mxfp4', modulesToNotConvert: [] },
  );
  variants.push(['MXFP4', mxfp4]);

  const row = (v: Float32Array, e: number, R: number, K: number, r: number) => v.subarray((e * R + r) * K, (e * R + r + 1) * K);
  for (const [label, experts] of variants) {
    assert.equal(experts.length, E);
    experts.forEach((w, e) => {
      for (let i = 0; i < I; i++) {
        assert.deepEqual(dequantAll(w.gate).subarray(i * H, (i + 1) * H), row(gu.values, e, 2 * I, H, 2 * i), `${label} gate ${e}/${i}`);
        assert.deepEqual(dequantAll(w.up).subarray(i * H, (i + 1) * H), row(gu.values, e, 2 * I, H, 2 * i + 1), `${label} up ${e}/${i}`);
      }
      assert.deepEqual(dequantAll(w.down), dn.values.subarray(e * H * I, (e + 1) * H * I), `${label} down ${e}`);
      assert.deepEqual(Array.from(w.gateBias!), Array.from({ length: I }, (_, i) => (e * 2 * I + 2 * i) / 8));
      assert.deepEqual(Array.from(w.upBias!), Array.from({ length: I }, (_, i) => (e * 2 * I + 2 * i + 1) / 8));
      assert.deepEqual(Array.from(w.downBias!), Array.from({ length: H }, (_, h) => -(e * H + h) / 8));
    });
  }
  // Nothing is upcast: bf16 stays 2 bytes per weight, MXFP4 stays 4.25 bits (16 + 1 bytes per 32).
  const bf16 = variants[1]![1][0]!;
  assert.equal(bf16.gate.format, 'bf16');
  assert.equal(weightBytes(bf16.gate), I * H * 2);
  assert.equal(mxfp4[0]!.down.format, 'mxfp4');
  assert.equal(weightBytes(mxfp4[0]!.gate) + weightBytes(mxfp4[0]!.up) + weightBytes(mxfp4[0]!.down), (3 * I * H * 17) / 32);
  // down_proj is used in place: every expert views the one buffer the stacked tensor was read into.
  assert.equal(mxfp4[0]!.down.data.buffer, mxfp4[E - 1]!.down.data.buffer);
});

test('expert surgery: a wrongly shaped expert tensor is a clear error naming it', () => {
  const p = 'model.layers.0.mlp.experts';
  const zeros = (n: number) => new Uint8Array(n * 4);
  const source = new MemorySource()
    .add(`${p}.gate_up_proj_bias`, 'F32', [2, 64], zeros(128))
    .add(`${p}.down_proj_bias`, 'F32', [2, 32], zeros(64))
    .add(`${p}.gate_up_proj`, 'F32', [2, 64, 32], zeros(4096));
  assert.throws(
    () => loadGptOssExperts(new WeightStore(source, ref, { kind: 'none' }, 'memory'), p, 2, 32, 32),
    (err: Error) => err instanceof OwlError && /gate_up_proj.*expected shape \[2, 32, 64\], found \[2, 64, 32\]/.test(err.message),
  );
});
