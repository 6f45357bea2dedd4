/**
 * Side by side with llama.cpp (node-llama-cpp's prebuilt CPU build): every fixture family converted by
 * `owl convert` loads in llama.cpp, and its next-token log-probabilities at every position agree with
 * Owl's on the same GGUF file. llama.cpp runs with an f32 KV cache so that f32 files compare exactly.
 */
import { strict as assert } from 'node:assert';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RefBackend } from '../src/backend/ref/ref-backend.js';
import type { ModelSpec } from '../src/config/spec.js';
import { GgufType } from '../src/gguf/constants.js';
import { buildModel } from '../src/models/registry.js';
import { GgufFile, convertToGguf, writeGgufFile } from '../src/node/gguf-file.js';
import { readSafetensorsFile } from '../src/node/tensor-files.js';
import init from '../src/cli/commands/init.js';
import { FIXTURES } from './helpers.js';

type Llama = Awaited<ReturnType<typeof import('node-llama-cpp').getLlama>>;
let llama: Llama | null = null;
let unavailable = '';
const tmp = mkdtempSync(join(tmpdir(), 'owl-llama-'));
before(async () => {
  try {
    const { getLlama } = await import('node-llama-cpp');
    llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  } catch (e) {
    unavailable = `node-llama-cpp unavailable: ${(e as Error).message}`;
  }
});
after(async () => {
  await llama?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

function prompt(name: string): number[] {
  const ref = readSafetensorsFile(join(FIXTURES, 'models', name, 'reference.safetensors'));
  return Array.from(new BigInt64Array(ref.get('input_ids_1')!.data.slice().buffer), Number);
}

/** llama.cpp's next-token probabilities after each prefix of ids, as log-probabilities [n][vocab]. */
async function llamaLogProbs(file: string, ids: number[], vocab: number): Promise<Float64Array[]> {
  const model = await llama!.loadModel({ modelPath: file });
  const ctx = await model.createContext({
    contextSize: 256, batchSize: 256, threads: 1, flashAttention: false,
    experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
  });
  try {
    const res = await ctx.getSequence().controlledEvaluate(ids.map((t) => [t, { generateNext: { probabilities: true } }] as const) as never);
    return res.map((r) => {
      const p = (r as { next: { probabilities: Map<number, number> } }).next.probabilities;
      const out = new Float64Array(vocab).fill(-Infinity);
      for (const [tok, prob] of p) out[tok] = Math.log(prob);
      return out;
    });
  } finally {
    await ctx.dispose();
    await model.dispose();
  }
}

/** Owl's log-softmax rows on the GGUF file (spec adjusted by `tweak`, e.g. llama.cpp's YaRN). */
function owlLogProbs(file: string, ids: number[], tweak?: (s: ModelSpec) => void): Float64Array[] {
  const g = GgufFile.open(file);
  try {
    tweak?.(g.spec);
    const { model } = buildModel(g.spec, g.source, new RefBackend(), file);
    const V = g.spec.vocabSize;
    const logits = model.forward(ids, model.newCache());
    return ids.map((_, t) => {
      const row = logits.subarray(t * V, (t + 1) * V);
      let m = -Infinity;
      for (const x of row) m = Math.max(m, x);
      let s = 0;
      for (const x of row) s += Math.exp(x - m);
      return Float64Array.from(row, (x) => x - m - Math.log(s));
    });
  } finally {
    g.close();
  }
}

/** Largest |Δ log p| over tokens with p > 1e-6 in both, and how many positions pick the same argmax. */
function compare(a: Float64Array[], b: Float64Array[]) {
  let maxDiff = 0;
  let sameTop = 0;
  a.forEach((ra, t) => {
    const rb = b[t]!;
    let ia = 0, ib = 0;
    for (let v = 0; v < ra.length; v++) {
      if (ra[v]! > ra[ia]!) ia = v;
      if (rb[v]! > rb[ib]!) ib = v;
      if (ra[v]! > -13.8 && rb[v]! > -13.8) maxDiff = Math.max(maxDiff, Math.abs(ra[v]! - rb[v]!));
    }
    if (ia === ib) sameTop++;
  });
  return { maxDiff, sameTop };
}

// llama.cpp's YaRN always floors/ceils the correction range; GPT-OSS checkpoints say truncate: false.
const llamaYarn = (s: ModelSpec) => {
  if (s.rope.scaling.kind === 'yarn') s.rope.scaling.truncate = true;
};

describe('llama.cpp agrees with Owl on GGUF files written by owl convert (f32: float32 rounding only)', () => {
  for (const name of ['qwen3-dense', 'qwen3-dense-bf16', 'qwen3-yarn', 'gpt-oss', 'gpt-oss-mxfp4', 'deepseek-v3', 'deepseek-v3-nolora', 'deepseek-v3-fp8'])
    test(name, async (t) => {
      if (!llama) return t.skip(unavailable);
      const file = join(tmp, `${name}.gguf`);
      convertToGguf(join(FIXTURES, 'models', name), file, { type: 'f32' });
      const ids = prompt(name);
      const owl = owlLogProbs(file, ids, name.startsWith('gpt-oss') ? llamaYarn : undefined);
      const cpp = await llamaLogProbs(file, ids, owl[0]!.length);
      const { maxDiff, sameTop } = compare(owl, cpp);
      console.log(`# ${name}: max |Δ log p| ${maxDiff.toExponential(2)}, same argmax ${sameTop}/${ids.length}`);
      if (name === 'gpt-oss-mxfp4') {
        // llama.cpp multiplies MXFP4 experts by activations rounded to Q8_0: an 8-bit error, not f32 rounding.
        assert.ok(sameTop >= ids.length - 2, `same argmax at ${sameTop}/${ids.length} positions`);
        assert.ok(maxDiff < 0.5, `max |Δ log p| ${maxDiff}`);
        return;
      }
      assert.equal(sameTop, ids.length, `argmax differs at ${ids.length - sameTop} positions`);
      assert.ok(maxDiff < 1e-4, `max |Δ log p| ${maxDiff}`);
    });

  test('GPT-OSS with its own YaRN (truncate: false) is what llama.cpp cannot express', async (t) => {
    if (!llama) return t.skip(unavailable);
    const file = join(tmp, 'gpt-oss.gguf');
    const ids = prompt('gpt-oss');
    const { maxDiff } = compare(owlLogProbs(file, ids), await llamaLogProbs(file, ids, 1024));
    assert.ok(maxDiff > 0.1, `the rounding of the YaRN ramp matters on this fixture (${maxDiff})`);
  });

  test('qwen3moe (every layer MoE: the fixture without its dense layer 0)', async (t) => {
    if (!llama) return t.skip(unavailable);
    // llama.cpp's qwen3moe needs a router in every layer, so drop layer 0 and renumber the rest.
    const full = join(tmp, 'qwen3-moe.gguf');
    convertToGguf(join(FIXTURES, 'models', 'qwen3-moe'), full, { type: 'f32' });
    const g = GgufFile.open(full);
    const kvs = [...g.header.kv.values()].map((e) => (e.key === 'qwen3moe.block_count' ? { key: e.key, type: GgufType.UINT32, value: 2 } : e));
    const tensors = g.header.tensors
      .filter((x) => !x.name.startsWith('blk.0.'))
      .map((x) => ({
        name: x.name.replace(/^blk\.(\d+)\./, (_, i) => `blk.${Number(i) - 1}.`),
        ne: x.ne,
        type: x.type,
        produce: () => readAt(full, x.byteOffset, x.byteLength),
      }));
    const file = join(tmp, 'qwen3-moe-2.gguf');
    writeGgufFile(file, kvs, tensors);
    g.close();
    const ids = prompt('qwen3-moe');
    const owl = owlLogProbs(file, ids);
    const { maxDiff, sameTop } = compare(owl, await llamaLogProbs(file, ids, owl[0]!.length));
    console.log(`# qwen3moe: max |Δ log p| ${maxDiff.toExponential(2)}, same argmax ${sameTop}/${ids.length}`);
    assert.equal(sameTop, ids.length);
    assert.ok(maxDiff < 1e-4, `max |Δ log p| ${maxDiff}`);
  });
});

describe('llama.cpp agrees with Owl on quantised files within the quantisation error (dense Qwen3)', () => {
  // llama.cpp's CPU kernels also round the activations to the weight type's dot-product type (Q8_0,
  // Q8_K, BF16), so the bound is the effect of quantising weights alone (Owl f32 vs Owl on the same file), doubled.
  // Q4_K needs rows of 256, wider than the fixtures: a random Qwen3 of width 256 (owl init) for it.
  const wide = join(tmp, 'qwen3-256');
  before(async () => {
    const config = JSON.parse(readFileSync(join(FIXTURES, 'models', 'qwen3-dense', 'config.json'), 'utf8'));
    Object.assign(config, { hidden_size: 256, head_dim: 64, intermediate_size: 512, num_hidden_layers: 2, layer_types: config.layer_types?.slice(0, 2) });
    mkdirSync(wide);
    writeFileSync(join(tmp, 'qwen3-256.json'), JSON.stringify(config));
    assert.equal(await init.run(['--config', join(tmp, 'qwen3-256.json'), '--out', wide, '--dtype', 'f32', '--seed', '5']), 0);
  });
  for (const type of ['q8_0', 'bf16', 'q4_0', 'q4_k'] as const)
    test(type, async (t) => {
      if (!llama) return t.skip(unavailable);
      const dir = type === 'q4_k' ? wide : join(FIXTURES, 'models', 'qwen3-dense');
      const ids = prompt('qwen3-dense');
      const f32 = join(tmp, `${type}-base.gguf`);
      convertToGguf(dir, f32, { type: 'f32' });
      const file = join(tmp, `qwen3-dense-${type}.gguf`);
      convertToGguf(dir, file, { type });
      const owl = owlLogProbs(file, ids);
      const weightsOnly = compare(owlLogProbs(f32, ids), owl).maxDiff;
      const { maxDiff, sameTop } = compare(owl, await llamaLogProbs(file, ids, owl[0]!.length));
      console.log(`# ${type}: llama.cpp vs Owl max |Δ log p| ${maxDiff.toExponential(2)}, weights alone ${weightsOnly.toExponential(2)}, same argmax ${sameTop}/${ids.length}`);
      assert.ok(weightsOnly > 0, 'quantisation changed the weights');
      assert.ok(maxDiff <= 2 * weightsOnly, `llama.cpp vs Owl ${maxDiff}, weight quantisation alone ${weightsOnly}`);
      assert.ok(sameTop >= ids.length - 2, `same argmax at ${sameTop}/${ids.length} positions`);
    });
});

function readAt(path: string, offset: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const out = new Uint8Array(length);
    readSync(fd, out, 0, length, offset);
    return out;
  } finally {
    closeSync(fd);
  }
}
