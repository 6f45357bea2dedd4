import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PRESETS, parseConfig, ConfigError, presetSpec, findPreset } from '../src/config/index.js';
import { readConfigFile } from '../src/node/config-file.js';
import { FIXTURES } from './helpers.js';

test('every preset parses', () => {
  assert.equal(PRESETS.length, 14);
  for (const p of PRESETS) {
    const s = presetSpec(p);
    assert.equal(s.layers.length, s.numLayers, p.name);
  }
});

test('every fixture model config parses (transformers 5 style)', () => {
  const dir = join(FIXTURES, 'models');
  for (const m of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
    const s = readConfigFile(join(dir, m.name));
    assert.equal(s.name, m.name);
  }
});

test('published and transformers-5 styles give the same RoPE and MoE description', () => {
  const s = presetSpec(findPreset('gpt-oss-20b')!);
  assert.equal(s.rope.theta, 150000);
  assert.deepEqual(s.rope.scaling, {
    kind: 'yarn', factor: 32, originalMaxPositions: 4096, betaFast: 32, betaSlow: 1,
    mscale: null, mscaleAllDim: null, truncate: false, attentionFactor: null,
  });
  assert.equal(s.moe?.numExperts, 32);
  assert.equal(s.layers[0]!.attention, 'sliding');
  assert.equal(s.layers[1]!.attention, 'full');
  assert.equal(s.slidingWindow, 128);
  const q = readConfigFile(join(FIXTURES, 'models/qwen3-moe'));
  assert.equal(q.moe?.numExperts, 8);
  assert.deepEqual(q.layers.map((l) => l.mlp), ['dense', 'moe', 'moe']);
  const d = readConfigFile(join(FIXTURES, 'models/deepseek-v3-fp8'));
  assert.deepEqual(d.quant, { kind: 'fp8', blockSize: [16, 16], fmt: 'e4m3' });
  assert.equal(d.rope.layout, 'interleaved');
  assert.equal(d.attention.kind, 'mla');
  const v3 = presetSpec(findPreset('DeepSeek-V3')!);
  assert.equal(v3.mtpLayers, 1);
  assert.equal(v3.layers.filter((l) => l.mlp === 'dense').length, 3);
  assert.equal(v3.rope.scaling.kind === 'yarn' && v3.rope.scaling.factor, 40);
});

function expectError(cfg: Record<string, unknown>, field: RegExp) {
  assert.throws(() => parseConfig(cfg, 'x/config.json'), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.match(e.message, /^x\/config\.json: /);
    assert.match(e.message, field);
    return true;
  });
}

test('bad configs get errors naming the file and field', () => {
  const base = { ...findPreset('Qwen3-0.6B')!.config };
  expectError({ ...base, model_type: 'llama' }, /model_type.*unknown architecture "llama"/);
  expectError({ ...base, model_type: undefined }, /model_type/);
  const { hidden_size: _h, ...noHidden } = base;
  expectError(noHidden, /hidden_size.*missing/);
  expectError({ ...base, num_hidden_layers: 'many' }, /num_hidden_layers.*integer/);
  expectError({ ...base, num_key_value_heads: 5 }, /num_key_value_heads/);
  expectError({ ...base, rope_parameters: { rope_type: 'yarn', rope_theta: 5 } }, /rope_theta|rope_parameters\.factor/);
  expectError({ ...base, rope_scaling: { type: 'dynamic', factor: 2 } }, /unsupported RoPE scaling/);
  expectError({ ...base, layer_types: ['full_attention'] }, /layer_types.*entries/);
  const moe = { ...findPreset('Qwen3-30B-A3B')!.config };
  expectError({ ...moe, num_local_experts: 64 }, /contradictory/);
  expectError({ ...moe, num_experts_per_tok: 500 }, /num_experts_per_tok/);
  const ds = { ...findPreset('DeepSeek-V3')!.config };
  expectError({ ...ds, n_group: 7 }, /n_group/);
  expectError({ ...ds, qk_head_dim: 100 }, /qk_head_dim/);
  expectError({ ...ds, kv_lora_rank: undefined }, /kv_lora_rank/);
  expectError({ ...ds, quantization_config: { quant_method: 'gptq' } }, /quant_method.*gptq/);
  const oss = { ...findPreset('gpt-oss-20b')!.config };
  expectError({ ...oss, sliding_window: null }, /sliding_window/);
  assert.throws(() => parseConfig([1, 2], 'y.json'), /y\.json: config must be a JSON object/);
});
