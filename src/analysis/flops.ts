/**
 * Forward FLOPs for one token that sees `context` tokens (itself included):
 *   2 x active weights except the embedding lookup (attention, MLPs, routers, top-k + shared
 *       experts, LM head even when tied to the embedding; norm scales and biases, < 0.01%, count as
 *       one multiply-add each like the matmul weights)
 * + sum over layers of 2 x query heads x (d_qk + d_v) x attended tokens
 *       (QK^T scores and the weighted sum of V; sliding layers attend min(context, window);
 *        MLA counted with its naive per-head dims, nope + rope for q.k and v_head_dim for v).
 * Activations, softmax and RoPE are left out; the MTP module is not part of the forward pass.
 */
import type { ModelSpec } from '../config/spec.js';
import { countParams } from './params.js';
import { modelTensors, type TensorGroup } from '../config/checkpoint-tensors.js';

export interface FlopsReport {
  context: number;
  per_token: number;
  /** 2 x active weights except the embedding lookup. */
  matmul: number;
  /** Attention scores and weighted values. */
  attention: number;
}

/** Active weights a token multiplies with: active minus the embedding lookup, plus a tied LM head. */
export function activeComputeWeights(spec: ModelSpec, tensors: TensorGroup[] = modelTensors(spec)): number {
  const tiedHead = spec.tieEmbeddings ? spec.vocabSize * spec.hiddenSize : 0;
  return countParams(spec, tensors).active_no_embedding + tiedHead;
}

/** q.k and v dims of one query head. */
function headDims(spec: ModelSpec): { qk: number; v: number; heads: number } {
  const a = spec.attention;
  if (a.kind === 'gqa') return { qk: a.headDim, v: a.headDim, heads: a.numHeads };
  return { qk: a.qkNopeHeadDim + a.qkRopeHeadDim, v: a.vHeadDim, heads: a.numHeads };
}

export function attentionFlops(spec: ModelSpec, context: number): number {
  const { qk, v, heads } = headDims(spec);
  let attended = 0;
  for (const l of spec.layers)
    attended += l.attention === 'sliding' ? Math.min(context, spec.slidingWindow ?? context) : context;
  return 2 * heads * (qk + v) * attended;
}

export function forwardFlopsPerToken(
  spec: ModelSpec,
  context: number,
  tensors: TensorGroup[] = modelTensors(spec),
): FlopsReport {
  const matmul = 2 * activeComputeWeights(spec, tensors);
  const attention = attentionFlops(spec, context);
  return { context, per_token: matmul + attention, matmul, attention };
}

/**
 * Training FLOPs per token for sequences of `seqLen` (forward + backward = 3 x forward), each token
 * attending seqLen / 2 on average under the causal mask: the convention of DeepSeek's ISCA'25 Table 2.
 */
export function trainingFlopsPerToken(spec: ModelSpec, seqLen: number, tensors?: TensorGroup[]): number {
  return 3 * forwardFlopsPerToken(spec, seqLen / 2, tensors).per_token;
}
