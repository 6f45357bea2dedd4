import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Backend } from '../src/backend/backend.js';
import { RefBackend } from '../src/backend/ref/ref-backend.js';
import type { MlaAttentionSpec, RopeSpec } from '../src/config/spec.js';
import { parseConfig } from '../src/config/parse.js';
import { MlaAttention, mlaSoftmaxScale, type MlaPath, type MlaWeights } from '../src/models/blocks/mla.js';
import { ropeTable } from '../src/models/blocks/rope.js';
import { checkpointLayout } from '../src/models/checkpoint-layout.js';
import type { CausalLM } from '../src/models/decoder.js';
import { buildDeepSeekV3 } from '../src/models/deepseek-v3.js';
import { planDtype, randomTensor, rng } from '../src/models/random-weights.js';
import { WeightStore } from '../src/models/weight-store.js';
import { readConfigFile } from '../src/node/config-file.js';
import { loadModelDir } from '../src/node/model-dir.js';
import { TensorFiles, writeSafetensorsFile } from '../src/node/tensor-files.js';
import { f32Weight } from '../src/tensor/weight.js';
import { argmax } from '../src/generate/metrics.js';
import { FIXTURES } from './helpers.js';
import { checkAgainstReference, maxAbsDiff, readReference } from './oracle.js';

const NAMES = ['deepseek-v3', 'deepseek-v3-nolora', 'deepseek-v3-fp8'];

/** Build a DeepSeek-V3 folder with a forced MLA path; also returns the tensors the loader left unread. */
function loadDeepSeek(dir: string, mlaPath: MlaPath, backend: Backend = new RefBackend()) {
  const files = TensorFiles.open(dir);
  try {
    const spec = readConfigFile(dir);
    const store = new WeightStore(files, backend, spec.quant, dir);
    return { model: buildDeepSeekV3(spec, store, backend, { mlaPath }), unused: store.unused() };
  } finally {
    files.close();
  }
}

/** Prefill `prompt` then decode `steps` one token at a time (greedy); every step's logits, concatenated. */
function decode(model: CausalLM, prompt: number[], steps: number): { ids: number[]; logits: number[] } {
  const cache = model.newCache();
  let last = model.forward(prompt, cache, { logits: 'last' });
  const ids = [...prompt];
  const logits = [...last];
  for (let s = 0; s < steps; s++) {
    ids.push(argmax(last));
    last = model.forward([ids.at(-1)!], cache, { logits: 'last' });
    logits.push(...last);
  }
  return { ids, logits };
}

// ---- One MLA block with random weights and dimensions unlike any fixture's ----

function randomMla(qLoraRank: number | null, seed: number) {
  const spec: MlaAttentionSpec = {
    kind: 'mla', numHeads: 3, qLoraRank, kvLoraRank: 6, qkNopeHeadDim: 5, qkRopeHeadDim: 4, vHeadDim: 7, latentNormEps: 1e-6,
  };
  const hidden = 11;
  const next = rng(seed);
  const mat = (rows: number, cols: number) => f32Weight(Float32Array.from({ length: rows * cols }, () => next() * 2 - 1), rows, cols);
  const gain = (n: number) => Float32Array.from({ length: n }, () => 0.5 + next());
  const dq = spec.numHeads * (spec.qkNopeHeadDim + spec.qkRopeHeadDim);
  const w: MlaWeights = {
    ...(qLoraRank === null ? { q: mat(dq, hidden) } : { qA: mat(qLoraRank, hidden), qANorm: gain(qLoraRank), qB: mat(dq, qLoraRank) }),
    kvA: mat(spec.kvLoraRank + spec.qkRopeHeadDim, hidden),
    kvANorm: gain(spec.kvLoraRank),
    kvB: mat(spec.numHeads * (spec.qkNopeHeadDim + spec.vHeadDim), spec.kvLoraRank),
    o: mat(hidden, spec.numHeads * spec.vHeadDim),
  };
  const rope: RopeSpec = {
    theta: 10000, dim: 4, layout: 'interleaved',
    scaling: { kind: 'yarn', factor: 4, originalMaxPositions: 8, betaFast: 32, betaSlow: 1, mscale: 1, mscaleAllDim: 1, truncate: true, attentionFactor: null },
  };
  const x = Float32Array.from({ length: 12 * hidden }, () => next() * 2 - 1);
  return { spec, w, rope, hidden, x };
}

