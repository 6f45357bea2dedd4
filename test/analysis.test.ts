import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRESETS, findPreset, presetSpec, parseConfig, type ModelSpec } from '../src/config/index.js';
import { readConfigFile } from '../src/node/config-file.js';
import {
  analyzeModel,
  attentionFlops,
  checkClaims,
  checkpointReport,
  claimsEntryFor,
  countParams,
  forwardFlopsPerToken,
  judge,
  kvCacheBytes,
  kvCacheBytesPerToken,
  kvCacheReport,
  longContext,
  modelTensors,
  moeShape,
  trainingFlopsPerToken,
  elements,
} from '../src/analysis/index.js';
import { FIXTURES } from './helpers.js';

const spec = (name: string): ModelSpec => presetSpec(findPreset(name)!);
const b3 = (n: number) => (n / 1e9).toFixed(3);

/**
 * src/config/presets/CLAIMS.md, "Computed vs claimed": the oracle's counts (oracle/count_params.py,
 * equal to transformers' own modules), in billions at the printed precision.
 */
type Oracle = Partial<Record<'total' | 'active' | 'active_no_embedding' | 'active_non_embedding' | 'non_embedding' | 'mtp' | 'mtp_active' | 'stored', string>>;
const ORACLE: Record<string, Oracle> = {
  'gpt-oss-120b': { total: '116.829', active: '5.712', active_no_embedding: '5.133', active_non_embedding: '4.554' },
  'gpt-oss-20b': { total: '20.915', active: '4.187', active_no_embedding: '3.608', active_non_embedding: '3.029' },
  'Qwen3-0.6B': { total: '0.596', non_embedding: '0.440' },
  'Qwen3-1.7B': { total: '1.721', non_embedding: '1.409' },
  'Qwen3-4B': { total: '4.022', non_embedding: '3.634' },
  'Qwen3-8B': { total: '8.191', non_embedding: '6.946' },
  'Qwen3-14B': { total: '14.768', non_embedding: '13.212' },
  'Qwen3-32B': { total: '32.762', non_embedding: '31.206' },
  'Qwen3-30B-A3B': { total: '30.532', non_embedding: '29.910', active: '3.353', active_no_embedding: '3.042', active_non_embedding: '2.731' },
  'Qwen3-235B-A22B': { total: '235.094', non_embedding: '233.849', active: '22.191', active_no_embedding: '21.568', active_non_embedding: '20.946' },
  'DeepSeek-V3': { total: '671.026', active: '37.552', active_no_embedding: '36.626', active_non_embedding: '35.699', mtp: '11.610', mtp_active: '0.688', stored: '684.490' },
  'DeepSeek-V3.1': { total: '671.026', active: '37.552', active_no_embedding: '36.626', active_non_embedding: '35.699' },
  'Kimi-K2-Instruct': { total: '1026.408', active: '32.862', active_no_embedding: '31.687', active_non_embedding: '30.513' },
  'Moonlight-16B-A3B-Instruct': { total: '15.960', non_embedding: '15.289', active: '2.915', active_no_embedding: '2.579', active_non_embedding: '2.244' },
};

test('parameter counts equal the oracle values in CLAIMS.md for every preset', () => {
  assert.deepEqual(PRESETS.map((p) => p.name).sort(), Object.keys(ORACLE).sort());
  for (const [name, want] of Object.entries(ORACLE)) {
    const p = countParams(spec(name));
    for (const [k, v] of Object.entries(want)) assert.equal(b3(p[k as keyof Oracle]), v, `${name} ${k}`);
    if (!spec(name).moe) assert.equal(p.active, p.total, `${name}: dense, every weight active`);
    for (const k of ['total', 'active', 'non_embedding', 'mtp'] as const) assert.ok(Number.isSafeInteger(p[k]));
  }
  // MTP: 0.688B active + the shared 1.853B embedding and head = 2.541B (CLAIMS.md).
  const d = countParams(spec('DeepSeek-V3'));
  assert.equal(b3(d.breakdown.embedding + d.breakdown.lm_head), '1.853');
  assert.equal(b3(d.mtp_active + d.breakdown.embedding + d.breakdown.lm_head), '2.541');
  assert.equal(countParams(spec('Qwen3-8B')).mtp, 0);
});

