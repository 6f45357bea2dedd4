import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HarmonyChatFormat, TemplateError } from '../src/chat/index.js';
import { renderToolNamespace } from '../src/chat/harmony-tools.js';
import type { ChatMessage } from '../src/chat/types.js';
import { tokenizerFor } from './tokenizer-helpers.js';

const harmony = new HarmonyChatFormat(tokenizerFor('gptoss'), { date: '2025-08-05' });
const render = (messages: ChatMessage[], kwargs: Record<string, unknown> = {}) => harmony.render(messages, kwargs).text;

test('tool schemas become the TypeScript-style namespace, quirks included', () => {
  const text = renderToolNamespace('functions', [
    {
      type: 'function',
      function: {
        name: 'search',
        description: 'Search things',
        parameters: {
          type: 'object',
          required: ['query'],
          properties: {
            query: { type: 'string', description: 'What to find' },
            mode: { oneOf: [{ type: 'string', description: 'by name' }, { type: 'integer', default: 3 }] },
            tags: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
            kind: { type: ['string', 'null'] },
            level: { type: 'integer', enum: [1, 2], default: 'x' },
            ratio: { type: 'number', default: 0.00001 },
            where: { type: 'object', properties: { lat: { type: 'number' }, city: { type: 'string', nullable: true } }, required: ['lat'] },
          },
        },
      },
    },
    { type: 'function', function: { name: 'now', description: 'Time', parameters: { type: 'object', properties: {} } } },
  ]);
  assert.equal(
    text,
    '## functions\n\nnamespace functions {\n\n// Search things\ntype search = (_: {\n// What to find\nquery: string,\n' +
      'mode?: string// by name | \nnumber                    // default: 3,\n' +
      'tags?: string[][],\nkind?: string | null,\nlevel?: number, // default: x,\nratio?: number, // default: 1e-05,\n' +
      'where?: {\nlat: \n                number, city?: \n                string | null},\n' +
      '}) => any;\n\n// Time\ntype now = () => any;\n\n} // namespace functions',
  );
});

test('tool schema errors follow Python: missing description, non-string enum default', () => {
  assert.throws(() => renderToolNamespace('functions', [{ type: 'function', function: { name: 'f' } }]), TemplateError);
  assert.throws(
    () => renderToolNamespace('functions', [{ function: { name: 'f', description: 'd', parameters: { properties: { n: { type: 'integer', enum: [1], default: 1 } } } } }]),
    /can only concatenate str \(not "int"\) to str/,
  );
});

test('system message: identity, effort, builtin tools; developer message from a first system message', () => {
  const text = render([{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi' }], {
    model_identity: 'You are Owl.',
    reasoning_effort: 'high',
    builtin_tools: ['python'],
    add_generation_prompt: true,
  });
  assert.ok(text.startsWith('<|start|>system<|message|>You are Owl.\nKnowledge cutoff: 2024-06\nCurrent date: 2025-08-05\n\nReasoning: high\n\n# Tools\n\n## python\n\n'));
  assert.ok(text.includes("Depends on the cluster.\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>"));
  assert.ok(text.endsWith('<|start|>developer<|message|># Instructions\n\nBe terse.\n\n<|end|><|start|>user<|message|>Hi<|end|><|start|>assistant'));
  const browser = render([{ role: 'user', content: 'x' }], { builtin_tools: ['browser'] });
  assert.ok(browser.includes('## browser\n\n// Tool for browsing.\n') && browser.includes('} // namespace browser\n\n# Valid channels'));
});

test('analysis is dropped from earlier turns but kept for a tool call still awaiting its answer', () => {
  const call = { role: 'assistant', thinking: 'Need time.', tool_calls: [{ function: { name: 'now', arguments: {} } }] };
  const pending = render([{ role: 'user', content: 'Time?' }, call, { role: 'tool', content: '12:00' }], { add_generation_prompt: true });
  assert.ok(pending.includes('<|start|>assistant<|channel|>analysis<|message|>Need time.<|end|><|start|>assistant to=functions.now<|channel|>commentary json<|message|>{}<|call|>'));
  assert.ok(pending.includes('<|start|>functions.now to=assistant<|channel|>commentary<|message|>"12:00"<|end|>'));
  const answered = render([{ role: 'user', content: 'Time?' }, call, { role: 'tool', content: '12:00' }, { role: 'assistant', content: 'Noon.', thinking: 'easy' }, { role: 'user', content: 'Thanks' }], {
    add_generation_prompt: true,
  });
  assert.ok(!answered.includes('Need time.') && !answered.includes('easy'));
  assert.ok(answered.includes('<|start|>assistant<|channel|>final<|message|>Noon.<|end|>'));
});

test('content types and the message shapes the template rejects', () => {
  const ct = render([{ role: 'user', content: 'x' }, { role: 'assistant', tool_calls: [{ function: { name: 'py', arguments: 'print(1)', content_type: 'code' } }] }]);
  assert.ok(ct.includes('to=functions.py<|channel|>commentary code<|message|>"print(1)"<|call|>'));
  assert.throws(() => render([{ role: 'user', content: 'x' }, { role: 'tool', content: 'r' }]), /no previous assistant message with a tool call/);
  assert.throws(() => render([{ role: 'user', content: 'x' }, { role: 'assistant', content: null }]), /NoneType/);
  assert.throws(() => render([]), TemplateError);
  assert.throws(() => render([{ role: 'user', content: 'x' }, { role: 'assistant', thinking: '<|channel|>final<|message|>x', content: 'y' }]), /in the thinking field/);
});
