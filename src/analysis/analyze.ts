/** One model's full analysis, in the shape `owl compare --format json` prints (snake_case keys). */
import type { ModelSpec } from '../config/spec.js';
import { OwlError } from '../errors.js';
import { checkpointReport, type CheckpointReport } from './checkpoint.js';
import { longContext, type LongContextReport } from './context.js';
import { forwardFlopsPerToken, type FlopsReport } from './flops.js';
import { kvCacheReport, type KvCacheReport, type KvDtype } from './kv-cache.js';
import { moeShape, type MoeReport } from './moe.js';
import { countParams, type ParamCounts } from './params.js';
import { modelTensors } from '../config/checkpoint-tensors.js';

export const DEFAULT_CONTEXTS = [4096, 32768, 131072];

export interface AnalysisOptions {
  kvDtype: KvDtype;
  /** Context lengths for kv_cache.bytes_at. */
  contexts: number[];
  /** Context length for flops. */
  flopsContext: number;
}

export const DEFAULT_OPTIONS: AnalysisOptions = { kvDtype: 'bf16', contexts: DEFAULT_CONTEXTS, flopsContext: 4096 };

export interface AttentionReport {
  kind: 'gqa' | 'mla';
  summary: string;
  heads: number;
  /** GQA only. */
  kv_heads: number | null;
  qk_head_dim: number;
  v_head_dim: number;
  rope_head_dim: number;
  /** MLA only. */
  kv_lora_rank: number | null;
  q_lora_rank: number | null;
  sliding_window: number | null;
  sliding_layers: number;
}

export interface ModelAnalysis {
  name: string;
  model_type: string;
  family: ModelSpec['family'];
  source: string;
  layers: number;
  hidden_size: number;
  vocab_size: number;
  tied_embeddings: boolean;
  attention: AttentionReport;
  params: ParamCounts;
  kv_cache: KvCacheReport;
  flops: FlopsReport;
  long_context: LongContextReport;
  moe: MoeReport | null;
  weights: CheckpointReport;
}

/** What each count includes; printed under every table since model cards differ. */
export const COUNTING_NOTES: readonly string[] = [
  'total: every stored weight of the main model (embedding, LM head unless tied, norms, attention, MLPs, routers, all experts); DeepSeek\'s MTP module is counted apart (mtp).',
  'active: weights used for one token: attention, norms, dense MLPs, router + top-k experts + shared experts per MoE layer, and the whole embedding and LM head matrices.',
  'active excl. embedding: active without the input embedding (gpt-oss card convention; a tied matrix counts as the embedding). active non-emb.: also without an untied LM head (Moonlight\'s "excluding embedding").',
  'non-embedding: total without the input embedding and an untied LM head (Qwen cards\' convention).',
  'KV/token: what each further token adds at long context (sliding-window layers stop growing); KV @n: whole cache for n tokens (sliding layers hold min(n, window)). MHA equivalent: same layers caching K and V for every query head. MTP layers not counted.',
  'FLOPs/token at context n: 2 x active weights (LM head included, tied or not; embedding lookup not) + per layer 2 x heads x (d_qk + d_v) x attended tokens (sliding layers: min(n, window); MLA with its naive per-head dims).',
  'checkpoint: bytes of all stored tensors in the published format, including the MTP layer and its own embedding/head copies where the model has one. FP8: 1 byte per attention/MLP/expert Linear weight + one f32 scale per block; MXFP4: expert matrices at 4.25 bits (16-byte blocks of 32 + 1 scale byte); the rest in the config dtype.',
];

function attentionReport(spec: ModelSpec): AttentionReport {
  const a = spec.attention;
  const sliding = spec.layers.filter((l) => l.attention === 'sliding').length;
  const window = sliding > 0 ? spec.slidingWindow : null;
  if (a.kind === 'gqa') {
    const extras = [a.qkNorm && 'qk-norm', a.qkvBias && 'bias', a.sinks && 'sinks'].filter(Boolean);
    const kind = a.numKvHeads === a.numHeads ? 'MHA' : a.numKvHeads === 1 ? 'MQA' : 'GQA';
    return {
      kind: 'gqa',
      summary: `${kind} ${a.numHeads}q/${a.numKvHeads}kv x${a.headDim}${extras.length ? `, ${extras.join(', ')}` : ''}`,
      heads: a.numHeads,
      kv_heads: a.numKvHeads,
      qk_head_dim: a.headDim,
      v_head_dim: a.headDim,
      rope_head_dim: a.headDim,
      kv_lora_rank: null,
      q_lora_rank: null,
      sliding_window: window,
      sliding_layers: sliding,
    };
  }
  return {
    kind: 'mla',
    summary: `MLA ${a.numHeads}h, kv ${a.kvLoraRank}+${a.qkRopeHeadDim}${a.qLoraRank ? `, q-LoRA ${a.qLoraRank}` : ''}`,
    heads: a.numHeads,
    kv_heads: null,
    qk_head_dim: a.qkNopeHeadDim + a.qkRopeHeadDim,
    v_head_dim: a.vHeadDim,
    rope_head_dim: a.qkRopeHeadDim,
    kv_lora_rank: a.kvLoraRank,
    q_lora_rank: a.qLoraRank,
    sliding_window: window,
    sliding_layers: sliding,
  };
}

export function checkOptions(o: AnalysisOptions): void {
  for (const n of [...o.contexts, o.flopsContext])
    if (!Number.isSafeInteger(n) || n <= 0) throw new OwlError(`context length must be a positive integer, got ${n}`);
}

export function analyzeModel(spec: ModelSpec, options: Partial<AnalysisOptions> = {}): ModelAnalysis {
  const o = { ...DEFAULT_OPTIONS, ...options };
  checkOptions(o);
  const tensors = modelTensors(spec);
  return {
    name: spec.name,
    model_type: spec.modelType,
    family: spec.family,
    source: spec.source,
    layers: spec.numLayers,
    hidden_size: spec.hiddenSize,
    vocab_size: spec.vocabSize,
    tied_embeddings: spec.tieEmbeddings,
    attention: attentionReport(spec),
    params: countParams(spec, tensors),
    kv_cache: kvCacheReport(spec, o.kvDtype, o.contexts),
    flops: forwardFlopsPerToken(spec, o.flopsContext, tensors),
    long_context: longContext(spec),
    moe: moeShape(spec),
    weights: checkpointReport(spec, tensors),
  };
}
