import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GREEDY,
  Sampler,
  applyPresenceFrequency,
  applyRepetitionPenalty,
  candidates,
  validateSampling,
  type SamplingOptions,
} from '../src/generate/sampling.js';
import { createRng } from '../src/generate/rng.js';
import { defaultSampling, parseGenerationConfig, QWEN3_RECOMMENDED } from '../src/generate/defaults.js';

const logOf = (ps: number[]) => Float32Array.from(ps, Math.log);
const opts = (o: Partial<SamplingOptions>): SamplingOptions => ({ ...GREEDY, temperature: 1, ...o });

test('repetition penalty: divides positive logits, multiplies negative ones, once per distinct token', () => {
  const l = Float32Array.from([2, -2, 0, 1, 3]);
  applyRepetitionPenalty(l, [0, 1, 2, 0, 0, 1], 2);
  assert.deepEqual(Array.from(l), [1, -4, 0, 1, 3]);
  const same = Float32Array.from([2, -2]);
  applyRepetitionPenalty(same, [0, 1], 1);
  assert.deepEqual(Array.from(same), [2, -2]);
});

test('presence and frequency penalties: logit - count*frequency - presence for generated tokens', () => {
  const l = Float32Array.from([1, 1, 1, 1]);
  applyPresenceFrequency(l, new Map([[0, 3], [2, 1]]), 0.5, 0.25);
  assert.deepEqual(Array.from(l), [1 - 0.75 - 0.5, 1, 1 - 0.25 - 0.5, 1]);
});

test('Sampler: repetition over prompt + output, presence/frequency over output only; greedy sees penalised logits', () => {
  const s = new Sampler(opts({ temperature: 0, repetitionPenalty: 2, presencePenalty: 1, frequencyPenalty: 0.5 }), createRng(1));
  s.observePrompt([0]);
  s.accept(1);
  s.accept(1);
  const out = s.penalise(Float32Array.from([4, 4, 3, -1]));
  // token 0: prompt only → 4/2; token 1: output twice → 4/2 - 2*0.5 - 1; tokens 2, 3 untouched.
  assert.deepEqual(Array.from(out), [2, 0, 3, -1]);
  assert.equal(s.pick(Float32Array.from([4, 4, 3, -1])), 2);
});

test('top-k keeps the k largest (ties with the k-th included)', () => {
  assert.deepEqual(candidates([1, 5, 3, 5, 2], opts({ topK: 2 })).ids, [1, 3]);
  assert.deepEqual(candidates([1, 5, 3, 5, 2], opts({ topK: 3 })).ids, [1, 2, 3]);
  assert.deepEqual(candidates([1, 5, 3, 3, 2], opts({ topK: 2 })).ids, [1, 2, 3]);
  assert.deepEqual(candidates([1, 5, 3, 5, 2], opts({ topK: 99 })).ids, [0, 1, 2, 3, 4]);
  const c = candidates(logOf([0.5, 0.3, 0.2]), opts({ topK: 2 }));
  assert.ok(Math.abs(c.probs[0]! - 0.625) < 1e-6 && Math.abs(c.probs[1]! - 0.375) < 1e-6);
});

test('top-p keeps tokens while the probability before them is below p', () => {
  const l = logOf([0.125, 0.5, 0.125, 0.25]);
  const ids = (p: number) => candidates(l, opts({ topP: p })).ids;
  assert.deepEqual(ids(0.01), [1]);
  assert.deepEqual(ids(0.49), [1]);
  assert.deepEqual(ids(0.51), [1, 3]);
  assert.deepEqual(ids(0.74), [1, 3]);
  // 0 and 2 tie at 0.125: the lower id goes first.
  assert.deepEqual(ids(0.76), [0, 1, 3]);
  assert.deepEqual(ids(0.99), [0, 1, 2, 3]);
  const c = candidates(l, opts({ topP: 0.6 }));
  assert.ok(Math.abs(c.probs[0]! - 2 / 3) < 1e-6 && Math.abs(c.probs[1]! - 1 / 3) < 1e-6);
  // Ties at the cut: only as many as needed, lowest ids first.
  assert.deepEqual(candidates([0, 0, 0, 0], opts({ topP: 0.3 })).ids, [0, 1]);
  assert.deepEqual(candidates([0, 1, 0, 0], opts({ topP: 0.5 })).ids, [0, 1]);
});

test('top-p over a large vocabulary equals the definition, nuclei smaller and larger than one sorted block', () => {
  const rng = createRng(7);
  for (const [n, spread, p] of [[5000, 1, 0.9], [5000, 12, 0.8], [40000, 3, 0.5], [3000, 0, 0.3]] as const) {
    // spread 0: every logit equal (ties all the way); small spread: a nucleus of thousands.
    const l = Float32Array.from({ length: n }, () => Math.round(rng.next() * spread * 64) / 64);
    const max = Math.max(...l);
    const w = Array.from(l, (x) => Math.exp(x - max));
    const z = w.reduce((a, b) => a + b, 0);
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => l[b]! - l[a]! || a - b);
    const want: number[] = [];
    let cum = 0;
    for (const i of order) {
      if (cum >= p) break;
      want.push(i);
      cum += w[i]! / z;
    }
    assert.deepEqual(candidates(l, opts({ topP: p })).ids, want.sort((a, b) => a - b), `n ${n}, spread ${spread}, p ${p}`);
  }
});

