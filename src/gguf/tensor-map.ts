/**
 * GGUF tensor names <-> Hugging Face names, one table per llama.cpp architecture, declared as data.
 * Most entries are renames (GGUF stores a [rows, cols] weight with ne = [cols, rows], the same bytes).
 * The rest name a view: how llama.cpp's converter rearranged a tensor (stacked experts, MLA's kv_b split
 * into k_b/v_b, GPT-OSS's interleaved gate_up). tensor-views.ts implements each view in both directions.
 */

/** Architectures (general.architecture) Owl reads and writes. */
export type GgufArch = 'qwen3' | 'qwen3moe' | 'deepseek2' | 'gpt-oss';
export const GGUF_ARCHS: readonly GgufArch[] = ['qwen3', 'qwen3moe', 'deepseek2', 'gpt-oss'];

/**
 * A view: `gguf` tensors (templates with {i} = layer) <-> `hf` tensors ({i}; {e} = expert).
 * - rename: one to one, same bytes.
 * - experts: a stacked [E, rows, cols] GGUF tensor <-> per-expert [rows, cols] HF tensors.
 * - kv_b: attn_k_b [H, kv_lora, nope] (transposed per head) + attn_v_b [H, v, kv_lora] <-> kv_b_proj [H·(nope+v), kv_lora].
 * - gate_up_xw: ffn_gate_exps + ffn_up_exps [E, inter, hidden] <-> GPT-OSS gate_up_proj [E, hidden, 2·inter] (x @ W, interleaved).
 * - down_xw: ffn_down_exps [E, hidden, inter] <-> GPT-OSS down_proj [E, inter, hidden] (x @ W).
 * - gate_up_bias: ffn_{gate,up}_exps.bias [E, inter] <-> gate_up_proj_bias [E, 2·inter] (interleaved).
 * - gate_up_mxfp4 / down_mxfp4: MXFP4 experts (ggml blocks) <-> `_blocks` + `_scales` (HF layout; gate_up rows interleaved).
 */
export type ViewKind = 'rename' | 'experts' | 'kv_b' | 'gate_up_xw' | 'down_xw' | 'gate_up_bias' | 'gate_up_mxfp4' | 'down_mxfp4';

export interface TensorRule {
  kind: ViewKind;
  gguf: string[];
  hf: string[];
}

const r = (gguf: string, hf: string): TensorRule => ({ kind: 'rename', gguf: [gguf], hf: [hf] });
const L = 'model.layers.{i}';

const GLOBAL: TensorRule[] = [
  r('token_embd.weight', 'model.embed_tokens.weight'),
  r('output_norm.weight', 'model.norm.weight'),
  r('output.weight', 'lm_head.weight'),
];

const DENSE_MLP: TensorRule[] = [
  r('blk.{i}.ffn_gate.weight', `${L}.mlp.gate_proj.weight`),
  r('blk.{i}.ffn_up.weight', `${L}.mlp.up_proj.weight`),
  r('blk.{i}.ffn_down.weight', `${L}.mlp.down_proj.weight`),
];

const STACKED_EXPERTS: TensorRule[] = ['gate', 'up', 'down'].map((p) => ({
  kind: 'experts' as const,
  gguf: [`blk.{i}.ffn_${p}_exps.weight`],
  hf: [`${L}.mlp.experts.{e}.${p}_proj.weight`],
}));

const GQA: TensorRule[] = [
  r('blk.{i}.attn_norm.weight', `${L}.input_layernorm.weight`),
  ...['q', 'k', 'v'].map((p) => r(`blk.{i}.attn_${p}.weight`, `${L}.self_attn.${p}_proj.weight`)),
  r('blk.{i}.attn_output.weight', `${L}.self_attn.o_proj.weight`),
];

const QWEN3: TensorRule[] = [
  ...GLOBAL,
  ...GQA,
  r('blk.{i}.attn_q_norm.weight', `${L}.self_attn.q_norm.weight`),
  r('blk.{i}.attn_k_norm.weight', `${L}.self_attn.k_norm.weight`),
  r('blk.{i}.ffn_norm.weight', `${L}.post_attention_layernorm.weight`),
  ...DENSE_MLP,
];

