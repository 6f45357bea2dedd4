/**
 * Checks a model folder against its Hugging Face reference (reference.safetensors): logits at
 * every position of the three prompts, hidden states layer by layer, cached greedy decoding, nll_2.
 * Shared by the family tests; tolerances come from the fixture README, never loosened.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Backend } from '../src/backend/backend.js';
import { loadModelDir } from '../src/node/model-dir.js';
import { readSafetensorsFile } from '../src/node/tensor-files.js';
import { FIXTURES } from './helpers.js';
import type { CausalLM } from '../src/models/decoder.js';
import { argmax, meanNextTokenNll as meanNll } from '../src/generate/metrics.js';

export interface Reference {
  ids: number[][];
  logits: Float32Array[];
  hidden0: Float32Array;
  hiddenShape: number[];
  greedy: number[];
  nll2: number;
}

export function readReference(name: string): Reference {
  const t = readSafetensorsFile(join(FIXTURES, 'models', name, 'reference.safetensors'));
  const f32 = (k: string) => new Float32Array(t.get(k)!.data.slice().buffer);
  const i64 = (k: string) => Array.from(new BigInt64Array(t.get(k)!.data.slice().buffer), Number);
  return {
    ids: [0, 1, 2].map((i) => i64(`input_ids_${i}`)),
    logits: [0, 1, 2].map((i) => f32(`logits_${i}`)),
    hidden0: f32('hidden_states_0'),
    hiddenShape: t.get('hidden_states_0')!.shape,
    greedy: i64('greedy_ids'),
    nll2: f32('nll_2')[0]!,
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function loadFixture(name: string, backend?: Backend): CausalLM {
  return loadModelDir(join(FIXTURES, 'models', name), { backend }).model;
}

/** Run every oracle check; returns the measured maximum differences for reporting. */
export function checkAgainstReference(model: CausalLM, ref: Reference, atol: number) {
  const vocab = model.spec.vocabSize;
  const measured: Record<string, number> = {};
  // Logits of a full forward, every position, all three prompts.
  ref.ids.forEach((ids, p) => {
    const logits = model.forward(ids, model.newCache());
    measured[`logits_${p}`] = maxAbsDiff(logits, ref.logits[p]!);
    assert.ok(measured[`logits_${p}`]! <= atol, `logits_${p}: max diff ${measured[`logits_${p}`]} > ${atol}`);
  });
  // Hidden states layer by layer on prompt 0.
  const [layers1, len0, hidden] = ref.hiddenShape as [number, number, number];
  const hs: Float32Array[] = [];
  model.forward(ref.ids[0]!, model.newCache(), { onHidden: (i, h) => (hs[i] = h.slice(0, len0 * hidden)) });
  assert.equal(hs.length, layers1);
  hs.forEach((h, i) => {
    const d = maxAbsDiff(h, ref.hidden0.subarray(i * len0 * hidden, (i + 1) * len0 * hidden));
    measured.hidden = Math.max(measured.hidden ?? 0, d);
    assert.ok(d <= atol, `hidden_states_0[${i}]: max diff ${d} > ${atol}`);
  });
  // Greedy decoding with the cache: prefill prompt 1, then one token at a time.
  const prompt = ref.ids[1]!;
  const cache = model.newCache();
  let logits = model.forward(prompt, cache, { logits: 'last' });
  const out = [...prompt];
  while (out.length < ref.greedy.length) {
    const next = argmax(logits);
    out.push(next);
    if (out.length < ref.greedy.length) logits = model.forward([next], cache, { logits: 'last' });
  }
  assert.deepEqual(out, ref.greedy, 'greedy_ids with cached decoding');
  // Cached decoding gives the same logits as the full forward: prefill half of prompt 2, then one token at a time.
  const ids2 = ref.ids[2]!;
  const half = Math.floor(ids2.length / 2);
  const stepCache = model.newCache();
  let step = model.forward(ids2.slice(0, half), stepCache);
  measured.cached = maxAbsDiff(step, ref.logits[2]!.subarray(0, half * vocab));
  for (let t = half; t < ids2.length; t++) {
    step = model.forward([ids2[t]!], stepCache, { logits: 'last' });
    measured.cached = Math.max(measured.cached, maxAbsDiff(step, ref.logits[2]!.subarray(t * vocab, (t + 1) * vocab)));
  }
  assert.ok(measured.cached <= atol, `cached decoding logits: max diff ${measured.cached} > ${atol}`);
  // nll_2
  const nll = meanNll(model.forward(ref.ids[2]!, model.newCache()), ref.ids[2]!, vocab);
  measured.nll2 = Math.abs(nll - ref.nll2);
  assert.ok(measured.nll2 <= 1e-4, `nll_2 ${nll} vs ${ref.nll2}`);
  return measured;
}
