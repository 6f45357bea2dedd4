/**
 * GPT-OSS: GQA with q/k/v/o biases and learned sinks, layers alternating sliding/full attention,
 * YaRN RoPE, and in every layer an MoE of clamped-SwiGLU experts routed by a softmax over the
 * top-k router logits. Experts are bf16/f32 or MXFP4 (kept packed, decoded in the kernels).
 */
import type { Backend } from '../backend/backend.js';
import type { ModelSpec } from '../config/spec.js';
import { FILE_DTYPE_BYTES } from '../tensor/dtype.js';
import { GGML_BLOCK, type GgmlBlockFormat, type Weight } from '../tensor/weight.js';
import { GatedMlp, type GatedMlpWeights } from './blocks/mlp.js';
import { MoeBlock } from './blocks/moe.js';
import type { DecoderModel } from './decoder.js';
import { buildDecoder, loadGqaAttention } from './hf-blocks.js';
import type { WeightStore } from './weight-store.js';

export function buildGptOss(spec: ModelSpec, store: WeightStore, backend: Backend): DecoderModel {
  const moe = spec.moe!;
  const hidden = spec.hiddenSize;
  return buildDecoder(spec, store, backend, (p, kind) => {
    const experts = loadGptOssExperts(store, `${p}.mlp.experts`, moe.numExperts, hidden, moe.expertIntermediate);
    const mlp = new MoeBlock(
      backend,
      {
        router: store.matrix(`${p}.mlp.router.weight`, moe.numExperts, hidden),
        routerBias: store.vector(`${p}.mlp.router.bias`, moe.numExperts, [moe.numExperts]),
        experts: experts.map((w) => new GatedMlp(backend, w, spec.activation)),
      },
      moe.router,
      moe.topK,
      hidden,
    );
    return { attention: loadGqaAttention(spec, store, backend, `${p}.self_attn`, kind), mlp };
  });
}

// ---- Checkpoint surgery: the only place that knows how GPT-OSS stores its experts. ----
// Dense: gate_up_proj [E, hidden, 2·inter] and down_proj [E, inter, hidden] in x @ W layout, gate/up
// columns interleaved (even = gate, odd = up). MXFP4: *_blocks [E, rows, K/32, 16] + *_scales
// [E, rows, K/32] with rows = output features (gate_up rows interleaved), already nn.Linear layout.
// ggml blocks (GGUF Q8_0, Q4_K, ...; TensorInfo.format): like MXFP4, [E, rows, K] in nn.Linear layout.

/** One GatedMlpWeights per expert, in nn.Linear layout with gate and up separated. */
export function loadGptOssExperts(store: WeightStore, prefix: string, numExperts: number, hidden: number, inter: number): GatedMlpWeights[] {
  const E = numExperts;
  const gateUpBias = store.values(`${prefix}.gate_up_proj_bias`, E * 2 * inter, [E, 2 * inter]);
  const downBias = store.values(`${prefix}.down_proj_bias`, E * hidden, [E, hidden]);
  const mxfp4 = store.has(`${prefix}.gate_up_proj_blocks`);
  if (mxfp4 && store.quant.kind !== 'mxfp4')
    store.fail(`${prefix}.gate_up_proj_blocks`, 'is MXFP4 but config.json has no mxfp4 quantization_config');
  // Per expert: [gate rows | up rows] of the de-interleaved gate_up, and down.
  const gateUp = mxfp4
    ? mxfp4Experts(store, `${prefix}.gate_up_proj`, E, 2 * inter, hidden, true)
    : denseExperts(store, `${prefix}.gate_up_proj`, E, hidden, 2 * inter, true);
  const down = mxfp4
    ? mxfp4Experts(store, `${prefix}.down_proj`, E, hidden, inter, false)
    : denseExperts(store, `${prefix}.down_proj`, E, inter, hidden, false);
  return Array.from({ length: E }, (_, e) => {
    const b = gateUpBias.subarray(e * 2 * inter, (e + 1) * 2 * inter);
    return {
      gate: gateUp[e]![0]!,
      up: gateUp[e]![1]!,
      down: down[e]![0]!,
      gateBias: store.place(b.filter((_, j) => j % 2 === 0)),
      upBias: store.place(b.filter((_, j) => j % 2 === 1)),
      downBias: store.place(downBias.subarray(e * hidden, (e + 1) * hidden)),
    };
  });
}

/**
 * A dense stacked [E, K, N] (x @ W) tensor -> per expert nn.Linear weights [rows, K], copied once into
 * backend memory in the file dtype. split: N = 2·rows interleaved -> [gate, up]; else one [N, K].
 */
