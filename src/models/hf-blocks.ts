/**
 * Blocks read from Hugging Face tensor names that more than one family shares: the decoder shell
 * (per-layer norms, embedding, final norm, LM head), GQA attention and the gate/up/down MLP.
 * A family file supplies only what differs: its attention and MLP per layer.
 */
import type { Backend } from '../backend/backend.js';
import type { GqaAttentionSpec, LayerSpec, ModelSpec } from '../config/spec.js';
import { GqaAttention, type AttentionBlock } from './blocks/attention.js';
import { GatedMlp, type MlpBlock } from './blocks/mlp.js';
import { ropeTable } from './blocks/rope.js';
import { DecoderModel, type DecoderLayer } from './decoder.js';
import type { WeightStore } from './weight-store.js';

/** What a family builds for layer i (prefix `model.layers.{i}`). */
export type LayerBuilder = (prefix: string, kind: LayerSpec, index: number) => { attention: AttentionBlock; mlp: MlpBlock };

/** The shared decoder shell around the family's layers. */
export function buildDecoder(spec: ModelSpec, store: WeightStore, backend: Backend, layer: LayerBuilder): DecoderModel {
  const { hiddenSize: hidden, vocabSize } = spec;
  const layers: DecoderLayer[] = spec.layers.map((kind, i) => {
    const p = `model.layers.${i}`;
    const { attention, mlp } = layer(p, kind, i);
    return {
      attnNorm: store.vector(`${p}.input_layernorm.weight`, hidden),
      attention,
      mlpNorm: store.vector(`${p}.post_attention_layernorm.weight`, hidden),
      mlp,
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

/** `{prefix}.{gate,up,down}_proj.weight` as a GatedMlp with the spec's activation. */
export function loadGatedMlp(spec: ModelSpec, store: WeightStore, backend: Backend, prefix: string, inter: number): MlpBlock {
  const hidden = spec.hiddenSize;
  const { parts, fused } = store.stack([`${prefix}.gate_proj.weight`, `${prefix}.up_proj.weight`], [inter, inter], hidden);
  return new GatedMlp(
    backend,
    { gate: parts[0]!, up: parts[1]!, gateUp: fused, down: store.matrix(`${prefix}.down_proj.weight`, hidden, inter) },
    spec.activation,
  );
}

/** `{prefix}.{q,k,v,o}_proj` with the biases, QK-norms and sinks the spec says the checkpoint has. */
export function loadGqaAttention(spec: ModelSpec, store: WeightStore, backend: Backend, prefix: string, kind: LayerSpec): AttentionBlock {
  const a = spec.attention as GqaAttentionSpec;
  const hidden = spec.hiddenSize;
  const q = a.numHeads * a.headDim;
  const kv = a.numKvHeads * a.headDim;
  const opt = (present: boolean, name: string, len: number) => (present ? store.vector(`${prefix}.${name}`, len) : undefined);
  const qkv = store.stack(['q', 'k', 'v'].map((x) => `${prefix}.${x}_proj.weight`), [q, kv, kv], hidden);
  return new GqaAttention(
    backend,
    {
      q: qkv.parts[0]!,
      k: qkv.parts[1]!,
      v: qkv.parts[2]!,
      qkv: qkv.fused,
      o: store.matrix(`${prefix}.o_proj.weight`, hidden, q),
      qBias: opt(a.qkvBias, 'q_proj.bias', q),
      kBias: opt(a.qkvBias, 'k_proj.bias', kv),
      vBias: opt(a.qkvBias, 'v_proj.bias', kv),
      oBias: opt(a.oBias, 'o_proj.bias', hidden),
      qNorm: opt(a.qkNorm, 'q_norm.weight', a.headDim),
      kNorm: opt(a.qkNorm, 'k_norm.weight', a.headDim),
      sinks: opt(a.sinks, 'sinks', a.numHeads),
    },
    { spec: a, rope: ropeTable(spec.rope), normEps: spec.rmsNormEps, window: kind.attention === 'sliding' ? spec.slidingWindow : null },
  );
}