test('top-p applies to the top-k renormalised distribution (transformers chain order)', () => {
  const l = logOf([0.4, 0.3, 0.2, 0.1]);
  // Over all four, 0.4 < 0.5 so two tokens stay; within the top 2, 4/7 > 0.5 so one does.
  assert.deepEqual(candidates(l, opts({ topP: 0.5 })).ids, [0, 1]);
  assert.deepEqual(candidates(l, opts({ topK: 2, topP: 0.5 })).ids, [0]);
});

test('min-p drops tokens below min_p × the top probability, after temperature', () => {
  const l = logOf([0.5, 0.25, 0.15, 0.1]);
  assert.deepEqual(candidates(l, opts({ minP: 0.29 })).ids, [0, 1, 2]);
  assert.deepEqual(candidates(l, opts({ minP: 0.31 })).ids, [0, 1]);
  assert.deepEqual(candidates(l, opts({ minP: 0.51 })).ids, [0]);
  // Temperature 2 flattens: p ∝ sqrt(p), so 0.1 vs 0.5 is sqrt(0.2) ≈ 0.447.
  assert.deepEqual(candidates(l, opts({ temperature: 2, minP: 0.44 })).ids, [0, 1, 2, 3]);
  assert.deepEqual(candidates(l, opts({ temperature: 2, minP: 0.45 })).ids, [0, 1, 2]);
});

test('temperature reshapes the distribution: p^(1/T), renormalised', () => {
  const c = candidates(logOf([0.5, 0.25, 0.25]), opts({ temperature: 0.5 }));
  assert.deepEqual(c.ids, [0, 1, 2]);
  const expected = [0.25, 0.0625, 0.0625].map((x) => x / 0.375);
  c.probs.forEach((p, i) => assert.ok(Math.abs(p - expected[i]!) < 1e-6, `${p} vs ${expected[i]}`));
});

test('seeded draws follow the distribution and never leave the kept set', () => {
  const l = logOf([0.5, 0.25, 0.15, 0.1]);
  const draws = (o: Partial<SamplingOptions>, seed: number, n: number) => {
    const s = new Sampler(opts(o), createRng(seed));
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) counts[s.pick(l)]!++;
    return counts.map((c) => c / n);
  };
  const full = draws({}, 7, 40000);
  [0.5, 0.25, 0.15, 0.1].forEach((p, i) => assert.ok(Math.abs(full[i]! - p) < 0.01, `token ${i}: ${full[i]} vs ${p}`));
  const topK = draws({ topK: 2 }, 8, 20000);
  assert.equal(topK[2]! + topK[3]!, 0);
  assert.ok(Math.abs(topK[0]! - 2 / 3) < 0.015, String(topK[0]));
  const minP = draws({ minP: 0.25 }, 9, 20000);
  assert.equal(minP[3], 0);
  assert.ok(Math.abs(minP[2]! - 0.15 / 0.9) < 0.015, String(minP[2]));
});

test('same seed gives the same draws; another seed gives others', () => {
  const l = new Float32Array(1000).map((_, i) => Math.sin(i) * 2);
  const run = (seed: number) => {
    const s = new Sampler(opts({ topP: 0.9 }), createRng(seed));
    return Array.from({ length: 50 }, () => s.pick(l));
  };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
  const u = createRng(3);
  let mean = 0;
  for (let i = 0; i < 10000; i++) mean += u.next() / 10000;
  assert.ok(Math.abs(mean - 0.5) < 0.01, String(mean));
});

test('bad sampling values are refused with the option named', () => {
  assert.throws(() => validateSampling({ temperature: -1 }), /temperature/);
  assert.throws(() => validateSampling({ topP: 0 }), /topP/);
  assert.throws(() => validateSampling({ topK: 1.5 }), /topK/);
  assert.throws(() => validateSampling({ minP: 2 }), /minP/);
  assert.throws(() => validateSampling({ repetitionPenalty: 0 }), /repetitionPenalty/);
  assert.throws(() => validateSampling({ presencePenalty: NaN }), /presencePenalty/);
});

test('defaults: Qwen3 card values per thinking mode, else generation_config.json, else temperature 1', () => {
  const g = parseGenerationConfig({ do_sample: true, temperature: 0.6, top_k: 20, top_p: 0.95, eos_token_id: [151645, 151643] }, 'g.json');
  assert.deepEqual(g.eosTokenIds, [151645, 151643]);
  const think = defaultSampling({ family: 'qwen3', generationConfig: g, thinking: true });
  const noThink = defaultSampling({ family: 'qwen3', generationConfig: g, thinking: false });
  assert.deepEqual([think.temperature, think.topP, think.topK, think.minP], [0.6, 0.95, 20, 0]);
  assert.deepEqual(
    [noThink.temperature, noThink.topP, noThink.topK, noThink.minP],
    [QWEN3_RECOMMENDED.nonThinking.temperature, 0.8, 20, 0],
  );
  const gpt = defaultSampling({ family: 'gpt_oss', generationConfig: g });
  assert.deepEqual([gpt.temperature, gpt.topK, gpt.topP], [0.6, 20, 0.95]);
  const greedy = defaultSampling({ family: 'gpt_oss', generationConfig: parseGenerationConfig({ do_sample: false, temperature: 0.6 }, 'g') });
  assert.equal(greedy.temperature, 0);
  const none = defaultSampling({ family: 'deepseek_v3', generationConfig: parseGenerationConfig({}, 'g') });
  assert.deepEqual(none, { ...GREEDY, temperature: 1 });
  assert.throws(() => parseGenerationConfig({ temperature: 'hot' }, 'x/generation_config.json'), /generation_config\.json: temperature/);
  assert.throws(() => parseGenerationConfig({ eos_token_id: 'a' }, 'g.json'), /eos_token_id/);
});
