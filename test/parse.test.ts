import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chatFormatFor, outputParserFor } from '../src/chat/index.js';
import type { ChatDelta, ChatFormat, OutputParser, ParsedOutput } from '../src/chat/types.js';
import type { Tokenizer } from '../src/tokenizer/types.js';
import { tokenizerFor } from './tokenizer-helpers.js';

/** Feed ids one at a time; the concatenated deltas must equal the final result. */
function run(parser: OutputParser, ids: number[], validText = true): ParsedOutput & { deltas: ChatDelta[] } {
  const deltas = ids.map((id) => parser.push(id));
  deltas.push(parser.finish());
  const result = parser.result();
  const joined = { reasoning: '', content: '', toolCalls: [] as unknown[], warnings: [] as string[] };
  for (const d of deltas) {
    joined.reasoning += d.reasoning ?? '';
    joined.content += d.content ?? '';
    joined.toolCalls.push(...(d.toolCalls ?? []));
    joined.warnings.push(...(d.warnings ?? []));
    if (validText) for (const s of [d.reasoning, d.content]) assert.ok(!s?.includes('\ufffd'), 'no broken characters in deltas');
  }
  // The deltas add up to the result, except that an unterminated model-opened think block streamed
  // as reasoning is content in the final result.
  if (!result.warnings.some((w) => w.includes('kept as content in the result')))
    assert.deepEqual(joined, { reasoning: result.reasoning, content: result.content, toolCalls: result.toolCalls, warnings: result.warnings });
  return { ...result, deltas };
}

/** Model output written with control tokens (as the model emits them). */
const ids = (tok: Tokenizer, text: string) => tok.encode(text);

const qwen = tokenizerFor('qwen3');
const qwenChat = chatFormatFor(qwen);
const qwenPrompt = (kwargs: Record<string, unknown> = {}) => qwenChat.render([{ role: 'user', content: 'Hi' }], { add_generation_prompt: true, ...kwargs });

test('Qwen3: think block then answer, one token at a time', () => {
  const out = run(qwenChat.parser(qwenPrompt()), ids(qwen, '<think>\nThe user greets. 你好 👋\n</think>\n\nHello! 你好 👋<|im_end|>'));
  assert.equal(out.reasoning, 'The user greets. 你好 👋');
  assert.equal(out.content, 'Hello! 你好 👋');
  assert.deepEqual(out.toolCalls, []);
  assert.deepEqual(out.warnings, []);
  assert.ok(out.stopped);
  assert.ok(out.deltas.filter((d) => d.reasoning).length > 3, 'reasoning streams as it comes');
});

test('Qwen3: with thinking off the answer lands in content; with the block opened by the template, in reasoning first', () => {
  const off = qwenPrompt({ enable_thinking: false });
  assert.ok(off.text.endsWith('<think>\n\n</think>\n\n'));
  const out = run(qwenChat.parser(off), ids(qwen, 'Paris.<|im_end|>'));
  assert.deepEqual([out.reasoning, out.content], ['', 'Paris.']);
  // A template that writes "<think>\n" into the prompt (as later Qwen3 templates do).
  const opened = run(qwenChat.parser(qwenPrompt().text + '<think>\n'), ids(qwen, 'Hmm, a capital.\n</think>\n\nParis.<|im_end|>'));
  assert.deepEqual([opened.reasoning, opened.content, opened.warnings], ['Hmm, a capital.', 'Paris.', []]);
});

test('Qwen3: tool calls become structured calls; surrounding whitespace is dropped', () => {
  const text =
    '<think>\nNeed weather.\n</think>\n\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris", "unit": "celsius"}}\n</tool_call>\n' +
    '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call><|im_end|>';
  const out = run(qwenChat.parser(qwenPrompt()), ids(qwen, text));
  assert.equal(out.reasoning, 'Need weather.');
  assert.equal(out.content, '');
  assert.deepEqual(out.toolCalls, [
    { index: 0, name: 'get_weather', arguments: '{"location":"Paris","unit":"celsius"}' },
    { index: 1, name: 'get_time', arguments: '{}' },
  ]);
  assert.deepEqual(out.warnings, []);
});

