/**
 * Parameter counts under the conventions model cards use. Every count is a sum over modelTensors(),
 * so what each includes is decided by the tensor list and stated once, here.
 */
import type { ModelSpec } from '../config/spec.js';
import { elements, modelTensors, type TensorGroup, type TensorPart } from '../config/checkpoint-tensors.js';

export type PartCounts = Record<TensorPart, number>;

export interface ParamCounts {
  /** Every stored weight of the main model (MTP module apart). */
  total: number;
  /** Weights used for one token, counting the whole embedding and LM head matrices. */
  active: number;
  /** `active` without the input embedding (gpt-oss card's convention; a tied matrix counts as the embedding). */
  active_no_embedding: number;
  /** `active` without the embedding and an untied LM head (Moonlight's "excluding embedding" convention). */
  active_non_embedding: number;
  /** `total` without the input embedding and an untied LM head (Qwen cards' convention). */
  non_embedding: number;
  /** DeepSeek MTP module: unique weights (its layer, enorm, hnorm, eh_proj, head norm); 0 when absent. */
  mtp: number;
  /** MTP weights used per token, not counting the embedding and head it shares with the main model. */
  mtp_active: number;
  /** Every tensor element a checkpoint stores: main + MTP + the MTP's own embedding/head copies. */
  stored: number;
  /** Main model by part. */
  breakdown: PartCounts;
  /** Active main-model weights by part. */
  active_breakdown: PartCounts;
}

const PARTS: TensorPart[] = [
  'embedding',
  'lm_head',
  'attention',
  'norm',
  'dense_mlp',
  'router',
  'routed_experts',
  'shared_experts',
  'mtp_proj',
];

function zeroParts(): PartCounts {
  return Object.fromEntries(PARTS.map((p) => [p, 0])) as PartCounts;
}

function activeElements(t: TensorGroup): number {
  return (elements(t) / t.copies) * t.activeCopies;
}

export function countParams(spec: ModelSpec, tensors: TensorGroup[] = modelTensors(spec)): ParamCounts {
  const breakdown = zeroParts();
  const activeBreakdown = zeroParts();
  let mtp = 0;
  let mtpActive = 0;
  let stored = 0;
  for (const t of tensors) {
    const n = elements(t);
    stored += n;
    if (t.owner === 'mtp') {
      mtp += n;
      mtpActive += activeElements(t);
    } else if (t.owner === 'main') {
      breakdown[t.part] += n;
      activeBreakdown[t.part] += activeElements(t);
    }
  }
  const sum = (c: PartCounts) => PARTS.reduce((a, p) => a + c[p], 0);
  const total = sum(breakdown);
  const active = sum(activeBreakdown);
  const embedding = breakdown.embedding;
  const head = breakdown.lm_head;
  return {
    total,
    active,
    active_no_embedding: active - embedding,
    active_non_embedding: active - embedding - head,
    non_embedding: total - embedding - head,
    mtp,
    mtp_active: mtpActive,
    stored,
    breakdown,
    active_breakdown: activeBreakdown,
  };
}
