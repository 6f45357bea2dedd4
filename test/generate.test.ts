/** The generation loop on a scripted model and a byte tokenizer: no weights needed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatSession } from '../src/generate/session.js';
import { StopStringMatcher } from '../src/generate/stop.js';
import { parseGenerationConfig } from '../src/generate/defaults.js';
import type { GenerationStream, StreamDelta } from '../src/generate/stream.js';
import type { ChatMessage } from '../src/chat/types.js';
import {
  EOS,
  END_THINK,
  IM_END,
  THINK,
  ScriptedModel,
  byteTokenizer,
  continuationModel,
  fakeSpec,
  miniChat,
  oneHot,
  replyModel,
  MINI_TEMPLATE,
} from './generate-mocks.js';

async function collect(stream: GenerationStream) {
  const deltas: StreamDelta[] = [];
  for await (const d of stream) deltas.push(d);
  return { deltas, summary: await stream.summary };
}

const bytes = (s: string) => byteTokenizer.encode(s);

test('stop strings split across tokens are held back, then cut', () => {
  const m = new StopStringMatcher(['STOP', '\n\n']);
  assert.equal(m.push('Hel'), 'Hel');
  assert.equal(m.push('lo S'), 'lo ');
  assert.equal(m.push('T'), '');
  assert.equal(m.push('x'), 'STx');
  assert.equal(m.push(' ST'), ' ');
  assert.equal(m.push('OP now'), '');
  assert.ok(m.stopped);
  assert.equal(m.matched, 'STOP');
  assert.equal(m.push('more'), '');
  const early = new StopStringMatcher(['bc', 'abcd']);
  assert.equal(early.push('xabc'), 'xa');
  assert.equal(early.matched, 'bc');
  const tail = new StopStringMatcher(['END']);
  assert.equal(tail.push('the EN'), 'the ');
  assert.equal(tail.flush(), 'EN');
});

test('streamed text never splits a UTF-8 character', async () => {
  const text = 'héllo 🦉 猫!';
  const session = new ChatSession({ model: continuationModel('>' + text), tokenizer: byteTokenizer });
  const { deltas, summary } = await collect(session.complete('>', { temperature: 0 }));
  assert.equal(summary.content, text);
  assert.equal(deltas.map((d) => d.content).join(''), text);
  for (const d of deltas) assert.ok(!d.content!.includes('\uFFFD'), JSON.stringify(deltas));
  assert.ok(deltas.length < summary.tokens.length - 5, 'bytes of multi-byte characters were held back');
});

test('complete(): stop string split across tokens ends the output before it', async () => {
  const prompt = 'Q: 6*7? A:';
  const session = new ChatSession({ model: continuationModel(prompt + ' The answer is 42.\nEND of answer'), tokenizer: byteTokenizer });
  const { deltas, summary } = await collect(session.complete(prompt, { stop: ['END'], temperature: 0 }));
  assert.equal(summary.content, ' The answer is 42.\n');
  assert.equal(deltas.map((d) => d.content).join(''), summary.content);
  assert.ok(deltas.every((d) => !d.content!.includes('E')), 'no piece of the stop string was streamed');
  assert.equal(summary.finishReason, 'stop');
  assert.deepEqual(summary.stoppedBy, { string: 'END' });
  // The model produced E, N, D before the matcher saw the whole string.
  assert.equal(summary.usage.completionTokens, ' The answer is 42.\nEND'.length);
});

test('EOS stops; ignoreEos and maxTokens give exactly maxTokens; several EOS ids apply', async () => {
  const model = continuationModel('abc', EOS);
  const s1 = await new ChatSession({ model, tokenizer: byteTokenizer }).complete('a', { temperature: 0 }).result();
  assert.deepEqual([s1.content, s1.finishReason, s1.stoppedBy], ['bc', 'stop', { token: EOS }]);
  assert.deepEqual(s1.tokens, [...bytes('bc'), EOS]);
  const s2 = await new ChatSession({ model, tokenizer: byteTokenizer }).complete('a', { temperature: 0, ignoreEos: true, maxTokens: 5 }).result();
  assert.equal(s2.finishReason, 'length');
  assert.equal(s2.usage.completionTokens, 5);
  // An EOS id only generation_config.json names (the model emits 999-like id 261 here).
  const other = continuationModel('ab', 261);
  const g = parseGenerationConfig({ eos_token_id: [EOS, 261] }, 'generation_config.json');
  const s3 = await new ChatSession({ model: other, tokenizer: byteTokenizer, generationConfig: g }).complete('a', { temperature: 0 }).result();
  assert.deepEqual([s3.finishReason, s3.stoppedBy], ['stop', { token: 261 }]);
  const s4 = await new ChatSession({ model: other, tokenizer: byteTokenizer }).complete('a', { temperature: 0, maxTokens: 4 }).result();
  assert.equal(s4.finishReason, 'length', 'without generation_config.json 261 is not an EOS');
});

test('context limit: a prompt that does not fit is a clear error; generation stops when the context is full', async () => {
  const model = continuationModel('x'.repeat(100), EOS, fakeSpec({ maxPositions: 16 }));
  const session = new ChatSession({ model, tokenizer: byteTokenizer });
  await assert.rejects(session.complete('x'.repeat(20)).result(), /prompt has 20 tokens but the model's context is 16/);
  const s = await session.complete('x'.repeat(10), { temperature: 0 }).result();
  assert.equal(s.finishReason, 'length');
  assert.equal(s.usage.promptTokens + s.usage.completionTokens, 16);
  assert.ok(model.tokensRun <= 16 + 10);
});

test('same seed, same output; another seed, another output (sampling end to end)', async () => {
  const spec = fakeSpec();
  const noisy = new ScriptedModel(spec, (h) => {
    // Flat-ish logits that depend on the history, so every step is a real draw.
    const l = new Float32Array(256);
    for (let i = 0; i < 256; i++) l[i] = Math.sin(i * 7.1 + h.length * 1.3 + (h[h.length - 1] ?? 0));
    return l;
  });
  const run = (seed: number) => new ChatSession({ model: noisy, tokenizer: byteTokenizer }).generate([1, 2, 3], { seed, temperature: 1, topK: 50, maxTokens: 30 }).result();
  const [a, b, c] = await Promise.all([run(5), run(5), run(6)]);
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
  assert.equal(a.seed, 5);
  const unseeded = await run(undefined as unknown as number);
  assert.ok(Number.isInteger(unseeded.seed), 'a random seed is reported');
  const again = await run(unseeded.seed);
  assert.deepEqual(again.tokens, unseeded.tokens, 'the reported seed repeats the run');
});

test('cancellation: aborting mid-stream ends it with finishReason "abort" and the session stays usable', async () => {
  const model = continuationModel('a'.repeat(2000), EOS, fakeSpec());
  const session = new ChatSession({ model, tokenizer: byteTokenizer });
  const ac = new AbortController();
  const deltas: string[] = [];
  const stream = session.complete('a', { temperature: 0, signal: ac.signal });
  for await (const d of stream) {
    deltas.push(d.content ?? '');
    if (deltas.length === 3) ac.abort();
  }
  const s = await stream.summary;
  assert.equal(s.finishReason, 'abort');
  assert.equal(deltas.length, 3);
  assert.equal(s.usage.completionTokens, 3);
  // What the cache holds is exactly what was run: the prompt and the tokens fed back.
  assert.deepEqual(session.cachedIds, [...bytes('a'), ...s.tokens.slice(0, -1)]);
  const next = await session.complete('aa', { temperature: 0, maxTokens: 2 }).result();
  assert.equal(next.finishReason, 'length');
});

test('cancellation from a timer reaches a busy model between tokens', async () => {
  const model = continuationModel('a'.repeat(2000), EOS, fakeSpec());
  model.delayMs = 5;
  const session = new ChatSession({ model, tokenizer: byteTokenizer });
  const signal = AbortSignal.timeout(60);
  const s = await session.complete('a', { temperature: 0, signal }).result();
  assert.equal(s.finishReason, 'abort');
  assert.ok(s.usage.completionTokens < 200, `stopped after ${s.usage.completionTokens} tokens`);
  await assert.doesNotReject(session.complete('a', { temperature: 0, maxTokens: 1, signal: AbortSignal.abort() }).result());
});

test('a reader that stops early ends the run (summary "abort") and frees the session; one run at a time', async () => {
  const model = continuationModel('a'.repeat(500), EOS, fakeSpec());
  const session = new ChatSession({ model, tokenizer: byteTokenizer });
  const stream = session.complete('a', { temperature: 0 });
  const it = stream[Symbol.asyncIterator]();
  await it.next();
  await assert.rejects(session.complete('a').result(), /already running/);
  await it.return!(undefined);
  assert.equal((await stream.summary).finishReason, 'abort');
  assert.equal((await session.complete('a', { temperature: 0, maxTokens: 3 }).result()).usage.completionTokens, 3);
});

test('chat: reasoning and content arrive as separate deltas; stop token ends the turn', async () => {
  const reply = [THINK, ...bytes('hmm, 2+2'), END_THINK, ...bytes('\n\nIt is 4.')];
  const session = new ChatSession({ model: replyModel(() => reply, IM_END), tokenizer: byteTokenizer, chatFormat: miniChat, templateSource: MINI_TEMPLATE });
  const { deltas, summary } = await collect(session.chat([{ role: 'user', content: '2+2?' }], { temperature: 0 }));
  assert.equal(summary.reasoning, 'hmm, 2+2');
  assert.equal(summary.content, '\n\nIt is 4.');
  assert.deepEqual([summary.finishReason, summary.stoppedBy], ['stop', { token: IM_END }]);
  assert.ok(deltas.some((d) => d.reasoning) && deltas.some((d) => d.content));
  assert.ok(deltas.every((d) => !(d.reasoning && d.content)));
  const firstContent = deltas.findIndex((d) => d.content);
  assert.ok(deltas.slice(firstContent).every((d) => !d.reasoning), 'reasoning comes first');
});

test('chat: thinking switch and Qwen3 card defaults per mode; user values win', async () => {
  const session = new ChatSession({ model: replyModel(() => [], IM_END), tokenizer: byteTokenizer, chatFormat: miniChat, templateSource: MINI_TEMPLATE });
  const hi = [{ role: 'user', content: 'hi' }];
  assert.equal((await session.chat(hi).result()).sampling.temperature, 0.6);
  assert.equal((await session.chat(hi, { enableThinking: false }).result()).sampling.temperature, 0.7);
  assert.equal((await session.chat(hi, { templateKwargs: { enable_thinking: false } }).result()).sampling.topP, 0.8);
  assert.equal(session.samplingFor({}, true).temperature, 0.6);
  assert.equal(session.samplingFor({}, false).temperature, 0.7);
  assert.equal(session.samplingFor({ temperature: 0.2 }, false).temperature, 0.2);
  assert.match(session.render([{ role: 'user', content: 'hi' }], { enableThinking: false }).text, /<think>\n\n<\/think>/);
  assert.throws(() => session.samplingFor({ topP: 5 }), /topP/);
});

test('prefix reuse: each turn prefills only the new tokens; the output is the same as without reuse', async () => {
  const answers = ['Hello there.', 'Blue.', 'Forty-two, as always.'];
  const reply = (prompt: readonly number[]) => bytes(answers[(byteTokenizer.decode(prompt).match(/<\|im_start\|>user/g) ?? []).length - 1]!);
  const questions = ['Hi!', 'Favourite colour?', 'And the answer?'];
  const run = async (reuse: boolean) => {
    const model = replyModel(reply, IM_END);
    const session = new ChatSession({ model, tokenizer: byteTokenizer, chatFormat: miniChat });
    const messages: ChatMessage[] = [{ role: 'system', content: 'You are terse.' }];
    const turns = [];
    for (const q of questions) {
      messages.push({ role: 'user', content: q });
      const before = model.tokensRun;
      const s = await session.chat(messages, { temperature: 0, reusePrefix: reuse }).result();
      messages.push({ role: 'assistant', content: s.content });
      turns.push({ ...s.usage, content: s.content, run: model.tokensRun - before });
    }
    return turns;
  };
  const reused = await run(true);
  const fresh = await run(false);
  assert.deepEqual(reused.map((t) => t.content), answers);
  assert.deepEqual(fresh.map((t) => t.content), answers);
  for (const [i, t] of reused.entries()) {
    // The model really ran only the prefilled tokens plus one step per generated token but the last.
    assert.equal(t.run, t.prefillTokens + t.completionTokens - 1);
    assert.equal(t.prefillTokens + t.reusedTokens, t.promptTokens);
    assert.equal(fresh[i]!.prefillTokens, fresh[i]!.promptTokens);
  }
  assert.equal(reused[0]!.reusedTokens, 0);
  for (const i of [1, 2]) {
    // Reused: everything up to the end of the previous answer (its <|im_end|> was generated, never fed).
    const prevPrompt = reused[i - 1]!.promptTokens + reused[i - 1]!.completionTokens - 1;
    assert.equal(reused[i]!.reusedTokens, prevPrompt);
    const newText = `<|im_end|>\n<|im_start|>user\n${questions[i]}<|im_end|>\n<|im_start|>assistant\n`;
    assert.equal(reused[i]!.prefillTokens, bytes(newText).length);
  }
  console.log(
    'prefill tokens per turn (mock): with reuse',
    reused.map((t) => t.prefillTokens),
    'without',
    fresh.map((t) => t.prefillTokens),
  );
});

test('prefix reuse: when the cache cannot roll back (sliding ring), the prompt is prefilled from scratch', async () => {
  const spec = fakeSpec();
  const model = new ScriptedModel(spec, () => oneHot(EOS), false);
  const session = new ChatSession({ model, tokenizer: byteTokenizer });
  await session.generate([1, 2, 3, 4, 5], { temperature: 0 }).result();
  const s = await session.generate([1, 2, 3, 9], { temperature: 0 }).result();
  assert.deepEqual([s.usage.reusedTokens, s.usage.prefillTokens], [0, 4]);
  // Extending what is cached needs no roll-back, so it still reuses.
  const t = await session.generate([1, 2, 3, 9, 7, 7], { temperature: 0 }).result();
  assert.deepEqual([t.usage.reusedTokens, t.usage.prefillTokens], [4, 2]);
});

test('a prompt equal to what is cached still runs its last token (fresh logits)', async () => {
  const model = continuationModel('abcdef');
  const session = new ChatSession({ model, tokenizer: byteTokenizer });
  const a = await session.complete('abc', { temperature: 0, maxTokens: 1 }).result();
  const b = await session.complete('abc', { temperature: 0, maxTokens: 1 }).result();
  assert.deepEqual(a.tokens, b.tokens);
  assert.deepEqual([b.usage.reusedTokens, b.usage.prefillTokens], [2, 1]);
});

test('bad options are clear errors', () => {
  const session = new ChatSession({ model: continuationModel('ab'), tokenizer: byteTokenizer });
  assert.throws(() => session.complete('a', { maxTokens: -1 }), /maxTokens/);
  assert.throws(() => session.complete('a', { seed: 1.5 }), /seed/);
  assert.throws(() => session.complete('a', { temperature: -1 }), /temperature/);
  assert.throws(() => session.generate([99999]), /outside the vocabulary/);
  assert.throws(() => session.chat([]), /no chat template/);
  assert.throws(() => new ChatSession({ model: continuationModel('ab') }).complete('a'), /no tokenizer/);
});
