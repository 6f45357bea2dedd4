/**
 * Every weight tensor a model stores, enumerated from its ModelSpec with the Hugging Face names and
 * shapes. Parameter counts, checkpoint bytes and FLOPs are all sums over this one list.
 */
import type { ModelSpec, MlaAttentionSpec, GqaAttentionSpec } from './spec.js';

/** Where a tensor sits, for the parameter breakdown. */
export type TensorPart =
  | 'embedding'
  | 'lm_head'
  | 'attention'
  | 'norm'
  | 'dense_mlp'
  | 'router'
  | 'routed_experts'
  | 'shared_experts'
  | 'mtp_proj';

/** Which checkpoint a tensor belongs to: the main model, the MTP module, or the MTP's stored copies of embedding/head. */
export type TensorOwner = 'main' | 'mtp' | 'mtp_copy';

export interface TensorGroup {
  /**
   * HF tensor name. `{e}` marks one tensor per expert (copies of them); without `{e}`, copies > 1
   * means the experts are stacked in one tensor whose leading dimension is `copies` (GPT-OSS).
   */
  name: string;
  part: TensorPart;
  /** Stored shape of one copy. */
  shape: number[];
  /** Copies stored (routed experts), 1 otherwise. */
  copies: number;
  /** Copies used for one token (top-k of the routed experts). */
  activeCopies: number;
  /** A matmul weight: [out, in] (in the stored layout or transposed, as GPT-OSS experts are). */
  matrix: { out: number; in: number } | null;
  /** A Linear of attention, MLP or experts: what FP8 checkpoints store in FP8 and MXFP4 in 4 bits (experts only). */
  quantisable: boolean;
  /** Stored in float32 whatever the model dtype (DeepSeek's e_score_correction_bias). */
  float32: boolean;
  owner: TensorOwner;
}

export function elements(t: TensorGroup): number {
  return t.copies * t.shape.reduce((a, b) => a * b, 1);
}

type Opts = Partial<Pick<TensorGroup, 'copies' | 'activeCopies' | 'float32'>>;

class Builder {
  readonly out: TensorGroup[] = [];
  constructor(private owner: TensorOwner = 'main') {}

  withOwner(owner: TensorOwner): this {
    this.owner = owner;
    return this;
  }

  /** nn.Linear weight [out, in] (+ bias [out]). */
  linear(name: string, part: TensorPart, out: number, inp: number, bias = false, o: Opts = {}): void {
    this.push(`${name}.weight`, part, [out, inp], { out, in: inp }, true, o);
    if (bias) this.vector(`${name}.bias`, part, out, o);
  }

  vector(name: string, part: TensorPart, n: number, o: Opts = {}): void {
    this.push(name, part, [n], null, false, o);
  }

  push(
    name: string,
    part: TensorPart,
    shape: number[],
    matrix: TensorGroup['matrix'],
    quantisable: boolean,
    o: Opts,
  ): void {
    const copies = o.copies ?? 1;
    this.out.push({
      name,
      part,
      shape,
      copies,
      activeCopies: o.activeCopies ?? copies,
      matrix,
      quantisable,
      float32: o.float32 ?? false,
      owner: this.owner,
    });
  }
}

function gqaAttention(b: Builder, p: string, a: GqaAttentionSpec, hidden: number): void {
  const q = a.numHeads * a.headDim;
  const kv = a.numKvHeads * a.headDim;
  b.linear(`${p}.q_proj`, 'attention', q, hidden, a.qkvBias);
  b.linear(`${p}.k_proj`, 'attention', kv, hidden, a.qkvBias);
  b.linear(`${p}.v_proj`, 'attention', kv, hidden, a.qkvBias);
  b.linear(`${p}.o_proj`, 'attention', hidden, q, a.oBias);
  if (a.qkNorm) {
    b.vector(`${p}.q_norm.weight`, 'attention', a.headDim);
    b.vector(`${p}.k_norm.weight`, 'attention', a.headDim);
  }
  if (a.sinks) b.vector(`${p}.sinks`, 'attention', a.numHeads);
}

function mlaAttention(b: Builder, p: string, a: MlaAttentionSpec, hidden: number): void {
  const qHead = a.qkNopeHeadDim + a.qkRopeHeadDim;
  if (a.qLoraRank === null) b.linear(`${p}.q_proj`, 'attention', a.numHeads * qHead, hidden);
  else {
    b.linear(`${p}.q_a_proj`, 'attention', a.qLoraRank, hidden);
    b.vector(`${p}.q_a_layernorm.weight`, 'attention', a.qLoraRank);
    b.linear(`${p}.q_b_proj`, 'attention', a.numHeads * qHead, a.qLoraRank);
  }
  b.linear(`${p}.kv_a_proj_with_mqa`, 'attention', a.kvLoraRank + a.qkRopeHeadDim, hidden);
  b.vector(`${p}.kv_a_layernorm.weight`, 'attention', a.kvLoraRank);
  b.linear(`${p}.kv_b_proj`, 'attention', a.numHeads * (a.qkNopeHeadDim + a.vHeadDim), a.kvLoraRank);
  b.linear(`${p}.o_proj`, 'attention', hidden, a.numHeads * a.vHeadDim);
}

