/**
 * GGUF metadata <-> model description. Reading turns the `{arch}.*` keys (as llama.cpp's converter
 * writes them) into the equivalent Hugging Face config.json object, so config/parse.ts builds the
 * ModelSpec with its usual validation; writing turns a ModelSpec into the keys llama.cpp expects.
 */
import type { ModelSpec } from '../config/spec.js';
import { EXPERT_GATING, GGML_QUANT_VERSION } from './constants.js';
import { GgufError, metaValue, type GgufHeader, type GgufKv } from './reader.js';
import { GGUF_ARCHS, type GgufArch } from './tensor-map.js';
import { kv } from './writer.js';

const MODEL_TYPE: Record<GgufArch, string> = { qwen3: 'qwen3', qwen3moe: 'qwen3_moe', deepseek2: 'deepseek_v3', 'gpt-oss': 'gpt_oss' };

/** Typed reads of `{arch}.` metadata that name the key on failure. */
class Meta {
  constructor(
    readonly h: GgufHeader,
    readonly arch: string,
  ) {}

  fail(key: string, message: string): never {
    throw new GgufError(`${this.h.file}: metadata "${key}" ${message}`);
  }

  key(k: string): string {
    return k.startsWith('general.') || k.startsWith('tokenizer.') ? k : `${this.arch}.${k}`;
  }

  /** A number, or the common value of a per-layer array; undefined when absent. */
  num(k: string): number | undefined {
    const key = this.key(k);
    const v = metaValue(this.h, key);
    if (v === undefined) return undefined;
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0 || !list.every((x) => typeof x === 'number' && Number.isFinite(x))) this.fail(key, `must be a number, got ${String(v).slice(0, 80)}`);
    if (list.some((x) => x !== list[0])) this.fail(key, 'varies per layer, which Owl does not support');
    return list[0] as number;
  }

  need(k: string): number {
    const v = this.num(k);
    return v === undefined ? this.fail(this.key(k), 'is required but missing') : v;
  }

  str(k: string): string | undefined {
    const key = this.key(k);
    const v = metaValue(this.h, key);
    if (v !== undefined && typeof v !== 'string') this.fail(key, 'must be a string');
    return v as string | undefined;
  }

  bool(k: string): boolean | undefined {
    const key = this.key(k);
    const v = metaValue(this.h, key);
    if (v !== undefined && typeof v !== 'boolean') this.fail(key, 'must be a bool');
    return v as boolean | undefined;
  }
}

export function ggufArch(h: GgufHeader): GgufArch {
  const arch = metaValue(h, 'general.architecture');
  if (typeof arch !== 'string') throw new GgufError(`${h.file}: metadata "general.architecture" is required but missing`);
  if (!(GGUF_ARCHS as readonly string[]).includes(arch))
    throw new GgufError(`${h.file}: architecture "${arch}" is not supported (supported: ${GGUF_ARCHS.join(', ')})`);
  return arch as GgufArch;
}

export interface GgufModelConfig {
  arch: GgufArch;
  /** Layers of the main model (without DeepSeek's appended next-token-prediction layers). */
  numLayers: number;
  /** The equivalent Hugging Face config.json. */
  config: Record<string, unknown>;
}