for (const qLoraRank of [null, 9]) {
  test(`MLA block (q_lora_rank ${qLoraRank}): naive and absorbed paths agree over prefill, chunks and single steps`, () => {
    const { spec, w, rope, hidden, x } = randomMla(qLoraRank, 7);
    const b = new RefBackend();
    const block = (path: MlaPath) =>
      new MlaAttention(b, w, { spec, rope: ropeTable(rope), scale: mlaSoftmaxScale(spec, rope), path });
    const blocks = { naive: block('naive'), absorbed: block('absorbed'), auto: block('auto') };
    const caches = { naive: blocks.naive.newCache(), absorbed: blocks.absorbed.newCache(), auto: blocks.auto.newCache() };
    const chunks = [5, 1, 1, 3, 1, 1]; // a prefill, two decode steps, a chunk, two more steps
    let start = 0;
    for (const n of chunks) {
      const positions = Int32Array.from({ length: n }, (_, i) => start + i);
      const xs = x.subarray(start * hidden, (start + n) * hidden);
      const outs = Object.fromEntries(
        (['naive', 'absorbed', 'auto'] as const).map((p) => {
          const out = new Float32Array(n * hidden);
          blocks[p].forward(xs, out, n, positions, caches[p]);
          return [p, out];
        }),
      ) as Record<'naive' | 'absorbed' | 'auto', Float32Array>;
      const d = maxAbsDiff(outs.naive, outs.absorbed);
      assert.ok(d <= 1e-5 * Math.max(1, ...outs.naive.map(Math.abs)), `chunk at ${start}: naive vs absorbed ${d}`);
      assert.equal(maxAbsDiff(outs.auto, outs[blocks.auto.lastPath!]), 0);
      // 'auto' expands the latents for a prefill and absorbs for a single step over a longer cache.
      if (start === 0) assert.equal(blocks.auto.lastPath, 'naive');
      if (n === 1 && start >= 5) assert.equal(blocks.auto.lastPath, 'absorbed');
      start += n;
    }
    // Each path caches only the latent and the shared RoPE key.
    for (const c of Object.values(caches)) {
      assert.equal(c.length, start);
      assert.equal(c.bytesPerToken(), (spec.kvLoraRank + spec.qkRopeHeadDim) * 4);
    }
  });
}

// ---- The fixtures ----

for (const name of NAMES) {
  const dir = join(FIXTURES, 'models', name);

  test(`${name} matches the Hugging Face reference with the absorbed MLA path everywhere`, () => {
    const { model, unused } = loadDeepSeek(dir, 'absorbed');
    assert.deepEqual(unused, [], 'every checkpoint tensor is read');
    const measured = checkAgainstReference(model, readReference(name), 1e-3);
    console.log(`# ${name} absorbed: ${JSON.stringify(measured)}`);
  });

  test(`${name}: naive and absorbed paths agree; the cache holds kv_lora_rank + rope values per token per layer`, () => {
    const ref = readReference(name);
    const naive = loadDeepSeek(dir, 'naive').model;
    const absorbed = loadDeepSeek(dir, 'absorbed').model;
    const full = maxAbsDiff(naive.forward(ref.ids[2]!, naive.newCache()), absorbed.forward(ref.ids[2]!, absorbed.newCache()));
    const a = decode(naive, ref.ids[1]!, 8);
    const b = decode(absorbed, ref.ids[1]!, 8);
    assert.deepEqual(a.ids, b.ids);
    const steps = maxAbsDiff(a.logits, b.logits);
    console.log(`# ${name} naive vs absorbed: full forward ${full}, cached steps ${steps}`);
    assert.ok(full <= 1e-4 && steps <= 1e-4, `naive vs absorbed: ${full}, ${steps}`);

    const spec = absorbed.spec;
    const mla = spec.attention as MlaAttentionSpec;
    const perToken = spec.numLayers * (mla.kvLoraRank + mla.qkRopeHeadDim) * 4;
    const cache = absorbed.newCache();
    absorbed.forward(ref.ids[1]!, cache);
    absorbed.forward([5], cache);
    assert.equal(cache.length, ref.ids[1]!.length + 1);
    assert.equal(cache.bytesPerToken(), perToken);
    // Allocated storage is whole tokens of that size, with growth headroom below 2x.
    const capacity = cache.allocatedBytes() / perToken;
    assert.ok(Number.isInteger(capacity) && capacity >= cache.length && capacity < 2 * cache.length, `capacity ${capacity}`);
    const perHead = spec.numLayers * mla.numHeads * (mla.qkNopeHeadDim + mla.qkRopeHeadDim + mla.vHeadDim) * 4;
    console.log(`# ${name} cache: ${perToken} B/token (per-head K/V would be ${perHead})`);
  });
}

