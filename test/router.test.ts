/** The three router kinds on rigged logits whose choices and weights are worked out by hand. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RefBackend } from '../src/backend/ref/ref-backend.js';
import type { RouterSpec } from '../src/config/spec.js';
import type { MlpBlock } from '../src/models/blocks/mlp.js';
import { MoeBlock } from '../src/models/blocks/moe.js';
import { route, type Routing } from '../src/models/blocks/router.js';
import { f32Weight } from '../src/tensor/weight.js';

/** Logits whose sigmoid is exactly p. */
const logit = (p: number[]) => Float32Array.from(p, (v) => Math.log(v / (1 - v)));
const grouped = (numGroups: number, topkGroups: number, normTopK: boolean, routedScaling: number): RouterSpec => ({
  kind: 'sigmoid_grouped', numGroups, topkGroups, normTopK, routedScaling, correctionBias: true,
});

/** Compare as expert -> weight, whatever order the router lists them in. */
function expectRouting(r: Routing, expected: Array<[number, number]>): void {
  const got = r.experts.map((e, i) => [e, r.weights[i]!] as [number, number]).sort((a, b) => a[0] - b[0]);
  const want = [...expected].sort((a, b) => a[0] - b[0]);
  assert.deepEqual(got.map(([e]) => e), want.map(([e]) => e), 'chosen experts');
  got.forEach(([, w], i) => assert.ok(Math.abs(w - want[i]![1]) < 1e-6, `expert ${want[i]![0]}: weight ${w} vs ${want[i]![1]}`));
}

test('sigmoid_grouped: the correction bias changes the choice, the weights come from the unbiased scores', () => {
  const logits = logit([0.9, 0.8, 0.3, 0.2]);
  const bias = Float32Array.from([0, 0, 0.7, 0]);
  // Choice scores [0.9, 0.8, 1.0, 0.2] -> experts 2 and 0; weights 0.3 and 0.9 over 1.2, times 2.
  expectRouting(route(grouped(1, 1, true, 2), logits, 2, bias), [[2, 0.5], [0, 1.5]]);
  // Without the bias: experts 0 and 1, weights 0.9 and 0.8 over 1.7, times 2.
  expectRouting(route(grouped(1, 1, true, 2), logits, 2), [[0, 1.8 / 1.7], [1, 1.6 / 1.7]]);
  // norm_topk_prob false: the raw sigmoid scores times the scaling factor.
  expectRouting(route(grouped(1, 1, false, 2), logits, 2, bias), [[2, 0.6], [0, 1.8]]);
});

test('sigmoid_grouped: groups scored by the sum of their top two, top-k only inside the kept groups', () => {
  // Groups of two: g0 [0.95, 0.1] = 1.05, g1 [0.6, 0.55] = 1.15, g2 0.4, g3 0.4.
  const logits = logit([0.95, 0.1, 0.6, 0.55, 0.2, 0.2, 0.3, 0.1]);
  // One group kept: g1 (its best expert is worse than g0's, but its top-2 sum is higher).
  expectRouting(route(grouped(4, 1, true, 1), logits, 2), [[2, 0.6 / 1.15], [3, 0.55 / 1.15]]);
  // Two groups kept (g1, g0): top two of experts 0..3.
  expectRouting(route(grouped(4, 2, true, 1), logits, 2), [[0, 0.95 / 1.55], [2, 0.6 / 1.55]]);
  // No group limit: the same experts the group limit of two gives here, but not of one.
  expectRouting(route(grouped(1, 1, true, 1), logits, 2), [[0, 0.95 / 1.55], [2, 0.6 / 1.55]]);
});

test('sigmoid_grouped: the bias also decides which groups are kept', () => {
  const logits = logit([0.7, 0.6, 0.5, 0.5]);
  // Unbiased: g0 = 1.3 beats g1 = 1.0 -> expert 0.
  expectRouting(route(grouped(2, 1, false, 2.5), logits, 1), [[0, 0.7 * 2.5]]);
  // Biased choice scores [0.7, 0.6, 0.7, 0.7]: g1 = 1.4 beats g0 = 1.3, so expert 0 (also 0.7) is out of
  // reach; the tie in g1 goes to the lower index. Weight: unbiased 0.5 times 2.5.
  expectRouting(route(grouped(2, 1, false, 2.5), logits, 1, Float32Array.from([0, 0, 0.2, 0.2])), [[2, 1.25]]);
});

test('softmax_topk: softmax over all experts, top-k, renormalised only with normTopK', () => {
  const logits = Float32Array.from([1, 2, 3, 4], Math.log); // softmax = [0.1, 0.2, 0.3, 0.4]
  expectRouting(route({ kind: 'softmax_topk', normTopK: false }, logits, 2), [[3, 0.4], [2, 0.3]]);
  expectRouting(route({ kind: 'softmax_topk', normTopK: true }, logits, 2), [[3, 4 / 7], [2, 3 / 7]]);
});

test('topk_softmax: top-k on the logits, softmax over the k chosen only', () => {
  const logits = Float32Array.from([1, 3, 2, 3 + Math.log(3)]);
  // Experts 3 and 1; softmax([3 + ln 3, 3]) = [3/4, 1/4] (over all four it would differ).
  expectRouting(route({ kind: 'topk_softmax' }, logits, 2), [[3, 0.75], [1, 0.25]]);
});

test('DeepSeek MoE block: correction bias reaches the router, shared experts are added unweighted', () => {
  // Hidden size 1 and x = 1, so the router weight column is the logits; expert e returns e + 1, the shared one 100.
  const constant = (v: number): MlpBlock => ({ forward: (_x, out, n) => out.fill(v, 0, n) });
  const p = [0.9, 0.8, 0.3, 0.2];
  const moe = new MoeBlock(
    new RefBackend(),
    {
      router: f32Weight(logit(p), 4, 1),
      correctionBias: Float32Array.from([0, 0, 0.7, 0]),
      experts: [0, 1, 2, 3].map((e) => constant(e + 1)),
      shared: constant(100),
    },
    grouped(2, 2, true, 2),
    2,
    1,
  );
  const out = new Float32Array(1);
  moe.forward(Float32Array.from([1]), out, 1);
  // Experts 2 (w 0.5) and 0 (w 1.5): 0.5·3 + 1.5·1 + 100.
  expectRouting(moe.lastRouting[0]!, [[2, 0.5], [0, 1.5]]);
  assert.ok(Math.abs(out[0]! - 103) < 1e-5, `${out[0]}`);
});