/** The Hugging Face config.json equivalent of a GGUF file's metadata (and tensor shapes). */
export function ggufToHfConfig(h: GgufHeader): GgufModelConfig {
  const arch = ggufArch(h);
  const m = new Meta(h, arch);
  const tensor = (name: string) => h.tensors.find((t) => t.name === name);
  const embd = tensor('token_embd.weight');
  if (!embd || embd.shape.length !== 2) throw new GgufError(`${h.file}: tensor "token_embd.weight" is missing or not 2-D`);
  const hidden = m.need('embedding_length');
  if (embd.shape[1] !== hidden) throw new GgufError(`${h.file}: token_embd.weight is [${embd.shape.join(', ')}] but ${arch}.embedding_length is ${hidden}`);
  const blockCount = m.need('block_count');
  const nextn = m.num('nextn_predict_layers') ?? 0;
  const numLayers = blockCount - nextn;
  const heads = m.need('attention.head_count');
  const tokId = (k: string) => m.num(`tokenizer.ggml.${k}_token_id`) ?? null;
  const twoByte = h.tensors.filter((t) => t.shape.length >= 2).map((t) => t.type.name);
  const dtype = twoByte.includes('BF16') ? 'bfloat16' : twoByte.includes('F16') && !twoByte.includes('F32') ? 'float16' : 'float32';

  const scaling = m.str('rope.scaling.type') ?? 'none';
  const rope: Record<string, unknown> = { rope_theta: m.num('rope.freq_base') ?? 10000, rope_type: scaling === 'none' ? 'default' : scaling };
  if (scaling === 'yarn') {
    rope.factor = m.need('rope.scaling.factor');
    rope.original_max_position_embeddings = m.need('rope.scaling.original_context_length');
    rope.beta_fast = m.num('rope.scaling.yarn_beta_fast') ?? 32;
    rope.beta_slow = m.num('rope.scaling.yarn_beta_slow') ?? 1;
    const attn = m.num('rope.scaling.yarn_attn_factor');
    if (attn !== undefined) rope.attention_factor = attn;
  }

  const config: Record<string, unknown> = {
    model_type: MODEL_TYPE[arch],
    vocab_size: embd.shape[0],
    hidden_size: hidden,
    num_hidden_layers: numLayers,
    intermediate_size: m.num('feed_forward_length') ?? m.num('expert_feed_forward_length'),
    rms_norm_eps: m.need('attention.layer_norm_rms_epsilon'),
    tie_word_embeddings: !tensor('output.weight'),
    max_position_embeddings: m.need('context_length'),
    num_attention_heads: heads,
    num_key_value_heads: m.num('attention.head_count_kv') ?? heads,
    bos_token_id: tokId('bos'),
    eos_token_id: tokId('eos'),
    pad_token_id: tokId('padding'),
    rope_parameters: rope,
    dtype,
  };
  const experts = () => {
    config.num_experts_per_tok = m.need('expert_used_count');
  };

  if (arch === 'qwen3' || arch === 'qwen3moe') {
    config.head_dim = m.num('attention.key_length') ?? hidden / heads;
    if (arch === 'qwen3moe') {
      experts();
      config.num_experts = m.need('expert_count');
      config.moe_intermediate_size = m.need('expert_feed_forward_length');
      config.norm_topk_prob = true; // llama.cpp's qwen3moe always renormalises the top-k weights
      config.mlp_only_layers = range(numLayers).filter((i) => !tensor(`blk.${i}.ffn_gate_inp.weight`));
      config.intermediate_size ??= m.num('expert_feed_forward_length');
    }
  } else if (arch === 'deepseek2') {
    experts();
    const ropeDim = m.need('rope.dimension_count');
    const kMla = m.num('attention.key_length_mla');
    const vMla = m.num('attention.value_length_mla');
    const qLora = m.num('attention.q_lora_rank') ?? 0;
    const gating = m.num('expert_gating_func') ?? (tensor('blk.0.exp_probs_b.bias') || h.tensors.some((t) => t.name.endsWith('exp_probs_b.bias')) ? EXPERT_GATING.SIGMOID : EXPERT_GATING.SOFTMAX);
    if (gating !== EXPERT_GATING.SIGMOID)
      m.fail(m.key('expert_gating_func'), `is ${gating}: only sigmoid routing (DeepSeek-V3, value ${EXPERT_GATING.SIGMOID}) is supported`);
    const logMul = m.num('rope.scaling.yarn_log_multiplier');
    if (logMul !== undefined && scaling === 'yarn') rope.mscale = rope.mscale_all_dim = logMul / 0.1;
    Object.assign(config, {
      num_key_value_heads: heads,
      q_lora_rank: qLora > 0 ? qLora : null,
      kv_lora_rank: m.need('attention.kv_lora_rank'),
      qk_rope_head_dim: ropeDim,
      qk_nope_head_dim: (kMla ?? m.need('attention.key_length')) - ropeDim,
      v_head_dim: vMla ?? m.need('attention.value_length'),
      first_k_dense_replace: m.num('leading_dense_block_count') ?? 0,
      n_routed_experts: m.need('expert_count'),
      n_shared_experts: m.num('expert_shared_count') ?? 0,
      moe_intermediate_size: m.need('expert_feed_forward_length'),
      routed_scaling_factor: m.num('expert_weights_scale') ?? 1,
      norm_topk_prob: m.bool('expert_weights_norm') ?? false,
      n_group: m.num('expert_group_count') ?? 1,
      topk_group: m.num('expert_group_used_count') ?? 1,
      topk_method: h.tensors.some((t) => t.name.endsWith('.exp_probs_b.bias')) ? 'noaux_tc' : 'greedy',
      rope_interleave: true,
      num_nextn_predict_layers: nextn,
    });
    config.intermediate_size ??= config.moe_intermediate_size;
  } else {
    experts();
    const period = m.num('attention.sliding_window_pattern') ?? 2;
    Object.assign(config, {
      head_dim: m.num('attention.key_length') ?? hidden / heads,
      num_local_experts: m.need('expert_count'),
      intermediate_size: m.need('expert_feed_forward_length'),
      sliding_window: m.need('attention.sliding_window'),
      // llama.cpp: layer il slides unless il % period == period - 1.
      layer_types: range(numLayers).map((i) => (i % period < period - 1 ? 'sliding_attention' : 'full_attention')),
      attention_bias: true,
    });
    // llama.cpp cannot express YaRN's truncate flag; GPT-OSS checkpoints set it to false.
    if (scaling === 'yarn') rope.truncate = false;
    if (h.tensors.some((t) => t.name.includes('_exps.weight') && t.type.name === 'MXFP4'))
      config.quantization_config = { quant_method: 'mxfp4', modules_to_not_convert: [] };
  }
  return { arch, numLayers, config };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** llama.cpp architecture for a spec. */
export function archOf(spec: ModelSpec): GgufArch {
  if (spec.family === 'deepseek_v3') return 'deepseek2';
  if (spec.family === 'gpt_oss') return 'gpt-oss';
  return spec.moe ? 'qwen3moe' : 'qwen3';
}

/** The `general.*` and `{arch}.*` metadata llama.cpp's converter writes for this model (tokenizer keys excluded). */
export function modelMetadata(spec: ModelSpec, fileType: number): GgufKv[] {
  const arch = archOf(spec);
  const a = (k: string) => `${arch}.${k}`;
  const out: GgufKv[] = [kv.str('general.architecture', arch), kv.str('general.type', 'model'), kv.str('general.name', spec.name)];
  const att = spec.attention;
  const moe = spec.moe;
  out.push(
    kv.u32(a('block_count'), spec.numLayers),
    kv.u32(a('context_length'), spec.maxPositions),
    kv.u32(a('embedding_length'), spec.hiddenSize),
    kv.u32(a('feed_forward_length'), spec.family === 'gpt_oss' ? moe!.expertIntermediate : spec.intermediateSize),
    kv.u32(a('attention.head_count'), att.numHeads),
    kv.u32(a('attention.head_count_kv'), att.kind === 'gqa' ? att.numKvHeads : 1),
  );
  const sc = spec.rope.scaling;
  if (sc.kind === 'yarn') {
    out.push(kv.str(a('rope.scaling.type'), 'yarn'), kv.f32(a('rope.scaling.factor'), sc.factor), kv.u32(a('rope.scaling.original_context_length'), sc.originalMaxPositions));
    if (sc.attentionFactor !== null) out.push(kv.f32(a('rope.scaling.yarn_attn_factor'), sc.attentionFactor));
    out.push(kv.f32(a('rope.scaling.yarn_beta_fast'), sc.betaFast), kv.f32(a('rope.scaling.yarn_beta_slow'), sc.betaSlow));
  }
  out.push(kv.f32(a('rope.freq_base'), spec.rope.theta), kv.f32(a('attention.layer_norm_rms_epsilon'), spec.rmsNormEps));
  if (moe) out.push(kv.u32(a('expert_count'), moe.numExperts), kv.u32(a('expert_used_count'), moe.topK));
  if (moe?.router.kind === 'sigmoid_grouped') {
    out.push(kv.u32(a('expert_group_count'), moe.router.numGroups), kv.u32(a('expert_group_used_count'), moe.router.topkGroups));
    out.push(kv.u32(a('expert_gating_func'), EXPERT_GATING.SIGMOID));
  }
  if (att.kind === 'gqa') out.push(kv.u32(a('attention.key_length'), att.headDim), kv.u32(a('attention.value_length'), att.headDim));
  out.push(kv.u32('general.file_type', fileType));

  if (arch === 'qwen3moe') out.push(kv.u32(a('expert_feed_forward_length'), moe!.expertIntermediate));
  if (att.kind === 'mla' && moe) {
    const firstDense = spec.layers.findIndex((l) => l.mlp === 'moe');
    out.push(
      kv.u32(a('leading_dense_block_count'), firstDense < 0 ? spec.numLayers : firstDense),
      kv.u32(a('vocab_size'), spec.vocabSize),
      // llama.cpp requires the key unless the layer count says "lite"; 0 means a direct q projection.
      kv.u32(a('attention.q_lora_rank'), att.qLoraRank ?? 0),
      kv.u32(a('attention.kv_lora_rank'), att.kvLoraRank),
      kv.u32(a('attention.key_length'), att.kvLoraRank + att.qkRopeHeadDim),
      kv.u32(a('attention.value_length'), att.kvLoraRank),
      kv.u32(a('attention.key_length_mla'), att.qkNopeHeadDim + att.qkRopeHeadDim),
      kv.u32(a('attention.value_length_mla'), att.vHeadDim),
      kv.u32(a('expert_feed_forward_length'), moe.expertIntermediate),
      kv.u32(a('expert_shared_count'), moe.numShared),
    );
    if (moe.router.kind === 'sigmoid_grouped') {
      out.push(kv.f32(a('expert_weights_scale'), moe.router.routedScaling));
      if (moe.router.normTopK) out.push(kv.bool(a('expert_weights_norm'), true));
    }
    out.push(kv.u32(a('rope.dimension_count'), att.qkRopeHeadDim));
    if (sc.kind === 'yarn' && sc.mscaleAllDim !== null) out.push(kv.f32(a('rope.scaling.yarn_log_multiplier'), 0.1 * sc.mscaleAllDim));
  }
  if (arch === 'gpt-oss') {
    out.push(kv.u32(a('attention.sliding_window'), spec.slidingWindow ?? spec.maxPositions));
    out.push(kv.u32(a('expert_feed_forward_length'), moe!.expertIntermediate));
  }
  out.push(kv.u32('general.quantization_version', GGML_QUANT_VERSION));
  return dedupe(out);
}

/** Later entries win, keeping the first position (as gguf-py's writer does on a repeated key). */
function dedupe(list: GgufKv[]): GgufKv[] {
  const at = new Map<string, number>();
  const out: GgufKv[] = [];
  for (const e of list) {
    const i = at.get(e.key);
    if (i === undefined) {
      at.set(e.key, out.length);
      out.push(e);
    } else out[i] = e;
  }
  return out;
}

