/**
 * RoPE frequency tables from a RopeSpec, including YaRN exactly as transformers'
 * `_compute_yarn_parameters` (ramp-blended inv_freq, cos/sin scaled by the attention factor).
 */
import type { RopeTable } from '../../backend/backend.js';
import type { RopeSpec, YarnScaling } from '../../config/spec.js';

/** YaRN's mscale(s, m) = 0.1 m ln(s) + 1 (1 for s <= 1). */
export function yarnMscale(scale: number, m = 1): number {
  return scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1;
}

const tables = new WeakMap<RopeSpec, RopeTable>();

/** The table of a RopeSpec; one shared object per spec, so backends can reuse work across layers. */
export function ropeTable(rope: RopeSpec): RopeTable {
  let t = tables.get(rope);
  if (!t) tables.set(rope, (t = buildTable(rope)));
  return t;
}

function buildTable(rope: RopeSpec): RopeTable {
  const { dim, theta } = rope;
  const half = dim / 2;
  const invFreq = new Float32Array(half);
  const extrap = Array.from({ length: half }, (_, i) => 1 / Math.fround(theta ** ((2 * i) / dim)));
  if (rope.scaling.kind === 'none') {
    extrap.forEach((v, i) => (invFreq[i] = v));
    return { dim, layout: rope.layout, invFreq, scale: 1 };
  }
  const y = rope.scaling;
  const [low, high] = yarnCorrectionRange(y, dim, theta);
  for (let i = 0; i < half; i++) {
    const ramp = Math.min(Math.max((i - low) / (high === low ? 0.001 : high - low), 0), 1);
    const extrapFactor = 1 - ramp;
    const interp = extrap[i]! / y.factor;
    invFreq[i] = interp * (1 - extrapFactor) + extrap[i]! * extrapFactor;
  }
  return { dim, layout: rope.layout, invFreq, scale: yarnAttentionFactor(y) };
}

function yarnCorrectionRange(y: YarnScaling, dim: number, theta: number): [number, number] {
  const corr = (rot: number) => (dim * Math.log(y.originalMaxPositions / (rot * 2 * Math.PI))) / (2 * Math.log(theta));
  let low = corr(y.betaFast);
  let high = corr(y.betaSlow);
  if (y.truncate) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  return [Math.max(low, 0), Math.min(high, dim - 1)];
}

/** The factor cos and sin are multiplied by. */
export function yarnAttentionFactor(y: YarnScaling): number {
  if (y.attentionFactor !== null) return y.attentionFactor;
  if (y.mscale && y.mscaleAllDim) return yarnMscale(y.factor, y.mscale) / yarnMscale(y.factor, y.mscaleAllDim);
  return yarnMscale(y.factor);
}