test('total and active within 0.5% of each model card figure stated to 3+ significant digits, same convention', () => {
  // Significant digits as written: "116.83" 5, "0.44" 2, "1000" (the card's "1T") 1.
  const sig = (x: number) => {
    const t = String(x);
    return (t.includes('.') ? t.replace('.', '') : t.replace(/0+$/, '')).replace(/^0+/, '').length;
  };
  let checked = 0;
  for (const p of PRESETS) {
    const s = presetSpec(p);
    const checks = checkClaims(s, analyzeModel(s), claimsEntryFor(s.source));
    for (const c of checks.filter((c) => /parameters$|^active non-embedding$/.test(c.topic))) {
      if (sig(c.claimed_value!) < 3) continue;
      assert.ok(Math.abs(c.diff_pct!) <= 0.5, `${p.name} ${c.topic}: ${c.claimed} vs ${c.computed}`);
      checked++;
    }
  }
  assert.equal(checked, 17, "precise total/active/non-embedding claims in claims.json");
});

test('claims view: verdicts and the flagged disagreements', () => {
  const checks = (name: string) => {
    const s = spec(name);
    return checkClaims(s, analyzeModel(s), claimsEntryFor(s.source));
  };
  const find = (name: string, topic: string) => checks(name).find((c) => c.topic === topic)!;
  // gpt-oss counts the head but not the embedding as active.
  assert.equal(find('gpt-oss-120b', 'active parameters').computed_value!.toFixed(3), '5.133');
  // Qwen3-30B-A3B: 3.3B fits only as a truncation of 3.353B; the share is about 1 in 9, not 1 in 5.
  assert.equal(find('Qwen3-30B-A3B', 'active parameters').verdict, 'truncated');
  const a = analyzeModel(spec('Qwen3-30B-A3B'));
  const share = a.params.total / a.params.active;
  assert.ok(share > 8.5 && share < 9.5, `1 in ${share}`);
  assert.match(find('Qwen3-30B-A3B', 'share of weights active per token').computed, /^1 in 9\.1 /);
  // "1T" is a round figure: +2.6%.
  const kimi = find('Kimi-K2-Instruct', 'total parameters');
  assert.equal(kimi.verdict, 'disagrees');
  assert.equal(kimi.diff_pct!.toFixed(1), '2.6');
  // 671B excludes the MTP module; 685B on the Hub includes it.
  assert.equal(find('DeepSeek-V3', 'total parameters').verdict, 'agrees');
  assert.equal(find('DeepSeek-V3', 'stored on the Hub').verdict, 'agrees');
  assert.equal(find('DeepSeek-V3', 'KV cache per token (bf16)').diff_pct, 0);
  assert.equal(find('DeepSeek-V3', 'training GFLOPs/token at 4096').verdict, 'agrees');
  assert.equal(find('DeepSeek-V3', 'active (README_WEIGHTS)').verdict, 'disagrees');
  assert.match(find('DeepSeek-V3', 'MLA cache vs MHA with the same heads').computed, /^71\.1x smaller \(98\.6% less\)/);
  assert.equal(find('gpt-oss-20b', 'checkpoint size').verdict, 'agrees');
  assert.equal(find('Moonlight-16B-A3B-Instruct', 'active non-embedding').verdict, 'agrees');
  // A config file (not a preset) has no claims but still gets the computed rows.
  assert.equal(claimsEntryFor(join(FIXTURES, 'models/qwen3-moe/config.json')), null);
});

test('judge: within 0.5%, rounded, truncated, disagrees', () => {
  assert.equal(judge(116.83, 116.829).verdict, 'agrees');
  assert.equal(judge(0.6, 0.596).verdict, 'rounded');
  assert.equal(judge(3.3, 3.353).verdict, 'truncated');
  assert.equal(judge(1000, 1026.4).verdict, 'disagrees');
  assert.equal(judge(11.5, 11.61).verdict, 'disagrees');
});

test('KV cache: DeepSeek-V3 MLA is exactly 70,272 bytes per token in bf16, against MHA with the same heads', () => {
  const s = spec('DeepSeek-V3');
  assert.equal(kvCacheBytesPerToken(s, 'bf16'), 70272); // 61 x (512 + 64) x 2, ISCA'25 Table 1
  assert.equal(kvCacheBytesPerToken(s, 'f32'), 140544);
  assert.equal(kvCacheBytesPerToken(s, 'fp8'), 35136);
  const r = kvCacheReport(s, 'bf16', [4096]);
  assert.equal(r.bytes_at['4096'], 70272 * 4096);
  assert.equal(r.mha_bytes_per_token, 61 * 128 * (128 + 64 + 128) * 2);
  assert.equal(r.reduction_vs_mha!.toFixed(2), '71.11');
  assert.equal(r.gqa_equivalent_groups, 2.25); // DeepSeek-V2: "equal to GQA with only 2.25 groups"
  // GQA: 2 x kv heads x head dim per layer; Qwen3-235B-A22B: 94 layers, 4 KV heads of 128.
  assert.equal(kvCacheBytesPerToken(spec('Qwen3-235B-A22B')), 94 * 2 * 4 * 128 * 2);
});

