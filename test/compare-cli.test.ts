import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, OWL_BIN, ROOT } from './helpers.js';

function owl(...args: string[]) {
  const r = spawnSync(process.execPath, [OWL_BIN, 'compare', ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = mkdtempSync(join(tmpdir(), 'owl-compare-'));

test('no argument: the flagship of each family as a terminal table with the counting notes', () => {
  const r = owl();
  assert.equal(r.code, 0, r.stderr);
  for (const name of ['gpt-oss-120b', 'Qwen3-235B-A22B', 'DeepSeek-V3']) assert.match(r.stdout, new RegExp(name));
  assert.match(r.stdout, /total\s+116\.83B\s+235\.09B\s+671\.03B/);
  assert.match(r.stdout, /per token \(long context\)\s+36\.86 KB\s+192\.51 KB\s+70\.27 KB/);
  assert.match(r.stdout, /What the counts include/);
});

test('--format json: presets, a config file and a model folder; the documented fields, exact integers', () => {
  const r = owl('--format', 'json', 'gpt-oss-20b', 'DeepSeek-V3', join(FIXTURES, 'models/qwen3-moe/config.json'), join(FIXTURES, 'models/gpt-oss'));
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Array<Record<string, any>>;
  assert.deepEqual(out.map((m) => m.name), ['gpt-oss-20b', 'DeepSeek-V3', 'qwen3-moe', 'gpt-oss']);
  assert.deepEqual(out.map((m) => m.model_type), ['gpt_oss', 'deepseek_v3', 'qwen3_moe', 'gpt_oss']);
  for (const m of out) {
    for (const k of ['total', 'active', 'active_no_embedding', 'non_embedding', 'mtp'])
      assert.ok(Number.isSafeInteger(m.params[k]), `${m.name} params.${k}`);
    assert.equal(m.kv_cache.dtype, 'bf16');
    assert.ok(Number.isSafeInteger(m.kv_cache.bytes_per_token));
    assert.deepEqual(Object.keys(m.kv_cache.bytes_at), ['4096', '32768', '131072']);
  }
  const [gpt, ds, , tiny] = out;
  assert.equal(gpt!.params.total, 20_914_757_184);
  assert.equal((gpt!.params.active_no_embedding / 1e9).toFixed(3), '3.608');
  assert.equal(gpt!.weights.checkpoint_bytes, 13_761_264_768);
  assert.equal(ds!.kv_cache.bytes_per_token, 70272);
  assert.equal(ds!.kv_cache.bytes_at['131072'], 70272 * 131072);
  assert.equal((ds!.params.mtp / 1e9).toFixed(3), '11.610');
  assert.equal(gpt!.params.mtp, 0);
  // Fixture gpt-oss: window 8, 2 full + 2 sliding layers, 2 KV heads of 32, bf16 cache.
  assert.equal(tiny!.kv_cache.bytes_at['4096'], (2 * 4096 + 2 * 8) * (2 * 2 * 32) * 2);
  assert.equal(ds!.claims, undefined, 'claims only on request');
});

test('--kv-dtype, --contexts and --context change the numbers', () => {
  const r = owl('-f', 'json', '--kv-dtype', 'fp8', '--contexts', '1024,8192', '--context', '32768', 'DeepSeek-V3');
  assert.equal(r.code, 0, r.stderr);
  const [m] = JSON.parse(r.stdout);
  assert.equal(m.kv_cache.dtype, 'fp8');
  assert.equal(m.kv_cache.bytes_per_token, 35136);
  assert.deepEqual(m.kv_cache.bytes_at, { '1024': 35136 * 1024, '8192': 35136 * 8192 });
  assert.equal(m.flops.context, 32768);
  assert.equal(m.flops.attention, 2 * 128 * (192 + 128) * 32768 * 61);
});

test('--claims in json, markdown and the terminal', () => {
  const j = owl('-f', 'json', '--claims', 'Qwen3-30B-A3B');
  assert.equal(j.code, 0, j.stderr);
  const [m] = JSON.parse(j.stdout);
  const active = m.claims.find((c: { topic: string }) => c.topic === 'active parameters');
  assert.equal(active.verdict, 'truncated');
  const md = owl('--format', 'markdown', '--claims', 'DeepSeek-V3', 'Qwen3-8B');
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /^\|  \| \*\*DeepSeek-V3\*\* \| \*\*Qwen3-8B\*\* \|$/m);
  assert.match(md.stdout, /## Claims checked/);
  assert.match(md.stdout, /\| KV cache per token \(bf16\) \| 70,272 B \| 70,272 B \| 0% \| agrees/);
  const t = owl('--claims', 'Kimi-K2-Instruct');
  assert.match(t.stdout, /total parameters\s+1,000B\s+1,026\.408B\s+\+2\.6%\s+DISAGREES/);
});

test('--out writes the file; the format follows the extension; html is self-contained', () => {
  const html = join(tmp, 'report.html');
  const r = owl('--out', html, 'gpt-oss-20b', 'Qwen3-8B');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const page = readFileSync(html, 'utf8');
  assert.match(page, /^<!doctype html>/);
  assert.match(page, /Chart\.js v4\.6\.1/);
  assert.equal((page.match(/<canvas /g) ?? []).length, 3);
  assert.doesNotMatch(page, /<script[^>]+src=|<link[^>]+href=/, 'nothing loaded from outside');
  assert.match(page, /Claims checked/);
  const md = join(tmp, 'out.md');
  assert.equal(owl('-o', md, 'Qwen3-8B').code, 0);
  assert.match(readFileSync(md, 'utf8'), /^# Model comparison/);
});

test('bad input: clear message naming it, exit code 2', () => {
  const unknown = owl('no-such-model');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /no-such-model: not a preset and not a file or folder/);
  const bad = join(tmp, 'broken.json');
  writeFileSync(bad, '{ "model_type": "qwen3", ');
  const malformed = owl(bad);
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /broken\.json: not valid JSON/);
  const incomplete = join(tmp, 'incomplete.json');
  writeFileSync(incomplete, JSON.stringify({ model_type: 'qwen3', vocab_size: 10 }));
  const missing = owl(incomplete);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /incomplete\.json: field "hidden_size": is required but missing/);
  for (const [args, msg] of [
    [['--format', 'pdf'], /--format: unknown format "pdf"/],
    [['--kv-dtype', 'int4'], /--kv-dtype: unknown KV-cache dtype "int4"/],
    [['--context', '0'], /--context: expected a positive integer, got "0"/],
    [['--contexts', '4096,abc'], /--contexts: expected a positive integer, got "abc"/],
    [['--bogus'], /Unknown option '--bogus'/],
  ] as Array<[string[], RegExp]>) {
    const r = owl(...args, 'Qwen3-0.6B');
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, msg);
  }
  assert.equal(existsSync(join(tmp, 'never.json')), false);
});

test('--help explains the options', () => {
  const r = owl('--help');
  assert.equal(r.code, 0);
  for (const opt of ['--format', '--out', '--claims', '--kv-dtype', '--contexts', '--context']) assert.match(r.stdout, new RegExp(opt));
});

test('--measure: the KV bytes per token the engine allocates equal the analysis (f32 cache), per family', () => {
  const models = ['qwen3-moe', 'deepseek-v3-fp8', 'gpt-oss-mxfp4'].map((m) => join(FIXTURES, 'models', m));
  const r = owl('--measure', '--format', 'json', ...models);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Array<Record<string, any>>;
  for (const m of out) {
    assert.equal(m.measured_kv.agrees, true, m.name);
    assert.equal(m.measured_kv.bytes_per_token, m.kv_cache.bytes_per_token * 2, `${m.name}: f32 cache is twice bf16`);
  }
  // MLA caches kv_lora_rank + rope = 40 values per layer: 3 layers x 40 x 4 bytes.
  assert.equal(out[1]!.measured_kv.bytes_per_token, 480);
});
