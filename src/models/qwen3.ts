/**
 * Qwen3 dense and Qwen3-MoE: GQA with per-head QK-norm, half-split RoPE (optionally YaRN),
 * SwiGLU MLPs or softmax-routed experts, tied or untied LM head.
 */
import type { Backend } from '../backend/backend.js';
import type { ModelSpec } from '../config/spec.js';
import { MoeBlock } from './blocks/moe.js';
import type { DecoderModel } from './decoder.js';
import { buildDecoder, loadGatedMlp, loadGqaAttention } from './hf-blocks.js';
import type { WeightStore } from './weight-store.js';

export function buildQwen3(spec: ModelSpec, store: WeightStore, backend: Backend): DecoderModel {
  const mlp = (prefix: string, inter: number) => loadGatedMlp(spec, store, backend, prefix, inter);
  return buildDecoder(spec, store, backend, (p, kind) => {
    const attention = loadGqaAttention(spec, store, backend, `${p}.self_attn`, kind);
    if (kind.mlp === 'dense') return { attention, mlp: mlp(`${p}.mlp`, spec.intermediateSize) };
    const moe = spec.moe!;
    const block = new MoeBlock(
      backend,
      {
        router: store.matrix(`${p}.mlp.gate.weight`, moe.numExperts, spec.hiddenSize),
        experts: Array.from({ length: moe.numExperts }, (_, e) => mlp(`${p}.mlp.experts.${e}`, moe.expertIntermediate)),
      },
      moe.router,
      moe.topK,
      spec.hiddenSize,
    );
    return { attention, mlp: block };
  });
}