test('Qwen3 malformed output degrades to content with warnings, never throws', () => {
  const p = () => qwenChat.parser(qwenPrompt({ enable_thinking: false }));
  const bad = run(p(), ids(qwen, 'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"location": "Par\n</tool_call><|im_end|>'));
  assert.equal(bad.content, 'Let me check.<tool_call>\n{"name": "get_weather", "arguments": {"location": "Par\n</tool_call>');
  assert.deepEqual(bad.toolCalls, []);
  assert.match(bad.warnings.join(), /invalid tool call/);

  const noName = run(p(), ids(qwen, '<tool_call>["get_weather"]</tool_call>'));
  assert.equal(noName.content, '<tool_call>["get_weather"]</tool_call>');
  assert.equal(noName.warnings.length, 1);

  const unterminated = run(p(), ids(qwen, '<tool_call>\n{"name": "f", "argu'));
  assert.equal(unterminated.content, '<tool_call>\n{"name": "f", "argu');
  assert.match(unterminated.warnings.join(), /unterminated tool call/);

  const unclosedThink = run(qwenChat.parser(qwenPrompt()), ids(qwen, '<think>\nstill thinking'));
  assert.equal(unclosedThink.deltas.map((d) => d.reasoning ?? '').join(''), 'still thinking', 'streamed as reasoning');
  assert.equal(unclosedThink.reasoning, '');
  assert.equal(unclosedThink.content, 'still thinking', 'degraded to content in the result');
  assert.match(unclosedThink.warnings.join(), /unterminated think block.*kept as content/);

  const stray = run(p(), ids(qwen, 'A</think>B<|im_end|>'));
  assert.equal(stray.content, 'AB');
  assert.match(stray.warnings.join(), /stray/);

  const after = run(p(), [...ids(qwen, 'Done.<|im_end|>'), ...ids(qwen, 'extra')]);
  assert.equal(after.content, 'Done.');
  assert.match(after.warnings.join(), /after the stop token/);
});

test('Qwen3: "<think>" spelled with ordinary tokens is text, not a marker', () => {
  const out = run(qwenChat.parser(qwenPrompt({ enable_thinking: false })), [...qwen.encode('Use <think> tags', { specials: false }), qwen.tokenToId('<|im_end|>')!]);
  assert.equal(out.content, 'Use <think> tags');
  assert.equal(out.reasoning, '');
});

const ds = tokenizerFor('deepseek_v3');
const dsChat = chatFormatFor(ds);
const dsPrompt = dsChat.render([{ role: 'user', content: 'Weather?' }], { add_generation_prompt: true });

test('DeepSeek-V3: tool-call tokens (V3 and V3.1 layouts) become structured calls', () => {
  const v3 =
    '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"location": "Paris"}\n```<｜tool▁call▁end｜>\n' +
    '<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"location": "Tokyo"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>';
  const out = run(dsChat.parser(dsPrompt), ids(ds, v3));
  assert.deepEqual(out.toolCalls, [
    { index: 0, name: 'get_weather', arguments: '{"location": "Paris"}' },
    { index: 1, name: 'get_weather', arguments: '{"location": "Tokyo"}' },
  ]);
  assert.deepEqual([out.content, out.warnings, out.stopped], ['', [], true]);

  const v31 = '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_time<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>';
  assert.deepEqual(run(dsChat.parser(dsPrompt), ids(ds, v31)).toolCalls, [{ index: 0, name: 'get_time', arguments: '{}' }]);

  const plain = run(dsChat.parser(dsPrompt), ids(ds, 'It is sunny in Paris.<｜end▁of▁sentence｜>'));
  assert.deepEqual([plain.content, plain.reasoning, plain.toolCalls], ['It is sunny in Paris.', '', []]);
});

test('DeepSeek-V3 malformed tool call degrades to content', () => {
  const bad = run(dsChat.parser(dsPrompt), ids(ds, '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"location": Paris}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>'));
  assert.deepEqual(bad.toolCalls, []);
  assert.equal(bad.content, '<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"location": Paris}\n```<｜tool▁call▁end｜>');
  assert.match(bad.warnings.join(), /invalid tool call/);
  const cut = run(dsChat.parser(dsPrompt), ids(ds, '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_wea'));
  assert.equal(cut.content, '<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_wea');
  assert.match(cut.warnings.join(), /unterminated tool call/);
});

test('think tags that are not single tokens are found in the text (DeepSeek V3 vocabulary)', () => {
  assert.equal(ds.tokenToId('<think>'), undefined);
  const parser = outputParserFor(ds, { kind: 'tagged', think: true, tools: 'deepseek' }, dsChat.stopTokens, dsPrompt.text);
  const out = run(parser, ids(ds, '<think>\nFirst, sqrt(2) = p/q.\n</think>\n\nIt is irrational.<｜end▁of▁sentence｜>'));
  assert.deepEqual([out.reasoning, out.content, out.warnings], ['First, sqrt(2) = p/q.', 'It is irrational.', []]);
  // The V3.1 template ends the prompt with "<think>" when thinking is on.
  const opened = run(outputParserFor(ds, { kind: 'tagged', think: true, tools: 'deepseek' }, dsChat.stopTokens, '<｜Assistant｜><think>'), ids(ds, 'hmm</think>yes'));
  assert.deepEqual([opened.reasoning, opened.content], ['hmm', 'yes']);
  const partial = run(outputParserFor(ds, { kind: 'tagged', think: true, tools: null }, [], ''), ids(ds, 'a </thin'));
  assert.equal(partial.content, 'a </thin', 'a held-back partial tag is released at the end');
});

