/**
 * Hugging Face config.json -> ModelSpec. Accepts both the published style (top-level rope_theta +
 * rope_scaling, torch_dtype, num_experts) and the style transformers 5 writes (rope_parameters,
 * dtype, num_local_experts). Every failure names the file and the field.
 */
import {
  ConfigError,
  type Activation,
  type AttentionSpec,
  type Family,
  type LayerSpec,
  type ModelSpec,
  type MoeSpec,
  type QuantSpec,
  type RopeScaling,
  type RopeSpec,
  type StorageDtype,
} from './spec.js';

type Json = Record<string, unknown>;

const FAMILY_OF_MODEL_TYPE: Record<string, Family> = {
  qwen3: 'qwen3',
  qwen3_moe: 'qwen3',
  deepseek_v3: 'deepseek_v3',
  kimi_k2: 'deepseek_v3',
  gpt_oss: 'gpt_oss',
};

export const SUPPORTED_MODEL_TYPES = Object.keys(FAMILY_OF_MODEL_TYPE);

/** Typed accessors over a raw config object that raise ConfigError naming the field. */
class Fields {
  constructor(
    readonly raw: Json,
    readonly source: string,
  ) {}

  fail(field: string | null, message: string): never {
    throw new ConfigError(this.source, field, message);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  int(key: string, fallback?: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(key, 'is required but missing');
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(key, `must be an integer, got ${JSON.stringify(v)}`);
    return v;
  }

  positiveInt(key: string, fallback?: number): number {
    const v = this.int(key, fallback);
    if (v <= 0) this.fail(key, `must be positive, got ${v}`);
    return v;
  }

  nonNegativeInt(key: string, fallback?: number): number {
    const v = this.int(key, fallback);
    if (v < 0) this.fail(key, `must be >= 0, got ${v}`);
    return v;
  }

  optionalInt(key: string): number | null {
    return this.has(key) ? this.int(key) : null;
  }

  num(key: string, fallback?: number): number {
    const v = this.raw[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      this.fail(key, 'is required but missing');
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  intList(key: string): number[] | null {
    const v = this.raw[key];
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x)))
      this.fail(key, `must be a list of integers, got ${JSON.stringify(v)}`);
    return v as number[];
  }

  /** The same quantity under two names (old and new config style) must agree when both are present. */
  aliased(keys: string[], read: (key: string) => number, fallback?: number): number {
    const present = keys.filter((k) => this.has(k));
    if (present.length === 0) {
      if (fallback !== undefined) return fallback;
      this.fail(keys.join(' / '), 'is required but missing');
    }
    const values = present.map((k) => read(k));
    if (values.some((v) => v !== values[0]))
      this.fail(present.join(' / '), `contradictory values ${present.map((k, i) => `${k}=${values[i]}`).join(', ')}`);
    return values[0]!;
  }
}

