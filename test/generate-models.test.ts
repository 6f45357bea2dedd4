/** Generation on real models: the tiny fixtures (greedy = the reference) and a real-vocabulary Qwen3 with its real tokenizer. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChatSession } from '../src/generate/session.js';
import { loadSession } from '../src/node/session.js';
import type { ChatMessage } from '../src/chat/types.js';
import { FIXTURES } from './helpers.js';
import { loadFixture, readReference } from './oracle.js';
import { makeTinyQwen } from './generate-mocks.js';

const MODELS = join(FIXTURES, 'models');
const FIXTURE_NAMES = readdirSync(MODELS).filter((n) => existsSync(join(MODELS, n, 'reference.safetensors')));

for (const name of FIXTURE_NAMES) {
  test(`greedy generation on ${name} gives the reference continuation, with and without prefix reuse`, async () => {
    const ref = readReference(name);
    const session = new ChatSession({ model: loadFixture(name) });
    const prompt = ref.ids[1]!;
    const n = ref.greedy.length - prompt.length;
    const a = await session.generate(prompt, { temperature: 0, maxTokens: n, ignoreEos: true }).result();
    assert.deepEqual(a.tokens, ref.greedy.slice(prompt.length));
    // Second call: the prompt extends what is cached, so only the continuation's tokens are prefilled.
    const longer = ref.greedy.slice(0, prompt.length + 10);
    const b = await session.generate(longer, { temperature: 0, maxTokens: n - 10, ignoreEos: true }).result();
    assert.deepEqual(b.tokens, ref.greedy.slice(prompt.length + 10));
    const canRollBack = session.model.spec.slidingWindow === null || prompt.length + n - 1 <= session.model.spec.slidingWindow;
    if (canRollBack) assert.deepEqual([b.usage.reusedTokens, b.usage.prefillTokens], [prompt.length + 9, 1]);
    else assert.deepEqual([b.usage.reusedTokens, b.usage.prefillTokens], [0, longer.length], 'a rolled ring re-prefills');
  });
}

const TINY_QWEN = join(mkdtempSync(join(tmpdir(), 'owl-gen-')), 'tiny-qwen3');
before(() => makeTinyQwen(TINY_QWEN));

test('owl init --tokenizer copies the tokenizer files and the folder loads as a chat session', async () => {
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) assert.ok(existsSync(join(TINY_QWEN, f)), f);
  const session = await loadSession(TINY_QWEN);
  assert.equal(session.spec.vocabSize, 151936);
  assert.equal(session.chatFormat?.kind, 'jinja');
  assert.ok(session.features.thinkingSwitch);
  const r = session.render([{ role: 'user', content: 'Hi' }], { enableThinking: false });
  assert.equal(r.text, '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
  assert.ok(session.eosIds().includes(151645));
});

test('real tokenizer: multi-turn chat reuses the cached prefix; answers equal those without reuse', async () => {
  const run = async (reuse: boolean) => {
    const session = await loadSession(TINY_QWEN);
    const messages: ChatMessage[] = [{ role: 'system', content: 'You are a helpful owl.' }];
    const turns = [];
    for (const q of ['Hello! Who are you?', 'What do owls eat?', 'Thanks. Anything else?']) {
      messages.push({ role: 'user', content: q });
      const s = await session.chat(messages, { temperature: 0, maxTokens: 12, reusePrefix: reuse, enableThinking: false }).result();
      messages.push(session.assistantMessage(s));
      turns.push(s);
    }
    return turns;
  };
  const reused = await run(true);
  const fresh = await run(false);
  assert.deepEqual(
    reused.map((t) => t.tokens),
    fresh.map((t) => t.tokens),
  );
  for (const [i, t] of reused.entries()) {
    assert.equal(t.usage.promptTokens, fresh[i]!.usage.promptTokens);
    assert.equal(fresh[i]!.usage.prefillTokens, fresh[i]!.usage.promptTokens);
    if (i > 0) assert.ok(t.usage.prefillTokens < t.usage.promptTokens / 2, `turn ${i + 1}: ${JSON.stringify(t.usage)}`);
  }
  console.log(
    'prefill tokens per turn (tiny Qwen3, real template): with reuse',
    reused.map((t) => t.usage.prefillTokens),
    'without',
    fresh.map((t) => t.usage.prefillTokens),
    '| decode tok/s',
    reused.map((t) => t.timings.decodeTokensPerSecond.toFixed(1)),
  );
});

test('real tokenizer: seeded sampling is reproducible and stop strings cut the text', async () => {
  const session = await loadSession(TINY_QWEN);
  const opts = { seed: 11, maxTokens: 16, temperature: 1.0, topP: 0.95 };
  const a = await session.complete('Once upon a time', opts).result();
  const b = await session.complete('Once upon a time', opts).result();
  assert.deepEqual(a.tokens, b.tokens);
  assert.equal(a.content, b.content);
  // Stop at a piece of the text the model actually produced (somewhere in the middle).
  const stop = a.content.slice(Math.floor(a.content.length / 2), Math.floor(a.content.length / 2) + 3);
  const c = await session.complete('Once upon a time', { ...opts, stop: [stop] }).result();
  assert.equal(c.content, a.content.slice(0, a.content.indexOf(stop)));
  assert.deepEqual(c.stoppedBy, { string: stop });
});
