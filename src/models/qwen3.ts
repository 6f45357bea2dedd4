/**
 * Qwen3 dense and Qwen3-MoE: GQA with per-head QK-norm, half-split RoPE (optionally YaRN),
 * SwiGLU MLPs or softmax-routed experts, tied or untied LM head.
 */
import type { Backend } from '../backend/backend.js';
import type { GqaAttentionSpec, ModelSpec } from '../config/spec.js';
import { GqaAttention } from './blocks/attention.js';
import { GatedMlp, type MlpBlock } from './blocks/mlp.js';
import { MoeBlock } from './blocks/moe.js';
import { ropeTable } from './blocks/rope.js';
import { DecoderModel, type DecoderLayer } from './decoder.js';
import type { WeightStore } from './weight-store.js';

export function buildQwen3(spec: ModelSpec, store: WeightStore, backend: Backend): DecoderModel {
  const attnSpec = spec.attention as GqaAttentionSpec;
  const { hiddenSize: hidden, vocabSize } = spec;
  const { numHeads, numKvHeads, headDim } = attnSpec;
  const rope = ropeTable(spec.rope);
  const mlp = (prefix: string, inter: number): MlpBlock =>
    new GatedMlp(
      backend,
      {
        gate: store.matrix(`${prefix}.gate_proj.weight`, inter, hidden),
        up: store.matrix(`${prefix}.up_proj.weight`, inter, hidden),
        down: store.matrix(`${prefix}.down_proj.weight`, hidden, inter),
      },
      spec.activation,
    );
  const bias = (name: string, len: number) => (attnSpec.qkvBias ? store.vector(name, len) : undefined);

  const layers: DecoderLayer[] = spec.layers.map((kind, i) => {
    const p = `model.layers.${i}`;
    const a = `${p}.self_attn`;
    const attention = new GqaAttention(
      backend,
      {
        q: store.matrix(`${a}.q_proj.weight`, numHeads * headDim, hidden),
        k: store.matrix(`${a}.k_proj.weight`, numKvHeads * headDim, hidden),
        v: store.matrix(`${a}.v_proj.weight`, numKvHeads * headDim, hidden),
        o: store.matrix(`${a}.o_proj.weight`, hidden, numHeads * headDim),
        qBias: bias(`${a}.q_proj.bias`, numHeads * headDim),
        kBias: bias(`${a}.k_proj.bias`, numKvHeads * headDim),
        vBias: bias(`${a}.v_proj.bias`, numKvHeads * headDim),
        oBias: attnSpec.oBias ? store.vector(`${a}.o_proj.bias`, hidden) : undefined,
        qNorm: store.vector(`${a}.q_norm.weight`, headDim),
        kNorm: store.vector(`${a}.k_norm.weight`, headDim),
      },
      { spec: attnSpec, rope, normEps: spec.rmsNormEps, window: kind.attention === 'sliding' ? spec.slidingWindow : null },
    );
    let block: MlpBlock;
    if (kind.mlp === 'moe') {
      const moe = spec.moe!;
      block = new MoeBlock(
        backend,
        {
          router: store.matrix(`${p}.mlp.gate.weight`, moe.numExperts, hidden),
          experts: Array.from({ length: moe.numExperts }, (_, e) => mlp(`${p}.mlp.experts.${e}`, moe.expertIntermediate)),
        },
        moe.router,
        moe.topK,
        hidden,
      );
    } else block = mlp(`${p}.mlp`, spec.intermediateSize);
    return {
      attnNorm: store.vector(`${p}.input_layernorm.weight`, hidden),
      attention,
      mlpNorm: store.vector(`${p}.post_attention_layernorm.weight`, hidden),
      mlp: block,
    };
  });
  const embed = store.matrix('model.embed_tokens.weight', vocabSize, hidden);
  return new DecoderModel(spec, backend, {
    embed,
    layers,
    finalNorm: store.vector('model.norm.weight', hidden),
    lmHead: spec.tieEmbeddings ? embed : store.matrix('lm_head.weight', vocabSize, hidden),
  });
}