test('KV cache: sliding-window layers are capped at their window', () => {
  const s = spec('gpt-oss-120b'); // 18 full + 18 sliding (128) layers, 8 KV heads of 64
  const perLayer = 2 * 8 * 64 * 2;
  assert.equal(kvCacheBytesPerToken(s), 18 * perLayer);
  assert.equal(kvCacheBytes(s, 131072), (18 * 131072 + 18 * 128) * perLayer);
  assert.equal(kvCacheBytes(s, 100), 36 * 100 * perLayer);
  const g = readConfigFile(join(FIXTURES, 'models/gpt-oss')); // window 8, 2 of 4 layers sliding
  const r = kvCacheReport(g, 'bf16', []);
  for (let n = 1; n <= 20; n++) {
    const grow = kvCacheBytes(g, n) - kvCacheBytes(g, n - 1);
    assert.equal(grow, n <= 8 ? r.bytes_per_token_within_window : r.bytes_per_token, `token ${n}`);
  }
  assert.equal(r.bytes_per_token, 2 * (2 * 2 * 32) * 2);
});

test('FLOPs: DeepSeek-V3 training compute at 4096 reproduces the 250.5 GFLOPs of CLAIMS.md', () => {
  const s = spec('DeepSeek-V3');
  assert.equal((trainingFlopsPerToken(s, 4096) / 1e9).toFixed(1), '250.5');
  const f = forwardFlopsPerToken(s, 4096);
  assert.equal(f.attention, 2 * 128 * (192 + 128) * 4096 * 61);
  assert.equal(f.per_token, f.matmul + f.attention);
  // Sliding layers stop adding attention work past the window: only the 18 full layers grow.
  const g = spec('gpt-oss-120b');
  assert.equal(attentionFlops(g, 20000) - attentionFlops(g, 10000), 2 * 64 * 128 * 18 * 10000);
  // A tied head is still a matmul: Qwen3-0.6B multiplies by its 151936 x 1024 embedding at the end.
  const q = spec('Qwen3-0.6B');
  const p = countParams(q);
  assert.equal(forwardFlopsPerToken(q, 1).matmul, 2 * (p.non_embedding + 151936 * 1024));
});

test('checkpoint bytes: gpt-oss MXFP4 exactly as published, DeepSeek FP8 dtype totals as the safetensors headers', () => {
  assert.equal(checkpointReport(spec('gpt-oss-20b')).checkpoint_bytes, 13_761_264_768);
  assert.equal(checkpointReport(spec('gpt-oss-120b')).checkpoint_bytes, 65_248_815_744);
  const v31 = checkpointReport(spec('DeepSeek-V3.1'));
  assert.deepEqual(v31.elements_by_dtype, { BF16: 3_918_786_560, F8_E4M3: 680_571_043_840, F32: 41_555_600 });
  assert.equal(v31.includes_mtp, true);
  const kimi = checkpointReport(spec('Kimi-K2-Instruct')).elements_by_dtype;
  assert.equal(Object.values(kimi).reduce((a, b) => a + b, 0), 1_026_470_727_640);
  assert.deepEqual(checkpointReport(spec('Qwen3-8B')).elements_by_dtype, { BF16: countParams(spec('Qwen3-8B')).total });
});

/** safetensors header: name -> { dtype, shape } and the size of the data area. */
function readHeader(file: string): { tensors: Record<string, { dtype: string; shape: number[] }>; dataBytes: number } {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const h = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[] }>;
  delete h['__metadata__'];
  return { tensors: h, dataBytes: buf.length - 8 - n };
}

/** modelTensors() expanded to stored tensors: `{e}` one per expert, stacked experts with a leading dim. */
function expand(s: ModelSpec): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const t of modelTensors(s)) {
    if (t.name.includes('{e}')) for (let e = 0; e < t.copies; e++) out[t.name.replace('{e}', String(e))] = t.shape;
    else out[t.name] = t.copies > 1 ? [t.copies, ...t.shape] : t.shape;
  }
  return out;
}

