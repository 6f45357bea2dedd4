/**
 * The normalised, typed description of a model that every other module is built from.
 * One ModelSpec describes Qwen3 (dense and MoE), DeepSeek-V3 / Kimi-K2 and GPT-OSS alike;
 * family-specific choices are explicit variants here, never re-read from raw config.json.
 */
import { OwlError } from '../errors.js';

export type Family = 'qwen3' | 'deepseek_v3' | 'gpt_oss';

/** Weight dtypes that can appear in checkpoints (storage dtypes, not compute dtypes). */
export type StorageDtype = 'float32' | 'float16' | 'bfloat16';

export interface YarnScaling {
  kind: 'yarn';
  factor: number;
  originalMaxPositions: number;
  betaFast: number;
  betaSlow: number;
  /** DeepSeek-style mscale / mscale_all_dim; null when the config does not give them. */
  mscale: number | null;
  mscaleAllDim: number | null;
  /** Floor/ceil the correction range (true everywhere except GPT-OSS, which says truncate: false). */
  truncate: boolean;
  /** Explicit attention_factor from the config, if any (overrides the derived one). */
  attentionFactor: number | null;
}

export type RopeScaling = { kind: 'none' } | YarnScaling;

export interface RopeSpec {
  theta: number;
  /** Number of rotated dimensions per head (head_dim for GQA, qk_rope_head_dim for MLA). */
  dim: number;
  /** 'half': NeoX rotate-half pairs (i, i + d/2). 'interleaved': GPT-J adjacent pairs (2i, 2i+1). */
  layout: 'half' | 'interleaved';
  scaling: RopeScaling;
}

export interface GqaAttentionSpec {
  kind: 'gqa';
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  /** Biases on q/k/v projections (GPT-OSS). */
  qkvBias: boolean;
  /** Bias on the output projection (GPT-OSS). */
  oBias: boolean;
  /** Learned per-head sink logit joined to the softmax (GPT-OSS). */
  sinks: boolean;
}

export interface MlaAttentionSpec {
  kind: 'mla';
  numHeads: number;
  /** null: direct q_proj; otherwise q_a_proj -> q_a_layernorm -> q_b_proj. */
  qLoraRank: number | null;
  kvLoraRank: number;
  qkNopeHeadDim: number;
  qkRopeHeadDim: number;
  vHeadDim: number;
  /** eps of q_a_layernorm and kv_a_layernorm (transformers hard-codes 1e-6). */
  latentNormEps: number;
}

export type AttentionSpec = GqaAttentionSpec | MlaAttentionSpec;

/** How router logits become expert choices and weights. */
export type RouterSpec =
  /** Qwen3-MoE: softmax over all experts, top-k, renormalise if normTopK. */
  | { kind: 'softmax_topk'; normTopK: boolean }
  /** GPT-OSS: top-k over raw logits, softmax over the k chosen. */
  | { kind: 'topk_softmax' }
  /** DeepSeek-V3: sigmoid scores, bias only for choosing, group-limited, scaled. */
  | {
      kind: 'sigmoid_grouped';
      numGroups: number;
      topkGroups: number;
      normTopK: boolean;
      routedScaling: number;
      /** e_score_correction_bias present (noaux_tc). */
      correctionBias: boolean;
    };

export type Activation =
  | { kind: 'swiglu' }
  /** GPT-OSS: gate = min(gate, limit); up = clamp(up, -limit, limit); (up + 1) * gate * sigmoid(alpha * gate). */
  | { kind: 'swiglu_clamped'; limit: number; alpha: number };

export interface MoeSpec {
  numExperts: number;
  topK: number;
  /** Intermediate size of each routed expert. */
  expertIntermediate: number;
  numShared: number;
  /** Intermediate size of the (fused) shared expert MLP, 0 when there is none. */
  sharedIntermediate: number;
  router: RouterSpec;
  /** Router linear has a bias (GPT-OSS). */
  routerBias: boolean;
  /** Expert linears have biases (GPT-OSS). */
  expertBias: boolean;
}

export interface LayerSpec {
  mlp: 'dense' | 'moe';
  attention: 'full' | 'sliding';
}

export type QuantSpec =
  | { kind: 'none' }
  /** DeepSeek FP8: e4m3 weights with float32 weight_scale_inv per [rows, cols] block. */
  | { kind: 'fp8'; blockSize: [number, number]; fmt: 'e4m3' }
  /** GPT-OSS MXFP4 experts: E2M1 pairs + E8M0 scale per 32 values; other modules unquantised. */
  | { kind: 'mxfp4'; modulesToNotConvert: string[] };

export interface ModelSpec {
  family: Family;
  /** model_type as written in config.json (qwen3, qwen3_moe, deepseek_v3, kimi_k2, gpt_oss). */
  modelType: string;
  /** Display name: preset name, folder name or file name. */
  name: string;
  /** Where the config came from (path or preset id), for error messages and provenance. */
  source: string;

  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  /** Intermediate size of dense MLP layers. */
  intermediateSize: number;
  rmsNormEps: number;
  tieEmbeddings: boolean;
  maxPositions: number;
  /** Window for 'sliding' layers (keys i - window < j <= i), null when no layer slides. */
  slidingWindow: number | null;

  attention: AttentionSpec;
  rope: RopeSpec;
  activation: Activation;
  /** Per layer: dense or MoE MLP, full or sliding attention. */
  layers: LayerSpec[];
  moe: MoeSpec | null;

  /** Storage dtype of unquantised weights (config dtype / torch_dtype). */
  dtype: StorageDtype;
  quant: QuantSpec;
  /** DeepSeek multi-token-prediction layers stored after the main layers (num_nextn_predict_layers). */
  mtpLayers: number;

  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
}

/** Error raised for a config that cannot be turned into a ModelSpec; names the file and field. */
export class ConfigError extends OwlError {
  override name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly field: string | null,
    message: string,
  ) {
    super(`${source}: ${field ? `field "${field}": ` : ''}${message}`);
  }
}
