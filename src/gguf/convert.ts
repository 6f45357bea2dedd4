/**
 * Hugging Face checkpoint -> GGUF tensors and metadata, as llama.cpp's convert_hf_to_gguf.py lays them
 * out: the tensor-map.ts views run in the writing direction, every tensor decoded to f32 (FP8 with its
 * block scales) and encoded in the chosen type, except MXFP4 experts, which are repacked losslessly.
 */
import { RefBackend } from '../backend/ref/ref-backend.js';
import type { ModelSpec } from '../config/spec.js';
import { WeightStore, decodeFloats } from '../models/weight-store.js';
import { dequantAll } from '../tensor/weight.js';
import type { TensorSource } from '../weights/source.js';
import { ggmlType, LLAMA_FILE_TYPE, type GgmlTypeInfo } from './constants.js';
import { archOf, modelMetadata } from './metadata.js';
import { encodeFromF32, hfToGgmlMxfp4 } from './quants.js';
import { GgufError, type GgufKv } from './reader.js';
import { fill, perLayer, TENSOR_TABLES, type TensorRule } from './tensor-map.js';

export type OutType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_k';
export const OUT_TYPES: readonly OutType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0', 'q4_k'];

export interface GgufTensorPlan {
  name: string;
  ne: number[];
  type: GgmlTypeInfo;
  produce(): Uint8Array;
}

export interface GgufPlan {
  kvs: GgufKv[];
  tensors: GgufTensorPlan[];
  /** Checkpoint tensors no rule converted (and not deliberately dropped). */
  unused: string[];
}

/**
 * Which ggml type a tensor gets, by llama.cpp's converter rules: 1-D tensors, norms, biases and the
 * router stay F32; Q8_0 (and Q4_0, which llama.cpp's converter lacks) need rows of 32 and fall back to F16 otherwise.
 * Q4_K (llama-quantize's type) needs rows of 256 and falls back to Q8_0 (llama.cpp: Q5_0, which Owl lacks).
 */
export function ggufTypeFor(name: string, ne: number[], out: OutType): GgmlTypeInfo {
  if (ne.length <= 1 || name.endsWith('_norm.weight') || !name.endsWith('.weight') || /\.ffn_gate_inp(_shexp)?\.weight$/.test(name))
    return ggmlType('F32');
  if (out === 'q4_k' && ne[0]! % 256 === 0) return ggmlType('Q4_K');
  if (out === 'q8_0' || out === 'q4_0' || out === 'q4_k') return ggmlType(ne[0]! % 32 === 0 ? (out === 'q4_0' ? 'Q4_0' : 'Q8_0') : 'F16');
  return ggmlType(out.toUpperCase());
}

function fileType(out: OutType, mxfp4: boolean): number {
  if (out === 'q8_0') return LLAMA_FILE_TYPE.MOSTLY_Q8_0;
  if (out === 'q4_0') return LLAMA_FILE_TYPE.MOSTLY_Q4_0;
  if (out === 'q4_k') return LLAMA_FILE_TYPE.MOSTLY_Q4_K_S;
  if (mxfp4) return LLAMA_FILE_TYPE.MOSTLY_MXFP4_MOE;
  return { f32: LLAMA_FILE_TYPE.ALL_F32, f16: LLAMA_FILE_TYPE.MOSTLY_F16, bf16: LLAMA_FILE_TYPE.MOSTLY_BF16 }[out];
}

/** Tensors a checkpoint may hold that a GGUF file leaves out on purpose. */
function dropped(name: string, spec: ModelSpec): boolean {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  if (m && Number(m[1]) >= spec.numLayers) return true; // DeepSeek multi-token-prediction layers
  return name.endsWith('.rotary_emb.inv_freq') || name.endsWith('_scale_inv');
}

/** Plan a GGUF file for a checkpoint: metadata (plus the given tokenizer keys) and lazily produced tensors. */
export function planGguf(spec: ModelSpec, src: TensorSource, out: OutType, tokenizerKvs: GgufKv[], where: string): GgufPlan {
  const arch = archOf(spec);
  const store = new WeightStore(src, new RefBackend(), spec.quant, where);
  const consumed = new Set<string>();
  const info = (name: string) => src.info(name);
  const f32 = (name: string): Float32Array => {
    const t = info(name);
    const cols = t.shape.slice(1).reduce((a, b) => a * b, 1);
    // Packed ggml blocks (a GGUF source): rows of whole blocks, decoded with the reference decoders.
    if (t.format) return dequantAll({ format: t.format, rows: 1, cols: t.shape.reduce((a, b) => a * b, 1), data: src.read(name) });
    if (t.dtype === 'F8_E4M3') return dequantAll(store.asWeight(name, src.read(name), t.dtype, t.shape[0]!, cols));
    return decodeFloats(src.read(name), t.dtype, () => store.fail(name, `dtype ${t.dtype} cannot be converted to GGUF`));
  };
  const tensors: GgufTensorPlan[] = [];
  const emit = (name: string, shape: number[], values: () => Float32Array) => {
    const ne = [...shape].reverse();
    const type = ggufTypeFor(name, ne, out);
    tensors.push({ name, ne, type, produce: () => encodeFromF32(type.name as 'F32', values(), ne[0]!) });
  };
  let mxfp4 = false;

  for (const rule of TENSOR_TABLES[arch]) {
    const layers = perLayer(rule.gguf[0]!) ? Array.from({ length: spec.numLayers }, (_, i) => i) : [0];
    for (const i of layers) {
      const hf = rule.hf.map((n) => fill(n, i, 0));
      if (!hf.every((n) => src.has(n) && !consumed.has(n))) continue;
      const g = rule.gguf.map((n) => fill(n, i));
      if (rule.kind === 'experts') {
        const E = spec.moe!.numExperts;
        const names = Array.from({ length: E }, (_, e) => fill(rule.hf[0]!, i, e));
        const missing = names.find((n) => !src.has(n));
        if (missing) throw new GgufError(`${where}: tensor "${missing}" is missing (experts are stored per expert)`);
        names.forEach((n) => consumed.add(n));
        const [rows, cols] = info(names[0]!).shape as [number, number];
        emit(g[0]!, [E, rows, cols], () => {
          const all = new Float32Array(E * rows * cols);
          names.forEach((n, e) => all.set(f32(n), e * rows * cols));
          return all;
        });
        continue;
      }
      hf.forEach((n) => consumed.add(n));
      planRule(rule, g, hf, spec, info, f32, src, emit, tensors, () => (mxfp4 = true));
    }
  }
  // llama.cpp's order: embeddings, then layer by layer, then the head.
  const rank = (n: string) => (n.startsWith('token_embd') ? -1 : /^blk\.(\d+)\./.test(n) ? Number(/^blk\.(\d+)\./.exec(n)![1]) : Infinity);
  tensors.sort((a, b) => rank(a.name) - rank(b.name));
  const unused = [...src.tensors.keys()].filter((n) => !consumed.has(n) && !dropped(n, spec));
  const kvs = [...modelMetadata(spec, fileType(out, mxfp4)), ...tokenizerKvs];
  return { kvs, tensors, unused };
}