function denseExperts(store: WeightStore, name: string, E: number, K: number, N: number, split: boolean): Weight[][] {
  const { data, dtype, shape, format } = store.scratch(name);
  if (format) return packedExperts(store, name, data, format, shape, E, N, K, split);
  if (dtype !== 'F32' && dtype !== 'BF16' && dtype !== 'F16')
    store.fail(name, `dtype ${dtype} is not supported for experts (F32, BF16, F16 or MXFP4 *_blocks/*_scales)`);
  expectShape(store, name, shape, [E, K, N]);
  const elem = FILE_DTYPE_BYTES[dtype] as 2 | 4;
  const elements = (u8: Uint8Array) =>
    elem === 2 ? new Uint16Array(u8.buffer, u8.byteOffset, u8.length / 2) : new Uint32Array(u8.buffer, u8.byteOffset, u8.length / 4);
  const src = elements(data);
  const rows = split ? N / 2 : N;
  const step = split ? 2 : 1;
  const matrix = (e: number, first: number): Weight => {
    const bytes = store.backend.allocWeightBytes(rows * K * elem);
    const out = elements(bytes);
    const base = e * K * N + first;
    // out[r, k] = W[e, k, first + r·step]: transpose, picking every step-th column.
    for (let k = 0; k < K; k++) {
      const s = base + k * N;
      for (let r = 0; r < rows; r++) out[r * K + k] = src[s + r * step]!;
    }
    return store.asWeight(name, bytes, dtype, rows, K);
  };
  return Array.from({ length: E }, (_, e) => (split ? [matrix(e, 0), matrix(e, 1)] : [matrix(e, 0)]));
}

/**
 * MXFP4 `${name}_blocks`/`_scales` [E, R, K/32, ·] -> per expert mxfp4 Weights viewing backend memory.
 * split: R = 2·rows interleaved, de-interleaved by a row permutation of the packed bytes -> [gate, up];
 * otherwise the file bytes are used as read.
 */
function mxfp4Experts(store: WeightStore, name: string, E: number, R: number, K: number, split: boolean): Weight[][] {
  const blocksName = `${name}_blocks`;
  const scalesName = `${name}_scales`;
  if (K % 32 !== 0) store.fail(blocksName, `MXFP4 needs input features divisible by 32, got ${K}`);
  const nb = K / 32;
  const read = (n: string, expected: number[]) => {
    const t = split ? store.scratch(n) : store.bytes(n);
    if (t.dtype !== 'U8') store.fail(n, `expected dtype U8 for MXFP4, found ${t.dtype}`);
    expectShape(store, n, t.shape, expected);
    return t.data;
  };
  let blocks = read(blocksName, [E, R, nb, 16]);
  let scales = read(scalesName, [E, R, nb]);
  const rows = split ? R / 2 : R;
  if (split) {
    blocks = interleavedRowsToHalves(store.backend.allocWeightBytes(blocks.length), blocks, E, R, nb * 16);
    scales = interleavedRowsToHalves(store.backend.allocWeightBytes(scales.length), scales, E, R, nb);
  }
  const view = (e: number, part: number): Weight =>
    store.backend.prepareWeight({
      format: 'mxfp4',
      rows,
      cols: K,
      data: blocks.subarray((e * R + part * rows) * nb * 16, (e * R + (part + 1) * rows) * nb * 16),
      scales: scales.subarray((e * R + part * rows) * nb, (e * R + (part + 1) * rows) * nb),
    });
  return Array.from({ length: E }, (_, e) => (split ? [view(e, 0), view(e, 1)] : [view(e, 0)]));
}

/** ggml block experts [E, R, K] (rows of whole blocks) -> per expert Weights of that format; split as for MXFP4. */
function packedExperts(store: WeightStore, name: string, data: Uint8Array, format: GgmlBlockFormat, shape: number[], E: number, R: number, K: number, split: boolean): Weight[][] {
  expectShape(store, name, shape, [E, R, K]);
  const rowBytes = (K / GGML_BLOCK[format].elements) * GGML_BLOCK[format].bytes;
  const dest = store.backend.allocWeightBytes(data.length);
  const bytes = split ? interleavedRowsToHalves(dest, data, E, R, rowBytes) : (dest.set(data), dest);
  const rows = split ? R / 2 : R;
  const view = (e: number, part: number): Weight =>
    store.asWeight(name, bytes.subarray((e * R + part * rows) * rowBytes, (e * R + (part + 1) * rows) * rowBytes), 'U8', rows, K, format);
  return Array.from({ length: E }, (_, e) => (split ? [view(e, 0), view(e, 1)] : [view(e, 0)]));
}

/** Per expert, rows [g0, u0, g1, u1, ...] of R -> [g0, g1, ... | u0, u1, ...]: whole packed rows are moved. */
function interleavedRowsToHalves(dest: Uint8Array, src: Uint8Array, E: number, R: number, rowBytes: number): Uint8Array {
  for (let e = 0; e < E; e++)
    for (let j = 0; j < R; j++) {
      const from = (e * R + j) * rowBytes;
      dest.set(src.subarray(from, from + rowBytes), (e * R + (j % 2) * (R / 2) + (j >> 1)) * rowBytes);
    }
  return dest;
}

function expectShape(store: WeightStore, name: string, found: number[], expected: number[]): void {
  if (found.join(',') !== expected.join(','))
    store.fail(name, `expected shape [${expected.join(', ')}], found [${found.join(', ')}]`);
}
