/**
 * The tensors a Hugging Face checkpoint of each family stores, declared as data: name, shape and
 * role. `owl init` writes random weights from it; it documents the names the family loaders read.
 */
import type { ModelSpec } from '../config/spec.js';

/** What a tensor is, which decides its dtype and how `owl init` fills it. */
export type TensorRole =
  | 'matrix' // a linear weight or embedding: random, model dtype
  | 'norm' // RMSNorm gain: ones
  | 'bias' // zeros, model dtype
  | 'sinks' // GPT-OSS attention sinks: zeros
  | 'score_bias' // DeepSeek e_score_correction_bias: zeros, always f32
  | 'mxfp4_blocks' // GPT-OSS packed E2M1 pairs (u8)
  | 'mxfp4_scales'; // GPT-OSS E8M0 scales (u8)

export interface TensorPlan {
  name: string;
  shape: number[];
  role: TensorRole;
}

export interface LayoutOptions {
  /** GPT-OSS: experts as *_blocks/*_scales (the published checkpoints) rather than dense matrices. */
  mxfp4: boolean;
}

export function checkpointLayout(spec: ModelSpec, opts: LayoutOptions): TensorPlan[] {
  const { hiddenSize: h, vocabSize: v } = spec;
  const out: TensorPlan[] = [];
  const add = (name: string, shape: number[], role: TensorRole) => out.push({ name, shape, role });
  const linear = (name: string, rows: number, cols: number) => add(`${name}.weight`, [rows, cols], 'matrix');
  const gated = (p: string, inter: number) => {
    linear(`${p}.gate_proj`, inter, h);
    linear(`${p}.up_proj`, inter, h);
    linear(`${p}.down_proj`, h, inter);
  };

  add('model.embed_tokens.weight', [v, h], 'matrix');
  spec.layers.forEach((kind, i) => {
    const p = `model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [h], 'norm');
    add(`${p}.post_attention_layernorm.weight`, [h], 'norm');
    attentionLayout(spec, `${p}.self_attn`, add, linear);
    const moe = spec.moe;
    if (kind.mlp === 'dense' || !moe) return gated(`${p}.mlp`, spec.intermediateSize);
    if (spec.family === 'gpt_oss') return gptOssExperts(spec, `${p}.mlp`, opts, add);
    linear(`${p}.mlp.gate`, moe.numExperts, h);
    if (moe.router.kind === 'sigmoid_grouped' && moe.router.correctionBias)
      add(`${p}.mlp.gate.e_score_correction_bias`, [moe.numExperts], 'score_bias');
    for (let e = 0; e < moe.numExperts; e++) gated(`${p}.mlp.experts.${e}`, moe.expertIntermediate);
    if (moe.numShared > 0) gated(`${p}.mlp.shared_experts`, moe.sharedIntermediate);
  });
  add('model.norm.weight', [h], 'norm');
  if (!spec.tieEmbeddings) add('lm_head.weight', [v, h], 'matrix');
  return out;
}

type Add = (name: string, shape: number[], role: TensorRole) => void;

function attentionLayout(spec: ModelSpec, a: string, add: Add, linear: (n: string, r: number, c: number) => void): void {
  const h = spec.hiddenSize;
  const att = spec.attention;
  if (att.kind === 'mla') {
    const qk = att.qkNopeHeadDim + att.qkRopeHeadDim;
    if (att.qLoraRank === null) linear(`${a}.q_proj`, att.numHeads * qk, h);
    else {
      linear(`${a}.q_a_proj`, att.qLoraRank, h);
      add(`${a}.q_a_layernorm.weight`, [att.qLoraRank], 'norm');
      linear(`${a}.q_b_proj`, att.numHeads * qk, att.qLoraRank);
    }
    linear(`${a}.kv_a_proj_with_mqa`, att.kvLoraRank + att.qkRopeHeadDim, h);
    add(`${a}.kv_a_layernorm.weight`, [att.kvLoraRank], 'norm');
    linear(`${a}.kv_b_proj`, att.numHeads * (att.qkNopeHeadDim + att.vHeadDim), att.kvLoraRank);
    linear(`${a}.o_proj`, h, att.numHeads * att.vHeadDim);
    return;
  }
  const q = att.numHeads * att.headDim;
  const kv = att.numKvHeads * att.headDim;
  const proj = (name: string, rows: number, cols: number, bias: boolean) => {
    linear(`${a}.${name}`, rows, cols);
    if (bias) add(`${a}.${name}.bias`, [rows], 'bias');
  };
  proj('q_proj', q, h, att.qkvBias);
  proj('k_proj', kv, h, att.qkvBias);
  proj('v_proj', kv, h, att.qkvBias);
  proj('o_proj', h, q, att.oBias);
  if (att.qkNorm) {
    add(`${a}.q_norm.weight`, [att.headDim], 'norm');
    add(`${a}.k_norm.weight`, [att.headDim], 'norm');
  }
  if (att.sinks) add(`${a}.sinks`, [att.numHeads], 'sinks');
}

/** GPT-OSS stacks its experts: gate_up [E, hidden, 2·inter] (x @ W layout, gate/up interleaved), down [E, inter, hidden]. */
function gptOssExperts(spec: ModelSpec, p: string, opts: LayoutOptions, add: Add): void {
  const moe = spec.moe!;
  const { numExperts: e, expertIntermediate: inter } = moe;
  const h = spec.hiddenSize;
  add(`${p}.router.weight`, [e, h], 'matrix');
  add(`${p}.router.bias`, [e], 'bias');
  if (opts.mxfp4) {
    // Blocks are [E, out_features, in/32, 16] with one E8M0 scale per 32 inputs.
    add(`${p}.experts.gate_up_proj_blocks`, [e, 2 * inter, h / 32, 16], 'mxfp4_blocks');
    add(`${p}.experts.gate_up_proj_scales`, [e, 2 * inter, h / 32], 'mxfp4_scales');
    add(`${p}.experts.down_proj_blocks`, [e, h, inter / 32, 16], 'mxfp4_blocks');
    add(`${p}.experts.down_proj_scales`, [e, h, inter / 32], 'mxfp4_scales');
  } else {
    add(`${p}.experts.gate_up_proj`, [e, h, 2 * inter], 'matrix');
    add(`${p}.experts.down_proj`, [e, inter, h], 'matrix');
  }
  add(`${p}.experts.gate_up_proj_bias`, [e, 2 * inter], 'bias');
  add(`${p}.experts.down_proj_bias`, [e, h], 'bias');
}