type Emit = (name: string, shape: number[], values: () => Float32Array) => void;

function planRule(
  rule: TensorRule,
  g: string[],
  hf: string[],
  spec: ModelSpec,
  info: TensorSource['info'],
  f32: (name: string) => Float32Array,
  src: TensorSource,
  emit: Emit,
  tensors: GgufTensorPlan[],
  sawMxfp4: () => void,
): void {
  const shape = info(hf[0]!).shape;
  switch (rule.kind) {
    case 'rename':
      return emit(g[0]!, shape, () => f32(hf[0]!));
    case 'kv_b': {
      // kv_b_proj [H·(nope+v), kv_lora] -> k_b [H, kv_lora, nope] (each head's block transposed), v_b [H, v, kv_lora].
      const att = spec.attention;
      if (att.kind !== 'mla') throw new GgufError(`kv_b_proj in a model without MLA`);
      const { numHeads: H, qkNopeHeadDim: nope, vHeadDim: dv, kvLoraRank: c } = att;
      emit(g[0]!, [H, c, nope], () => {
        const w = f32(hf[0]!);
        const o = new Float32Array(H * c * nope);
        for (let h = 0; h < H; h++) for (let n = 0; n < nope; n++) for (let k = 0; k < c; k++) o[(h * c + k) * nope + n] = w[(h * (nope + dv) + n) * c + k]!;
        return o;
      });
      emit(g[1]!, [H, dv, c], () => {
        const w = f32(hf[0]!);
        const o = new Float32Array(H * dv * c);
        for (let h = 0; h < H; h++) o.set(w.subarray((h * (nope + dv) + nope) * c, (h + 1) * (nope + dv) * c), h * dv * c);
        return o;
      });
      return;
    }
    case 'gate_up_xw': {
      // gate_up_proj [E, hidden, 2·inter] (x @ W, gate even columns, up odd) -> gate, up [E, inter, hidden].
      const [E, D, I2] = shape as [number, number, number];
      const I = I2 / 2;
      for (const part of [0, 1])
        emit(g[part]!, [E, I, D], () => {
          const w = f32(hf[0]!);
          const o = new Float32Array(E * I * D);
          for (let e = 0; e < E; e++) for (let r = 0; r < I; r++) for (let k = 0; k < D; k++) o[(e * I + r) * D + k] = w[(e * D + k) * I2 + 2 * r + part]!;
          return o;
        });
      return;
    }
    case 'down_xw': {
      const [E, I, D] = shape as [number, number, number];
      return emit(g[0]!, [E, D, I], () => {
        const w = f32(hf[0]!);
        const o = new Float32Array(E * D * I);
        for (let e = 0; e < E; e++) for (let r = 0; r < I; r++) for (let k = 0; k < D; k++) o[(e * D + k) * I + r] = w[(e * I + r) * D + k]!;
        return o;
      });
    }
    case 'gate_up_bias': {
      const [E, I2] = shape as [number, number];
      for (const part of [0, 1])
        emit(g[part]!, [E, I2 / 2], () => {
          const w = f32(hf[0]!);
          return w.filter((_, j) => j % 2 === part);
        });
      return;
    }
    case 'gate_up_mxfp4':
    case 'down_mxfp4': {
      // Blocks [E, R, K/32, 16] + scales [E, R, K/32]; gate_up rows interleaved (even gate, odd up).
      sawMxfp4();
      const [E, R, nb] = shape as [number, number, number];
      const split = rule.kind === 'gate_up_mxfp4';
      const rows = split ? R / 2 : R;
      const type = ggmlType('MXFP4');
      for (const part of split ? [0, 1] : [0])
        tensors.push({
          name: g[part]!,
          ne: [nb * 32, rows, E],
          type,
          produce: () => {
            const blocks = src.read(hf[0]!);
            const scales = src.read(hf[1]!);
            const pick = (a: Uint8Array, per: number) => {
              const o = new Uint8Array(E * rows * per);
              for (let e = 0; e < E; e++)
                for (let r = 0; r < rows; r++) {
                  const from = e * R + (split ? 2 * r + part : r);
                  o.set(a.subarray(from * per, (from + 1) * per), (e * rows + r) * per);
                }
              return o;
            };
            return hfToGgmlMxfp4(pick(blocks, nb * 16), pick(scales, nb));
          },
        });
      return;
    }
  }
}