// ---- Kimi-K2 and Moonlight-style configs (n_group 1), with an MTP layer to skip ----

const SYNTHETIC: Array<[string, Record<string, unknown>]> = [
  [
    'Kimi-K2 style (kimi_k2, q LoRA, n_group 1, YaRN in rope_scaling)',
    {
      model_type: 'kimi_k2', q_lora_rank: 20, n_group: 1, topk_group: 1, n_shared_experts: 1, routed_scaling_factor: 2.827,
      rope_theta: 50000, rope_scaling: { type: 'yarn', factor: 8, original_max_position_embeddings: 16, beta_fast: 1, beta_slow: 1, mscale: 1, mscale_all_dim: 1 },
    },
  ],
  [
    'Moonlight style (deepseek_v3, q_lora_rank null, n_group 1, 2 shared experts, plain RoPE)',
    { model_type: 'deepseek_v3', q_lora_rank: null, n_group: 1, topk_group: 1, n_shared_experts: 2, routed_scaling_factor: 2.446, rope_theta: 50000 },
  ],
];

for (const [title, extra] of SYNTHETIC) {
  test(`${title} builds, skips its MTP layer, and decodes consistently`, () => {
    const raw = {
      architectures: ['DeepseekV3ForCausalLM'], vocab_size: 96, hidden_size: 40, intermediate_size: 56, moe_intermediate_size: 12,
      num_hidden_layers: 2, first_k_dense_replace: 1, moe_layer_freq: 1, num_attention_heads: 3, num_key_value_heads: 3,
      kv_lora_rank: 14, qk_nope_head_dim: 10, qk_rope_head_dim: 6, v_head_dim: 9, n_routed_experts: 10, num_experts_per_tok: 3,
      norm_topk_prob: true, scoring_func: 'sigmoid', topk_method: 'noaux_tc', num_nextn_predict_layers: 1, rms_norm_eps: 1e-6,
      max_position_embeddings: 256, tie_word_embeddings: false, torch_dtype: 'bfloat16', hidden_act: 'silu', ...extra,
    };
    const dir = mkdtempSync(join(tmpdir(), 'owl-mla-'));
    try {
      writeFileSync(join(dir, 'config.json'), JSON.stringify(raw));
      const spec = parseConfig(raw, 'synthetic', 'synthetic');
      const next = rng(3);
      const tensors = checkpointLayout(spec, { mxfp4: false }).map((p) => {
        const dtype = planDtype(p, 'bf16');
        const data = randomTensor(p, 'bf16', 0.15, next);
        // Random router biases, so the bias matters to the choice.
        if (p.role === 'score_bias') new Float32Array(data.buffer).forEach((_, i, a) => (a[i] = next() * 0.2 - 0.1));
        return { name: p.name, dtype, shape: p.shape, data };
      });
      // The multi-token-prediction layer after the main ones (model.layers.61.* in DeepSeek-V3).
      const mtp = (name: string, shape: number[]) => ({ name: `model.layers.2.${name}`, dtype: 'BF16' as const, shape, data: new Uint8Array(shape.reduce((a, b) => a * b) * 2) });
      tensors.push(mtp('eh_proj.weight', [40, 80]), mtp('enorm.weight', [40]), mtp('shared_head.head.weight', [96, 40]), mtp('self_attn.kv_b_proj.weight', [57, 14]));
      writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);

      const loaded = loadModelDir(dir);
      assert.deepEqual(loaded.unusedTensors, [], 'MTP tensors are skipped on purpose, nothing else is left over');
      const model = loaded.model;
      const prompt = Array.from({ length: 12 }, (_, i) => (i * 37 + 5) % 96);
      const full = model.forward(prompt, model.newCache());
      assert.ok(full.every(Number.isFinite));
      const spread = Math.max(...full) - Math.min(...full);
      assert.ok(spread > 0.1, `logits are not trivially flat (spread ${spread})`);
      // Cached decoding reproduces the full forward; the forced paths agree.
      const { ids, logits } = decode(model, prompt.slice(0, 6), 6);
      const again = model.forward(ids, model.newCache());
      assert.ok(maxAbsDiff(logits, again.subarray(5 * 96)) <= 1e-4);
      const naive = loadDeepSeek(dir, 'naive').model.forward(prompt, model.newCache());
      const absorbed = loadDeepSeek(dir, 'absorbed').model.forward(prompt, model.newCache());
      assert.ok(maxAbsDiff(naive, absorbed) <= 1e-4 && maxAbsDiff(naive, full) <= 1e-4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
