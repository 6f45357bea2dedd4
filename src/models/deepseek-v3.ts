/**
 * DeepSeek-V3 and its relatives (Kimi-K2, Moonlight, DeepSeek-V2-Lite-style q_lora_rank null):
 * multi-head latent attention with interleaved (YaRN) RoPE; the first first_k_dense_replace layers
 * dense, the rest DeepSeekMoE (sigmoid group-limited routing with a choice-only bias, scaled
 * weights, always-on shared experts). FP8 block-quantised linears stay one byte per weight.
 *
 * The multi-token-prediction layers (model.layers.{num_hidden_layers..}.*) are skipped on purpose
 * (registry.ts SKIPPED); a speculative decoder would build them here as a draft head over the
 * final hidden state and verify its guesses with one multi-token forward of this model.
 */
import type { Backend } from '../backend/backend.js';
import type { MlaAttentionSpec, ModelSpec } from '../config/spec.js';
import { MlaAttention, mlaSoftmaxScale, type MlaPath } from './blocks/mla.js';
import type { MlpBlock } from './blocks/mlp.js';
import { MoeBlock } from './blocks/moe.js';
import { ropeTable } from './blocks/rope.js';
import type { DecoderModel } from './decoder.js';
import { buildDecoder, loadGatedMlp } from './hf-blocks.js';
import type { WeightStore } from './weight-store.js';

export interface DeepSeekOptions {
  /** MLA attention path; 'auto' (default) chooses per forward, see blocks/mla.ts. */
  mlaPath?: MlaPath;
}

export function buildDeepSeekV3(spec: ModelSpec, store: WeightStore, backend: Backend, opts: DeepSeekOptions = {}): DecoderModel {
  const mla = spec.attention as MlaAttentionSpec;
  const hidden = spec.hiddenSize;
  const { numHeads: H, qLoraRank, kvLoraRank, qkNopeHeadDim: nope, qkRopeHeadDim: rope, vHeadDim: dv } = mla;
  const ropeTab = ropeTable(spec.rope);
  const scale = mlaSoftmaxScale(mla, spec.rope);
  const mlp = (prefix: string, inter: number) => loadGatedMlp(spec, store, backend, prefix, inter);

  return buildDecoder(spec, store, backend, (p, kind) => {
    const a = `${p}.self_attn`;
    const query =
      qLoraRank === null
        ? { q: store.matrix(`${a}.q_proj.weight`, H * (nope + rope), hidden) }
        : {
            qA: store.matrix(`${a}.q_a_proj.weight`, qLoraRank, hidden),
            qANorm: store.vector(`${a}.q_a_layernorm.weight`, qLoraRank),
            qB: store.matrix(`${a}.q_b_proj.weight`, H * (nope + rope), qLoraRank),
          };
    const attention = new MlaAttention(
      backend,
      {
        ...query,
        kvA: store.matrix(`${a}.kv_a_proj_with_mqa.weight`, kvLoraRank + rope, hidden),
        kvANorm: store.vector(`${a}.kv_a_layernorm.weight`, kvLoraRank),
        kvB: store.matrix(`${a}.kv_b_proj.weight`, H * (nope + dv), kvLoraRank),
        o: store.matrix(`${a}.o_proj.weight`, hidden, H * dv),
      },
      { spec: mla, rope: ropeTab, scale, path: opts.mlaPath ?? 'auto' },
    );
    let block: MlpBlock;
    if (kind.mlp === 'moe') {
      const moe = spec.moe!;
      const biasName = `${p}.mlp.gate.e_score_correction_bias`;
      // transformers uses the bias whenever the checkpoint has one, whatever topk_method says.
      const useBias = moe.router.kind === 'sigmoid_grouped' && (moe.router.correctionBias || store.has(biasName));
      block = new MoeBlock(
        backend,
        {
          router: store.matrix(`${p}.mlp.gate.weight`, moe.numExperts, hidden),
          correctionBias: useBias ? store.vector(biasName, moe.numExperts) : undefined,
          experts: Array.from({ length: moe.numExperts }, (_, e) => mlp(`${p}.mlp.experts.${e}`, moe.expertIntermediate)),
          shared: moe.numShared > 0 ? mlp(`${p}.mlp.shared_experts`, moe.sharedIntermediate) : undefined,
        },
        moe.router,
        moe.topK,
        hidden,
      );
    } else block = mlp(`${p}.mlp`, spec.intermediateSize);
    return { attention, mlp: block };
  });
}