/** Parse one config.json object. `source` is used in error messages; `name` is the display name. */
export function parseConfig(raw: unknown, source: string, name?: string): ModelSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError(source, null, 'config must be a JSON object');
  const f = new Fields(raw as Json, source);
  const rawType = f.raw['model_type'];
  if (typeof rawType !== 'string') return f.fail('model_type', 'is required but missing');
  const modelType: string = rawType;
  const family = FAMILY_OF_MODEL_TYPE[modelType];
  if (!family)
    return f.fail('model_type', `unknown architecture "${modelType}" (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);

  const common = parseCommon(f);
  const numLayers = common.numLayers;
  let body: FamilyParts;
  if (family === 'qwen3') body = parseQwen3(f, modelType, numLayers, common.hiddenSize);
  else if (family === 'deepseek_v3') body = parseDeepSeek(f, numLayers);
  else body = parseGptOss(f, numLayers, common.hiddenSize);

  const spec: ModelSpec = {
    family,
    modelType,
    name: name ?? source,
    source,
    ...common,
    ...body,
    dtype: parseDtype(f),
    quant: parseQuant(f),
  };
  validate(spec, f);
  return spec;
}

interface FamilyParts {
  attention: AttentionSpec;
  rope: RopeSpec;
  activation: Activation;
  layers: LayerSpec[];
  moe: MoeSpec | null;
  slidingWindow: number | null;
  mtpLayers: number;
}

function parseCommon(f: Fields) {
  const eos = f.raw['eos_token_id'];
  let eosTokenIds: number[] = [];
  if (typeof eos === 'number') eosTokenIds = [eos];
  else if (Array.isArray(eos)) eosTokenIds = f.intList('eos_token_id')!;
  else if (eos !== undefined && eos !== null) f.fail('eos_token_id', 'must be an integer or a list of integers');
  return {
    vocabSize: f.positiveInt('vocab_size'),
    hiddenSize: f.positiveInt('hidden_size'),
    numLayers: f.positiveInt('num_hidden_layers'),
    intermediateSize: f.positiveInt('intermediate_size'),
    rmsNormEps: f.num('rms_norm_eps', 1e-6),
    tieEmbeddings: f.bool('tie_word_embeddings', false),
    maxPositions: f.positiveInt('max_position_embeddings'),
    bosTokenId: f.optionalInt('bos_token_id'),
    eosTokenIds,
    padTokenId: f.optionalInt('pad_token_id'),
  };
}

function parseDtype(f: Fields): StorageDtype {
  const key = f.has('dtype') ? 'dtype' : 'torch_dtype';
  const v = f.raw[key];
  if (v === undefined || v === null) return 'bfloat16';
  if (v === 'float32' || v === 'float16' || v === 'bfloat16') return v;
  return f.fail(key, `unsupported dtype ${JSON.stringify(v)} (expected float32, float16 or bfloat16)`);
}

function parseQuant(f: Fields): QuantSpec {
  const q = f.raw['quantization_config'];
  if (q === undefined || q === null) return { kind: 'none' };
  if (typeof q !== 'object' || Array.isArray(q)) f.fail('quantization_config', 'must be an object');
  const qc = q as Json;
  const method = qc['quant_method'];
  if (method === 'fp8') {
    const fmt = qc['fmt'] ?? 'e4m3';
    if (fmt !== 'e4m3') f.fail('quantization_config.fmt', `unsupported FP8 format ${JSON.stringify(fmt)} (only e4m3)`);
    const bs = qc['weight_block_size'];
    if (!Array.isArray(bs) || bs.length !== 2 || !bs.every((x) => Number.isInteger(x) && x > 0))
      f.fail('quantization_config.weight_block_size', 'must be two positive integers [rows, cols]');
    return { kind: 'fp8', blockSize: [bs[0] as number, bs[1] as number], fmt: 'e4m3' };
  }
  if (method === 'mxfp4') {
    const m = qc['modules_to_not_convert'];
    const modules = Array.isArray(m) ? m.filter((x): x is string => typeof x === 'string') : [];
    return { kind: 'mxfp4', modulesToNotConvert: modules };
  }
  return f.fail('quantization_config.quant_method', `unsupported quantisation ${JSON.stringify(method)} (supported: fp8, mxfp4)`);
}

/**
 * RoPE parameters from either `rope_parameters` (transformers 5, theta inside) or top-level
 * `rope_theta` + `rope_scaling` (published configs; `type` or `rope_type`).
 */
function parseRope(f: Fields, dim: number, layout: RopeSpec['layout']): RopeSpec {
  let params: Json | null = null;
  let where = 'rope_scaling';
  const rp = f.raw['rope_parameters'];
  const rs = f.raw['rope_scaling'];
  if (rp !== undefined && rp !== null) {
    if (typeof rp !== 'object' || Array.isArray(rp)) f.fail('rope_parameters', 'must be an object');
    params = rp as Json;
    where = 'rope_parameters';
    if (rs !== undefined && rs !== null && JSON.stringify(rs) !== JSON.stringify(rp)) {
      const rsType = (rs as Json)['rope_type'] ?? (rs as Json)['type'];
      const rpType = params['rope_type'] ?? params['type'];
      if (rsType !== rpType) f.fail('rope_scaling', `contradicts rope_parameters (${rsType} vs ${rpType})`);
    }
  } else if (rs !== undefined && rs !== null) {
    if (typeof rs !== 'object' || Array.isArray(rs)) f.fail('rope_scaling', 'must be an object or null');
    params = rs as Json;
  }
  const pf = new Fields(params ?? {}, f.source);
  const topTheta = f.has('rope_theta') ? f.num('rope_theta') : null;
  const innerTheta = pf.has('rope_theta') ? pf.num('rope_theta') : null;
  if (topTheta !== null && innerTheta !== null && topTheta !== innerTheta)
    f.fail('rope_theta', `contradicts ${where}.rope_theta (${topTheta} vs ${innerTheta})`);
  const theta = innerTheta ?? topTheta ?? 10000;
  if (!(theta > 0)) f.fail('rope_theta', `must be positive, got ${theta}`);

  const type = (params?.['rope_type'] ?? params?.['type'] ?? 'default') as unknown;
  let scaling: RopeScaling;
  if (type === 'default' || params === null) scaling = { kind: 'none' };
  else if (type === 'yarn') {
    const sub = (k: string) => `${where}.${k}`;
    const num = (k: string, fb?: number) => {
      try {
        return pf.num(k, fb);
      } catch {
        return f.fail(sub(k), fb === undefined ? 'is required for YaRN' : 'must be a number');
      }
    };
    const factor = num('factor');
    if (!(factor >= 1)) f.fail(sub('factor'), `must be >= 1, got ${factor}`);
    const orig = pf.has('original_max_position_embeddings')
      ? num('original_max_position_embeddings')
      : f.has('initial_context_length')
        ? f.num('initial_context_length')
        : f.fail(sub('original_max_position_embeddings'), 'is required for YaRN');
    scaling = {
      kind: 'yarn',
      factor,
      originalMaxPositions: orig,
      betaFast: num('beta_fast', 32),
      betaSlow: num('beta_slow', 1),
      mscale: pf.has('mscale') ? num('mscale') : null,
      mscaleAllDim: pf.has('mscale_all_dim') ? num('mscale_all_dim') : null,
      truncate: pf.bool('truncate', true),
      attentionFactor: pf.has('attention_factor') ? num('attention_factor') : null,
    };
  } else {
    return f.fail(`${where}.rope_type`, `unsupported RoPE scaling ${JSON.stringify(type)} (supported: default, yarn)`);
  }
  return { theta, dim, layout, scaling };
}

/** layer_types when present (validated), else every layer full attention. */
function parseLayerTypes(f: Fields, numLayers: number): Array<'full' | 'sliding'> {
  const lt = f.raw['layer_types'];
  if (lt === undefined || lt === null) return new Array(numLayers).fill('full');
  if (!Array.isArray(lt)) f.fail('layer_types', 'must be a list');
  if (lt.length !== numLayers)
    f.fail('layer_types', `has ${lt.length} entries but num_hidden_layers is ${numLayers}`);
  return lt.map((t, i) => {
    if (t === 'full_attention') return 'full';
    if (t === 'sliding_attention') return 'sliding';
    return f.fail(`layer_types[${i}]`, `unknown layer type ${JSON.stringify(t)}`);
  });
}

function parseSlidingWindow(f: Fields, kinds: Array<'full' | 'sliding'>): number | null {
  if (!kinds.includes('sliding')) return null;
  if (!f.has('sliding_window')) f.fail('sliding_window', 'is required when layer_types has sliding_attention layers');
  return f.positiveInt('sliding_window');
}

function parseQwen3(f: Fields, modelType: string, numLayers: number, hidden: number): FamilyParts {
  const numHeads = f.positiveInt('num_attention_heads');
  const headDim = f.positiveInt('head_dim', hidden / numHeads);
  const attention: AttentionSpec = {
    kind: 'gqa',
    numHeads,
    numKvHeads: f.positiveInt('num_key_value_heads', numHeads),
    headDim,
    qkNorm: true,
    qkvBias: f.bool('attention_bias', false),
    oBias: f.bool('attention_bias', false),
    sinks: false,
  };
  const kinds = parseLayerTypes(f, numLayers);
  let moe: MoeSpec | null = null;
  let mlpKinds: Array<'dense' | 'moe'> = new Array(numLayers).fill('dense');
  if (modelType === 'qwen3_moe') {
    const numExperts = f.aliased(['num_experts', 'num_local_experts'], (k) => f.positiveInt(k));
    const mlpOnly = new Set(f.intList('mlp_only_layers') ?? []);
    const step = f.positiveInt('decoder_sparse_step', 1);
    mlpKinds = mlpKinds.map((_, i) => (!mlpOnly.has(i) && (i + 1) % step === 0 ? 'moe' : 'dense'));
    moe = {
      numExperts,
      topK: f.positiveInt('num_experts_per_tok'),
      expertIntermediate: f.positiveInt('moe_intermediate_size'),
      numShared: 0,
      sharedIntermediate: 0,
      router: { kind: 'softmax_topk', normTopK: f.bool('norm_topk_prob', false) },
      routerBias: false,
      expertBias: false,
    };
  }
  return {
    attention,
    rope: parseRope(f, headDim, 'half'),
    activation: { kind: 'swiglu' },
    layers: kinds.map((attention, i) => ({ attention, mlp: mlpKinds[i]! })),
    moe,
    slidingWindow: parseSlidingWindow(f, kinds),
    mtpLayers: 0,
  };
}

function parseDeepSeek(f: Fields, numLayers: number): FamilyParts {
  const numHeads = f.positiveInt('num_attention_heads');
  const nope = f.positiveInt('qk_nope_head_dim');
  const rope = f.positiveInt('qk_rope_head_dim');
  // transformers 5 writes the derived head_dim (= rope dim) and qk_head_dim (= nope + rope).
  if (f.has('qk_head_dim') && f.int('qk_head_dim') !== nope + rope)
    f.fail('qk_head_dim', `is ${f.int('qk_head_dim')} but qk_nope_head_dim + qk_rope_head_dim is ${nope + rope}`);
  if (f.has('head_dim') && f.int('head_dim') !== rope)
    f.fail('head_dim', `is ${f.int('head_dim')} but qk_rope_head_dim is ${rope} (DeepSeek's head_dim is the RoPE dim)`);
  const qLora = f.raw['q_lora_rank'] === null || f.raw['q_lora_rank'] === undefined ? null : f.positiveInt('q_lora_rank');
  const attention: AttentionSpec = {
    kind: 'mla',
    numHeads,
    qLoraRank: qLora,
    kvLoraRank: f.positiveInt('kv_lora_rank'),
    qkNopeHeadDim: nope,
    qkRopeHeadDim: rope,
    vHeadDim: f.positiveInt('v_head_dim'),
    latentNormEps: 1e-6,
  };
  const firstDense = f.nonNegativeInt('first_k_dense_replace', 0);
  const freq = f.positiveInt('moe_layer_freq', 1);
  const numExperts = f.positiveInt('n_routed_experts');
  const numGroups = f.positiveInt('n_group', 1);
  const topkGroups = f.positiveInt('topk_group', 1);
  if (numExperts % numGroups !== 0) f.fail('n_group', `${numGroups} does not divide n_routed_experts ${numExperts}`);
  if (topkGroups > numGroups) f.fail('topk_group', `${topkGroups} exceeds n_group ${numGroups}`);
  const numShared = f.nonNegativeInt('n_shared_experts', 0);
  const expertIntermediate = f.positiveInt('moe_intermediate_size');
  const moe: MoeSpec = {
    numExperts,
    topK: f.positiveInt('num_experts_per_tok'),
    expertIntermediate,
    numShared,
    sharedIntermediate: numShared * expertIntermediate,
    router: {
      kind: 'sigmoid_grouped',
      numGroups,
      topkGroups,
      normTopK: f.bool('norm_topk_prob', false),
      routedScaling: f.num('routed_scaling_factor', 1),
      correctionBias: (f.raw['topk_method'] ?? 'noaux_tc') === 'noaux_tc',
    },
    routerBias: false,
    expertBias: false,
  };
  const layers: LayerSpec[] = Array.from({ length: numLayers }, (_, i) => ({
    attention: 'full',
    mlp: i >= firstDense && i % freq === 0 ? 'moe' : 'dense',
  }));
  return {
    attention,
    rope: parseRope(f, rope, f.bool('rope_interleave', true) ? 'interleaved' : 'half'),
    activation: { kind: 'swiglu' },
    layers,
    moe,
    slidingWindow: null,
    mtpLayers: f.nonNegativeInt('num_nextn_predict_layers', 0),
  };
}

function parseGptOss(f: Fields, numLayers: number, hidden: number): FamilyParts {
  const numHeads = f.positiveInt('num_attention_heads');
  const headDim = f.positiveInt('head_dim', hidden / numHeads);
  const bias = f.bool('attention_bias', true);
  const kinds = parseLayerTypes(f, numLayers);
  const moe: MoeSpec = {
    numExperts: f.aliased(['num_local_experts', 'num_experts'], (k) => f.positiveInt(k)),
    topK: f.aliased(['num_experts_per_tok', 'experts_per_token'], (k) => f.positiveInt(k)),
    expertIntermediate: f.positiveInt('intermediate_size'),
    numShared: 0,
    sharedIntermediate: 0,
    router: { kind: 'topk_softmax' },
    routerBias: true,
    expertBias: true,
  };
  return {
    attention: {
      kind: 'gqa',
      numHeads,
      numKvHeads: f.positiveInt('num_key_value_heads', numHeads),
      headDim,
      qkNorm: false,
      qkvBias: bias,
      oBias: bias,
      sinks: true,
    },
    rope: parseRope(f, headDim, 'half'),
    // transformers' eager experts hard-code limit 7.0 and alpha 1.702; swiglu_limit is informational.
    activation: { kind: 'swiglu_clamped', limit: f.num('swiglu_limit', 7), alpha: 1.702 },
    layers: kinds.map((attention) => ({ attention, mlp: 'moe' })),
    moe,
    slidingWindow: parseSlidingWindow(f, kinds),
    mtpLayers: 0,
  };
}

function validate(spec: ModelSpec, f: Fields): void {
  const a = spec.attention;
  if (a.kind === 'gqa') {
    if (a.numHeads % a.numKvHeads !== 0)
      f.fail('num_key_value_heads', `${a.numKvHeads} does not divide num_attention_heads ${a.numHeads}`);
    if (!Number.isInteger(a.headDim)) f.fail('head_dim', 'missing and hidden_size is not a multiple of num_attention_heads');
    if (a.headDim % 2 !== 0) f.fail('head_dim', `must be even for RoPE, got ${a.headDim}`);
  } else if (a.qkRopeHeadDim % 2 !== 0) f.fail('qk_rope_head_dim', `must be even for RoPE, got ${a.qkRopeHeadDim}`);
  if (spec.moe && spec.moe.topK > spec.moe.numExperts)
    f.fail('num_experts_per_tok', `${spec.moe.topK} exceeds the number of experts ${spec.moe.numExperts}`);
  if (spec.moe?.router.kind === 'sigmoid_grouped') {
    const r = spec.moe.router;
    const perGroup = spec.moe.numExperts / r.numGroups;
    if (r.topkGroups * perGroup < spec.moe.topK)
      f.fail('topk_group', `${r.topkGroups} groups of ${perGroup} experts cannot supply num_experts_per_tok ${spec.moe.topK}`);
  }
  for (const id of spec.eosTokenIds)
    if (id < 0 || id >= spec.vocabSize) f.fail('eos_token_id', `${id} is outside the vocabulary (${spec.vocabSize})`);
}
