/**
 * forward(..., { logits: 'last' }) runs the last layer's queries, MLP and final norm for the last
 * token only: its logits must be the last row of a full forward's, and the cache it leaves must be
 * the same (every token's keys and values), for every attention kind (GQA with sinks and windows,
 * MLA with and without the q LoRA, MoE MLPs).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RefBackend, WasmBackend } from '../src/backend/index.js';
import type { Backend } from '../src/backend/backend.js';
import { loadFixture, maxAbsDiff, readReference } from './oracle.js';

const FAMILIES = ['qwen3-dense', 'qwen3-moe', 'gpt-oss', 'deepseek-v3', 'deepseek-v3-nolora'];

function check(backend: () => Backend) {
  for (const name of FAMILIES) {
    it(`${name}: the last token's logits and the cache match a full forward`, () => {
      const model = loadFixture(name, backend());
      const ids = readReference(name).ids[2]!;
      const vocab = model.spec.vocabSize;
      const full = model.forward(ids, model.newCache(), { logits: 'all' });
      const cache = model.newCache();
      const last = model.forward(ids, cache, { logits: 'last' });
      assert.equal(last.length, vocab);
      const want = full.subarray((ids.length - 1) * vocab);
      const scale = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      const d = maxAbsDiff(last, want);
      // Same arithmetic per row; only a one-row product may take the matrix-vector kernel's summation order.
      assert.ok(d <= 1e-5 * Math.max(1, scale), `last-token logits differ by ${d}`);
      assert.equal(cache.length, ids.length);
      // The next step reads every cached key and value of the last layer too.
      const next = [3, 1];
      const fullCache = model.newCache();
      model.forward(ids, fullCache, { logits: 'all' });
      const a = model.forward(next, cache, { logits: 'all' });
      const b = model.forward(next, fullCache, { logits: 'all' });
      assert.ok(maxAbsDiff(a, b) <= 1e-5 * Math.max(1, scale), `continuation differs by ${maxAbsDiff(a, b)}`);
    });
  }
}

describe('logits: last, reference backend', () => check(() => new RefBackend()));

describe('logits: last, wasm backend (2 threads)', () => {
  let b: WasmBackend;
  before(async () => (b = await WasmBackend.create({ threads: 2 })));
  after(() => b.dispose());
  check(() => b);
});

describe('ForwardOptions.out', () => {
  it('the logits are written into the buffer given, which is returned; a buffer of the wrong size is refused', () => {
    const model = loadFixture('qwen3-dense');
    const ids = readReference('qwen3-dense').ids[0]!;
    const want = model.forward(ids, model.newCache(), { logits: 'last' });
    const out = new Float32Array(model.spec.vocabSize).fill(NaN);
    const got = model.forward(ids, model.newCache(), { logits: 'last', out });
    assert.equal(got, out);
    assert.deepEqual(got, want);
    const cache = model.newCache();
    assert.throws(() => model.forward(ids, cache, { logits: 'all', out }), /out holds \d+ floats, the logits need/);
    assert.equal(cache.length, 0, 'a refused call leaves the cache as it was');
  });
});
