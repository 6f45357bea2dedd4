/** How far a model's positions reach, and where its RoPE scaling acts, read from the spec. */
import type { ModelSpec } from '../config/spec.js';

export interface LongContextReport {
  /** Context the model was trained at before scaling: YaRN's original length, else max_position_embeddings. */
  native: number;
  max_position_embeddings: number;
  yarn: { factor: number; original: number } | null;
  /** factor x original with YaRN, else max_position_embeddings. */
  reachable: number;
  /** Where the scaling acts (or "none in config.json"). */
  applied_to: string;
  notes: string[];
}

export function longContext(spec: ModelSpec): LongContextReport {
  const s = spec.rope.scaling;
  const a = spec.attention;
  const sliding = spec.layers.filter((l) => l.attention === 'sliding').length;
  const notes: string[] = [];
  if (s.kind !== 'yarn') {
    return {
      native: spec.maxPositions,
      max_position_embeddings: spec.maxPositions,
      yarn: null,
      reachable: spec.maxPositions,
      applied_to: 'none in config.json',
      notes,
    };
  }
  const reachable = s.factor * s.originalMaxPositions;
  let appliedTo: string;
  if (a.kind === 'mla') {
    const qk = a.qkNopeHeadDim + a.qkRopeHeadDim;
    appliedTo = `decoupled RoPE dims only (${a.qkRopeHeadDim} of ${qk})`;
    notes.push('the compressed (latent) part of the keys carries no position, so YaRN leaves it untouched');
    if (s.mscaleAllDim !== null && s.mscaleAllDim > 0)
      notes.push(`softmax scale multiplied by mscale(${s.factor}, ${s.mscaleAllDim})^2 = ${(mscale(s.factor, s.mscaleAllDim) ** 2).toFixed(3)}`);
  } else if (sliding > 0) {
    appliedTo = `RoPE of all ${spec.numLayers} layers`;
    notes.push(
      `${sliding} sliding layers see only ${spec.slidingWindow} tokens, so the scaling matters on the ${spec.numLayers - sliding} full-attention layers`,
    );
  } else appliedTo = `RoPE of all ${spec.numLayers} layers`;
  if (spec.maxPositions !== reachable)
    notes.push(`max_position_embeddings is ${spec.maxPositions}, factor x original is ${reachable}`);
  return {
    native: s.originalMaxPositions,
    max_position_embeddings: spec.maxPositions,
    yarn: { factor: s.factor, original: s.originalMaxPositions },
    reachable,
    applied_to: appliedTo,
    notes,
  };
}

/** YaRN's mscale(s, m) = 0.1 m ln s + 1. */
function mscale(factor: number, m: number): number {
  return factor <= 1 ? 1 : 0.1 * m * Math.log(factor) + 1;
}