const gpt = tokenizerFor('gptoss');
const harmony: ChatFormat = chatFormatFor(gpt, { date: '2025-08-05' });
const harmonyPrompt = harmony.render([{ role: 'user', content: 'Weather in Paris?' }], { add_generation_prompt: true });

test('Harmony: analysis -> reasoning, final -> content, <|return|> stops', () => {
  const out = run(harmony.parser(harmonyPrompt), ids(gpt, '<|channel|>analysis<|message|>User asks weather. 😀<|end|><|start|>assistant<|channel|>final<|message|>It is sunny. ☀️<|return|>'));
  assert.deepEqual([out.reasoning, out.content, out.toolCalls, out.warnings, out.stopped], ['User asks weather. 😀', 'It is sunny. ☀️', [], [], true]);
  assert.ok(harmony.stopTokens.includes(gpt.tokenToId('<|return|>')!) && harmony.stopTokens.includes(gpt.tokenToId('<|call|>')!));
});

test('Harmony: tool calls with the recipient before or after the channel', () => {
  const before = run(
    harmony.parser(harmonyPrompt),
    ids(gpt, '<|channel|>analysis<|message|>Need get_weather.<|end|><|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"location": "Paris"}<|call|>'),
  );
  assert.deepEqual(before.toolCalls, [{ index: 0, name: 'get_weather', arguments: '{"location": "Paris"}' }]);
  assert.equal(before.reasoning, 'Need get_weather.');
  const after = run(harmony.parser(harmonyPrompt), ids(gpt, '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"location":"Paris"}<|call|>'));
  assert.deepEqual(after.toolCalls, [{ index: 0, name: 'get_weather', arguments: '{"location":"Paris"}' }]);
  assert.deepEqual(after.warnings, []);
  const preamble = run(harmony.parser(harmonyPrompt), ids(gpt, '<|channel|>commentary<|message|>Checking the weather.<|end|><|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{}<|call|>'));
  assert.equal(preamble.content, 'Checking the weather.');
  assert.equal(preamble.toolCalls.length, 1);
});

test('Harmony malformed output degrades to content with warnings', () => {
  const channel = run(harmony.parser(harmonyPrompt), ids(gpt, '<|channel|>analisys<|message|>hello<|end|>'));
  assert.equal(channel.content, 'hello');
  assert.match(channel.warnings.join(), /broken message header/);

  const badJson = run(harmony.parser(harmonyPrompt), ids(gpt, '<|channel|>commentary to=functions.f <|constrain|>json<|message|>{"a": }<|call|>'));
  assert.deepEqual(badJson.toolCalls, []);
  assert.equal(badJson.content, '{"a": }');
  assert.match(badJson.warnings.join(), /invalid JSON/);

  const noHeader = run(harmony.parser(harmonyPrompt), ids(gpt, 'Just text, no header.<|return|>'));
  assert.equal(noHeader.content, 'Just text, no header.');
  assert.match(noHeader.warnings.join(), /message header/);

  const truncated = run(harmony.parser(harmonyPrompt), ids(gpt, '<|channel|>final<|message|>The answer is'));
  assert.equal(truncated.content, 'The answer is');
  assert.match(truncated.warnings.join(), /not terminated/);

  const unterminatedCall = run(harmony.parser(harmonyPrompt), ids(gpt, '<|channel|>commentary to=functions.f json<|message|>{"a": 1'));
  assert.equal(unterminatedCall.content, '{"a": 1');
  assert.deepEqual(unterminatedCall.toolCalls, []);
});

test('Harmony: a prompt that ends inside a final message (prefill) continues it as content', () => {
  const prefill = harmony.render([{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hel' }], { continue_final_message: true });
  const out = run(harmony.parser(prefill), ids(gpt, 'lo!<|return|>'));
  assert.deepEqual([out.content, out.warnings], ['lo!', []]);
});

test('random token soup never throws, for every format', () => {
  let seed = 42;
  const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const cases: Array<[Tokenizer, ChatFormat, string]> = [
    [qwen, qwenChat, qwenPrompt().text],
    [ds, dsChat, dsPrompt.text],
    [gpt, harmony, harmonyPrompt.text],
  ];
  for (const [tok, chat, prompt] of cases) {
    const control = tok.addedTokens.map((t) => t.id).slice(0, 40);
    const words = tok.encode('Hello {"name": "f", "arguments": {}} 你好 👋 ```json\n');
    for (let n = 0; n < 200; n++) {
      const seq: number[] = [];
      for (let k = Math.floor(rnd() * 40); k > 0; k--) {
        const r = rnd();
        seq.push(r < 0.3 ? control[Math.floor(rnd() * control.length)] : r < 0.8 ? words[Math.floor(rnd() * words.length)] : Math.floor(rnd() * tok.vocabSize));
      }
      run(chat.parser(rnd() < 0.5 ? prompt : undefined), seq, false); // random bytes may be invalid UTF-8
    }
  }
});