/** gate/up/down SwiGLU MLP as three Linears. */
function swiglu(b: Builder, p: string, part: TensorPart, hidden: number, inter: number, o: Opts = {}): void {
  b.linear(`${p}.gate_proj`, part, inter, hidden, false, o);
  b.linear(`${p}.up_proj`, part, inter, hidden, false, o);
  b.linear(`${p}.down_proj`, part, hidden, inter, false, o);
}

function moeMlp(b: Builder, p: string, spec: ModelSpec): void {
  const m = spec.moe!;
  const h = spec.hiddenSize;
  const e = { copies: m.numExperts, activeCopies: m.topK };
  if (spec.family === 'gpt_oss') {
    // Router is `mlp.router`; experts are stacked and stored input-major ([E, in, out]), gate/up fused.
    b.linear(`${p}.router`, 'router', m.numExperts, h, m.routerBias);
    const x = `${p}.experts`;
    b.push(`${x}.gate_up_proj`, 'routed_experts', [h, 2 * m.expertIntermediate], { out: 2 * m.expertIntermediate, in: h }, true, e);
    if (m.expertBias) b.push(`${x}.gate_up_proj_bias`, 'routed_experts', [2 * m.expertIntermediate], null, false, e);
    b.push(`${x}.down_proj`, 'routed_experts', [m.expertIntermediate, h], { out: h, in: m.expertIntermediate }, true, e);
    if (m.expertBias) b.push(`${x}.down_proj_bias`, 'routed_experts', [h], null, false, e);
    return;
  }
  b.push(`${p}.gate.weight`, 'router', [m.numExperts, h], { out: m.numExperts, in: h }, false, {});
  if (m.routerBias) b.vector(`${p}.gate.bias`, 'router', m.numExperts);
  if (m.router.kind === 'sigmoid_grouped' && m.router.correctionBias)
    b.vector(`${p}.gate.e_score_correction_bias`, 'router', m.numExperts, { float32: true });
  swiglu(b, `${p}.experts.{e}`, 'routed_experts', h, m.expertIntermediate, e);
  if (m.sharedIntermediate > 0) swiglu(b, `${p}.shared_experts`, 'shared_experts', h, m.sharedIntermediate);
}

function decoderLayer(b: Builder, p: string, spec: ModelSpec, mlp: 'dense' | 'moe'): void {
  const h = spec.hiddenSize;
  b.vector(`${p}.input_layernorm.weight`, 'norm', h);
  b.vector(`${p}.post_attention_layernorm.weight`, 'norm', h);
  if (spec.attention.kind === 'gqa') gqaAttention(b, `${p}.self_attn`, spec.attention, h);
  else mlaAttention(b, `${p}.self_attn`, spec.attention, h);
  if (mlp === 'moe') moeMlp(b, `${p}.mlp`, spec);
  else swiglu(b, `${p}.mlp`, 'dense_mlp', h, spec.intermediateSize);
}

/**
 * All tensors of the checkpoint. DeepSeek's MTP layers (num_nextn_predict_layers) follow the main
 * layers as `model.layers.{L+k}`: a full MoE decoder layer plus enorm, hnorm, eh_proj and
 * shared_head.norm, and the copies of embed_tokens and shared_head.head the published checkpoints store.
 */
export function modelTensors(spec: ModelSpec): TensorGroup[] {
  const b = new Builder('main');
  const h = spec.hiddenSize;
  // A lookup table, not a matmul weight (a tied LM head is counted as a matmul by the FLOPs).
  b.push('model.embed_tokens.weight', 'embedding', [spec.vocabSize, h], null, false, {});
  spec.layers.forEach((layer, i) => decoderLayer(b, `model.layers.${i}`, spec, layer.mlp));
  b.vector('model.norm.weight', 'norm', h);
  if (!spec.tieEmbeddings)
    b.push('lm_head.weight', 'lm_head', [spec.vocabSize, h], { out: spec.vocabSize, in: h }, false, {});

  for (let k = 0; k < spec.mtpLayers; k++) {
    const p = `model.layers.${spec.numLayers + k}`;
    b.withOwner('mtp');
    decoderLayer(b, p, spec, spec.moe ? 'moe' : 'dense');
    b.vector(`${p}.enorm.weight`, 'norm', h);
    b.vector(`${p}.hnorm.weight`, 'norm', h);
    b.push(`${p}.eh_proj.weight`, 'mtp_proj', [h, 2 * h], { out: h, in: 2 * h }, false, {});
    b.vector(`${p}.shared_head.norm.weight`, 'norm', h);
    b.withOwner('mtp_copy');
    b.push(`${p}.embed_tokens.weight`, 'embedding', [spec.vocabSize, h], null, false, {});
    b.push(`${p}.shared_head.head.weight`, 'lm_head', [spec.vocabSize, h], { out: spec.vocabSize, in: h }, false, {});
  }
  return b.out;
}
