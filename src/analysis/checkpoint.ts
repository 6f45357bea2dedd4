/**
 * Checkpoint size from the spec's storage dtype and quantisation, tensor by tensor as the published
 * safetensors store them:
 * - FP8 (DeepSeek): every attention/MLP/expert Linear in e4m3 (1 byte) plus one float32 scale per
 *   [rows, cols] block, ceil'd per matrix; embeddings, norms, routers, heads and eh_proj in the model dtype.
 * - MXFP4 (GPT-OSS): expert matrices as 16-byte blocks of 32 E2M1 values plus one E8M0 scale byte per
 *   32 (4.25 bits per weight); everything else (attention, biases, sinks, router) in the model dtype.
 * - e_score_correction_bias is float32 in every case.
 * The MTP layers and their copies of the embedding and head are included: checkpoints store them.
 */
import type { ModelSpec, StorageDtype } from '../config/spec.js';
import { elements, modelTensors, type TensorGroup } from '../config/checkpoint-tensors.js';

/** safetensors dtype names. */
export type StoredDtype = 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'U8';

const DTYPE_BYTES: Record<StoredDtype, number> = { F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, U8: 1 };
const OF_STORAGE: Record<StorageDtype, StoredDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
const MXFP4_BLOCK = 32;

export interface CheckpointReport {
  /** Model dtype of the unquantised tensors. */
  dtype: StorageDtype;
  checkpoint_bytes: number;
  /** Stored elements per safetensors dtype (MXFP4 blocks and scales are U8). */
  elements_by_dtype: Partial<Record<StoredDtype, number>>;
  /** Whether the MTP module (and its embedding/head copies) is part of checkpoint_bytes. */
  includes_mtp: boolean;
  /** Short description, e.g. "MXFP4 experts, BF16 rest". */
  format: string;
}

function storedParts(spec: ModelSpec, t: TensorGroup): Array<[StoredDtype, number]> {
  const base = OF_STORAGE[spec.dtype];
  if (t.float32) return [['F32', elements(t)]];
  const q = spec.quant;
  if (q.kind === 'fp8' && t.quantisable && t.matrix) {
    const [br, bc] = q.blockSize;
    const scales = Math.ceil(t.matrix.out / br) * Math.ceil(t.matrix.in / bc) * t.copies;
    return [
      ['F8_E4M3', elements(t)],
      ['F32', scales],
    ];
  }
  if (q.kind === 'mxfp4' && t.quantisable && t.matrix && t.part === 'routed_experts') {
    const blocks = t.copies * t.matrix.out * Math.ceil(t.matrix.in / MXFP4_BLOCK);
    return [['U8', blocks * (MXFP4_BLOCK / 2 + 1)]];
  }
  return [[base, elements(t)]];
}

function describe(spec: ModelSpec): string {
  const base = OF_STORAGE[spec.dtype];
  const q = spec.quant;
  if (q.kind === 'fp8')
    return `FP8 (${q.blockSize.join('x')} blocks), ${base} rest`;
  if (q.kind === 'mxfp4') return `MXFP4 experts, ${base} rest`;
  return `${base}`;
}

export function checkpointReport(spec: ModelSpec, tensors: TensorGroup[] = modelTensors(spec)): CheckpointReport {
  const byDtype: Partial<Record<StoredDtype, number>> = {};
  let bytes = 0;
  for (const t of tensors)
    for (const [dtype, n] of storedParts(spec, t)) {
      byDtype[dtype] = (byDtype[dtype] ?? 0) + n;
      bytes += n * DTYPE_BYTES[dtype];
    }
  return { dtype: spec.dtype, checkpoint_bytes: bytes, elements_by_dtype: byDtype, includes_mtp: spec.mtpLayers > 0, format: describe(spec) };
}

/**
 * Weight bytes one decoded token reads in the checkpoint's formats: every main-model tensor used
 * for a token (top-k experts only), with the embedding counted as the one row looked up.
 * Divided into the memory bandwidth, it gives the decode speed ceiling.
 */
export function activeWeightBytesPerToken(spec: ModelSpec, tensors: TensorGroup[] = modelTensors(spec)): number {
  let bytes = 0;
  for (const t of tensors) {
    if (t.owner !== 'main') continue;
    // A tied head reads the whole embedding matrix; otherwise the lookup reads one row.
    const share = t.part === 'embedding' ? (spec.tieEmbeddings ? 1 : 1 / spec.vocabSize) : t.activeCopies / t.copies;
    for (const [dtype, n] of storedParts(spec, t)) bytes += n * DTYPE_BYTES[dtype] * share;
  }
  return Math.round(bytes);
}