const fixtureModels = () =>
  readdirSync(join(FIXTURES, 'models'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(FIXTURES, 'models', d.name));

test('the tensor list equals the fixture checkpoints written by transformers (names and shapes)', () => {
  let checked = 0;
  for (const dir of fixtureModels()) {
    const s = readConfigFile(dir);
    if (s.quant.kind !== 'none') continue;
    const { tensors } = readHeader(join(dir, 'model.safetensors'));
    const want = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, v.shape]));
    assert.deepEqual(expand(s), want, s.name);
    const total = Object.values(want).reduce((a, sh) => a + sh.reduce((x, y) => x * y, 1), 0);
    assert.equal(countParams(s).total, total, s.name);
    checked++;
  }
  assert.ok(checked >= 6);
});

test('checkpoint bytes and dtype totals equal every fixture checkpoint (f32, bf16, FP8 with ragged blocks, MXFP4)', () => {
  for (const dir of fixtureModels()) {
    const s = readConfigFile(dir);
    const { tensors, dataBytes } = readHeader(join(dir, 'model.safetensors'));
    const byDtype: Record<string, number> = {};
    for (const t of Object.values(tensors)) byDtype[t.dtype] = (byDtype[t.dtype] ?? 0) + t.shape.reduce((a, b) => a * b, 1);
    const r = checkpointReport(s);
    assert.deepEqual(r.elements_by_dtype, byDtype, s.name);
    assert.equal(r.checkpoint_bytes, dataBytes, s.name);
  }
});

test('MTP module: one MoE decoder layer + enorm, hnorm, eh_proj and head norm (from a fixture layer)', () => {
  const dir = join(FIXTURES, 'models/deepseek-v3');
  const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const s = parseConfig({ ...raw, num_nextn_predict_layers: 1 }, 'mtp.json', 'mtp');
  const { tensors } = readHeader(join(dir, 'model.safetensors'));
  const moeLayer = Object.entries(tensors)
    .filter(([k]) => k.startsWith('model.layers.1.'))
    .reduce((a, [, t]) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const h = 64;
  const p = countParams(s);
  assert.equal(p.mtp, moeLayer + 3 * h + h * 2 * h);
  assert.equal(p.total, countParams(readConfigFile(dir)).total, 'MTP is not part of the main model');
  assert.equal(p.stored, p.total + p.mtp + 2 * 1024 * h, 'checkpoint stores its own embedding and head copies');
  const names = modelTensors(s).filter((t) => t.owner !== 'main').map((t) => t.name);
  assert.ok(names.includes('model.layers.3.eh_proj.weight') && names.includes('model.layers.3.shared_head.head.weight'));
  assert.ok(elements(modelTensors(s).find((t) => t.name === 'model.layers.3.eh_proj.weight')!) === h * 2 * h);
});

test('long context: native, YaRN factor x original, where it is applied', () => {
  const g = longContext(spec('gpt-oss-20b'));
  assert.deepEqual([g.native, g.yarn, g.reachable], [4096, { factor: 32, original: 4096 }, 131072]);
  assert.match(g.applied_to, /all 24 layers/);
  assert.ok(g.notes.some((n) => /12 sliding layers see only 128 tokens/.test(n)));
  const d = longContext(spec('DeepSeek-V3'));
  assert.equal(d.reachable, 40 * 4096);
  assert.match(d.applied_to, /decoupled RoPE dims only \(64 of 192\)/);
  const q = longContext(spec('Qwen3-8B'));
  assert.deepEqual([q.native, q.yarn, q.reachable, q.applied_to], [40960, null, 40960, 'none in config.json']);
});

test('MoE shape', () => {
  assert.deepEqual(
    { ...moeShape(spec('DeepSeek-V3'))!, routing: undefined },
    { experts: 256, active: 8, shared: 1, expert_intermediate: 2048, shared_intermediate: 2048, moe_layers: 58, dense_layers: 3, router: 'sigmoid_grouped', routing: undefined },
  );
  assert.equal(moeShape(spec('Qwen3-8B')), null);
  assert.equal(moeShape(spec('gpt-oss-20b'))!.routing, 'top-4, softmax of the 4');
});

test('analyzeModel rejects bad context lengths', () => {
  assert.throws(() => analyzeModel(spec('Qwen3-0.6B'), { contexts: [0] }), /positive integer/);
});
