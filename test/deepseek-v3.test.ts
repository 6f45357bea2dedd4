import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RefBackend } from '../src/backend/ref/ref-backend.js';
import type { Weight } from '../src/tensor/weight.js';
import { checkAgainstReference, loadFixture, readReference } from './oracle.js';

// Tolerance from test/fixtures/models/README.md ("recommended logits atol").
const ATOL = 1e-3;
const NAMES = ['deepseek-v3', 'deepseek-v3-nolora', 'deepseek-v3-fp8'];

for (const name of NAMES) {
  test(`${name} matches the Hugging Face reference (default MLA path: naive prefill, absorbed decode)`, () => {
    const measured = checkAgainstReference(loadFixture(name), readReference(name), ATOL);
    console.log(`# ${name}: ${JSON.stringify(measured)}`);
  });
}

test('FP8 weights stay one byte per weight and are decoded inside matmul', () => {
  const seen = new Map<string, Weight>();
  class Recording extends RefBackend {
    override matmul(out: Float32Array, x: Float32Array, w: Weight, n: number): void {
      seen.set(`${w.format}:${w.rows}x${w.cols}`, w);
      super.matmul(out, x, w, n);
    }
  }
  // The default path prefills naively, so kv_b_proj is used as stored too.
  const model = loadFixture('deepseek-v3-fp8', new Recording());
  model.forward([1, 2, 3], model.newCache());
  // Only the router and lm_head are stored unquantised (bf16); nothing was upcast at load.
  assert.deepEqual([...seen.keys()].filter((k) => !k.startsWith('fp8_e4m3:')).sort(), ['bf16:1024x64', 'bf16:16x64']);
  const fp8 = [...seen.values()].filter((w) => w.format === 'fp8_e4m3');
  // q_a, q_b, kv_a, kv_b, o, dense gate/up/down, expert gate/up/down (shared experts share their shapes).
  assert.ok(fp8.length >= 8, `only ${fp8.length} FP8 matmul shapes seen`);
  for (const w of fp8) {
    assert.equal(w.data.byteLength, w.rows * w.cols, `${w.rows}x${w.cols}: one byte per weight`);
    assert.equal(w.scales!.length, Math.ceil(w.rows / w.block![0]) * Math.ceil(w.cols / w.block![1]));
  }
  // kv_a_proj_with_mqa (40x64) is not a multiple of the 16x16 block: partial edge blocks.
  assert.ok(fp8.some((w) => w.rows % w.block![0] !== 0), 'an FP8 weight with a partial edge block');
});