export const TENSOR_TABLES: Record<GgufArch, TensorRule[]> = {
  qwen3: QWEN3,
  // Qwen3-MoE GGUFs may keep dense MLP layers (mlp_only_layers) under the dense names.
  qwen3moe: [...QWEN3, r('blk.{i}.ffn_gate_inp.weight', `${L}.mlp.gate.weight`), ...STACKED_EXPERTS],
  deepseek2: [
    ...GLOBAL,
    r('blk.{i}.attn_norm.weight', `${L}.input_layernorm.weight`),
    r('blk.{i}.attn_q.weight', `${L}.self_attn.q_proj.weight`),
    r('blk.{i}.attn_q_a.weight', `${L}.self_attn.q_a_proj.weight`),
    r('blk.{i}.attn_q_a_norm.weight', `${L}.self_attn.q_a_layernorm.weight`),
    r('blk.{i}.attn_q_b.weight', `${L}.self_attn.q_b_proj.weight`),
    r('blk.{i}.attn_kv_a_mqa.weight', `${L}.self_attn.kv_a_proj_with_mqa.weight`),
    r('blk.{i}.attn_kv_a_norm.weight', `${L}.self_attn.kv_a_layernorm.weight`),
    // Current converters split kv_b_proj; older files keep attn_kv_b. The writer emits the split form.
    { kind: 'kv_b', gguf: ['blk.{i}.attn_k_b.weight', 'blk.{i}.attn_v_b.weight'], hf: [`${L}.self_attn.kv_b_proj.weight`] },
    r('blk.{i}.attn_kv_b.weight', `${L}.self_attn.kv_b_proj.weight`),
    r('blk.{i}.attn_output.weight', `${L}.self_attn.o_proj.weight`),
    r('blk.{i}.ffn_norm.weight', `${L}.post_attention_layernorm.weight`),
    ...DENSE_MLP,
    r('blk.{i}.ffn_gate_inp.weight', `${L}.mlp.gate.weight`),
    r('blk.{i}.exp_probs_b.bias', `${L}.mlp.gate.e_score_correction_bias`),
    ...STACKED_EXPERTS,
    ...['gate', 'up', 'down'].map((p) => r(`blk.{i}.ffn_${p}_shexp.weight`, `${L}.mlp.shared_experts.${p}_proj.weight`)),
  ],
  'gpt-oss': [
    ...GLOBAL,
    ...GQA,
    ...['q', 'k', 'v'].map((p) => r(`blk.{i}.attn_${p}.bias`, `${L}.self_attn.${p}_proj.bias`)),
    r('blk.{i}.attn_output.bias', `${L}.self_attn.o_proj.bias`),
    r('blk.{i}.attn_sinks.weight', `${L}.self_attn.sinks`),
    r('blk.{i}.post_attention_norm.weight', `${L}.post_attention_layernorm.weight`),
    r('blk.{i}.ffn_gate_inp.weight', `${L}.mlp.router.weight`),
    r('blk.{i}.ffn_gate_inp.bias', `${L}.mlp.router.bias`),
    {
      kind: 'gate_up_mxfp4',
      gguf: ['blk.{i}.ffn_gate_exps.weight', 'blk.{i}.ffn_up_exps.weight'],
      hf: [`${L}.mlp.experts.gate_up_proj_blocks`, `${L}.mlp.experts.gate_up_proj_scales`],
    },
    { kind: 'down_mxfp4', gguf: ['blk.{i}.ffn_down_exps.weight'], hf: [`${L}.mlp.experts.down_proj_blocks`, `${L}.mlp.experts.down_proj_scales`] },
    { kind: 'gate_up_xw', gguf: ['blk.{i}.ffn_gate_exps.weight', 'blk.{i}.ffn_up_exps.weight'], hf: [`${L}.mlp.experts.gate_up_proj`] },
    { kind: 'down_xw', gguf: ['blk.{i}.ffn_down_exps.weight'], hf: [`${L}.mlp.experts.down_proj`] },
    {
      kind: 'gate_up_bias',
      gguf: ['blk.{i}.ffn_gate_exps.bias', 'blk.{i}.ffn_up_exps.bias'],
      hf: [`${L}.mlp.experts.gate_up_proj_bias`],
    },
    r('blk.{i}.ffn_down_exps.bias', `${L}.mlp.experts.down_proj_bias`),
  ],
};

/** Fill {i} (and {e}) in a name template. */
export function fill(template: string, i: number, e?: number): string {
  return template.replace('{i}', String(i)).replace('{e}', String(e ?? ''));
}

/** Whether a template is per layer. */
export function perLayer(template: string): boolean {
  return template.includes('{i}');
}
