/**
 * MoE routers: one token's router logits -> chosen experts and their weights. Plain TS (O(experts)
 * per token); the three kinds of the three families, selected by RouterSpec.
 */
import type { RouterSpec } from '../../config/spec.js';

export interface Routing {
  experts: number[];
  weights: number[];
}

/** Indices of the k largest values (ties: lower index first, as torch.topk on CPU). */
export function topK(values: ArrayLike<number>, k: number, allowed?: (i: number) => boolean): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) if (!allowed || allowed(i)) idx.push(i);
  idx.sort((a, b) => values[b]! - values[a]! || a - b);
  return idx.slice(0, k);
}

/**
 * @param logits router logits of one token (bias already added for GPT-OSS)
 * @param bias DeepSeek's e_score_correction_bias (choice only), when present
 */
export function route(router: RouterSpec, logits: Float32Array, k: number, bias?: Float32Array | null): Routing {
  switch (router.kind) {
    case 'softmax_topk': {
      const p = softmax(Array.from(logits));
      const experts = topK(p, k);
      let weights = experts.map((e) => p[e]!);
      if (router.normTopK) {
        const sum = weights.reduce((a, b) => a + b, 0);
        weights = weights.map((w) => w / sum);
      }
      return { experts, weights };
    }
    case 'topk_softmax': {
      const experts = topK(logits, k);
      return { experts, weights: softmax(experts.map((e) => logits[e]!)) };
    }
    case 'sigmoid_grouped': {
      const scores = Array.from(logits, (x) => Math.fround(1 / (1 + Math.exp(-x))));
      const choice = scores.map((s, i) => Math.fround(s + (bias ? bias[i]! : 0)));
      const perGroup = scores.length / router.numGroups;
      // A group's score is the sum of its two best choice scores; keep the best topkGroups groups.
      const groupScores = Array.from({ length: router.numGroups }, (_, g) => {
        const top = topK(choice.slice(g * perGroup, (g + 1) * perGroup), Math.min(2, perGroup));
        return top.reduce((a, i) => a + choice[g * perGroup + i]!, 0);
      });
      const keep = new Set(topK(groupScores, router.topkGroups));
      const experts = topK(choice, k, (i) => keep.has(Math.floor(i / perGroup)));
      let weights = experts.map((e) => scores[e]!);
      if (router.normTopK) {
        const sum = weights.reduce((a, b) => a + b, 0) + 1e-20;
        weights = weights.map((w) => w / sum);
      }
      return { experts, weights: weights.map((w) => w * router.routedScaling) };
    }
  }
}

function softmax(x: number[]): number[] {
  const max = Math.max(...x);
  const e = x.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}
