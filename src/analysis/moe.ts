/** The mixture-of-experts shape of a model, in words and numbers. */
import type { ModelSpec, RouterSpec } from '../config/spec.js';

export interface MoeReport {
  experts: number;
  active: number;
  shared: number;
  expert_intermediate: number;
  shared_intermediate: number;
  moe_layers: number;
  dense_layers: number;
  router: RouterSpec['kind'];
  /** How router logits become the chosen experts and their weights (short). */
  routing: string;
}

function describeRouter(r: RouterSpec, topK: number): string {
  switch (r.kind) {
    case 'softmax_topk':
      return `softmax, top-${topK}${r.normTopK ? ', renorm' : ''}`;
    case 'topk_softmax':
      return `top-${topK}, softmax of the ${topK}`;
    case 'sigmoid_grouped':
      return `sigmoid${r.correctionBias ? '+bias' : ''}, ${r.topkGroups}/${r.numGroups} groups, top-${topK}${r.normTopK ? ', renorm' : ''}, x${r.routedScaling}`;
  }
}

export function moeShape(spec: ModelSpec): MoeReport | null {
  const m = spec.moe;
  if (!m) return null;
  const moeLayers = spec.layers.filter((l) => l.mlp === 'moe').length;
  return {
    experts: m.numExperts,
    active: m.topK,
    shared: m.numShared,
    expert_intermediate: m.expertIntermediate,
    shared_intermediate: m.sharedIntermediate,
    moe_layers: moeLayers,
    dense_layers: spec.layers.length - moeLayers,
    router: m.router.kind,
    routing: describeRouter(m.router, m.topK),
  };
}
