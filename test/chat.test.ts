import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chatFormatFor, JinjaChatFormat, TemplateError } from '../src/chat/index.js';
import type { ChatMessage } from '../src/chat/types.js';
import { chatFixture, FAMILIES, tokenizerFor } from './tokenizer-helpers.js';

for (const family of FAMILIES) {
  test(`${family}: every chat fixture renders to the oracle's text and ids (or fails where it failed)`, () => {
    const tok = tokenizerFor(family);
    const fixture = chatFixture(family);
    const chat = chatFormatFor(tok, { date: fixture.oracle.strftime_now_date });
    assert.equal(chat.kind, family === 'gptoss' ? 'harmony' : 'jinja');
    let compared = 0;
    for (const c of fixture.cases) {
      const messages = c.messages as ChatMessage[];
      if (c.error) {
        assert.throws(
          () => chat.render(messages, c.kwargs),
          (e: Error) => e instanceof TemplateError && (c.error!.type !== 'TemplateError' || e.message === c.error!.message),
          `${c.id} should fail like the oracle: ${c.error.message}`,
        );
        continue;
      }
      const r = chat.render(messages, c.kwargs);
      assert.equal(r.text, c.rendered, `${c.id} text`);
      // transformers tokenizes the rendered text as a whole.
      assert.deepEqual(tok.encode(r.text), c.ids, `${c.id} encode(rendered)`);
      if (countContentTokens([c.messages, c.kwargs], tok) === 0 || JSON.stringify(r.ids) === JSON.stringify(c.ids)) {
        assert.deepEqual(r.ids, c.ids, `${c.id} ids`);
        compared++;
      } else {
        // Control-token text from content that reaches the prompt is plain text in Owl's ids.
        assert.equal(tok.decode(r.ids), r.text, `${c.id} decode(ids)`);
        const added = (ids: number[]) => ids.filter((id) => tok.isAdded(id)).length;
        assert.ok(added(r.ids) < added(c.ids!), `${c.id} control tokens`);
      }
    }
    assert.ok(compared >= 7, `${family}: ${compared} cases compared id for id`);
  });
}

/** Added-token occurrences inside the caller's strings (each is rendered once in these fixtures). */
function countContentTokens(callerData: unknown, tok: ReturnType<typeof tokenizerFor>): number {
  let n = 0;
  const walk = (v: unknown): void => {
    if (typeof v === 'string') n += tok.findAddedTokens(v).length;
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(walk);
  };
  walk(callerData);
  return n;
}

test('strftime_now follows the date option; Harmony writes it as Current date', () => {
  const q = chatFormatFor(tokenizerFor('qwen3'), { template: '{{ strftime_now("%d %b %Y, %A %B %-d") }}' });
  assert.equal(q.render([], {}, { date: '2024-02-29' }).text, '29 Feb 2024, Thursday February 29');
  const g = chatFormatFor(tokenizerFor('gptoss'), { date: '2026-01-31' });
  assert.match(g.render([{ role: 'user', content: 'hi' }]).text, /Current date: 2026-01-31\n/);
  assert.throws(() => g.render([{ role: 'user', content: 'hi' }], {}, { date: '2026-02-30' }), /YYYY-MM-DD/);
});

test('template kwargs pass through; tools default to None; special tokens are variables', () => {
  const tok = tokenizerFor('deepseek_v3');
  const chat = chatFormatFor(tok, {
    template: '{{ bos_token }}|{{ tools is none }}|{{ documents is none }}|{{ custom_flag }}|{{ add_generation_prompt }}|{{ messages | length }}',
  });
  assert.equal(chat.render([{ role: 'user', content: 'x' }], { custom_flag: 'yes' }).text, '<｜begin▁of▁sentence｜>|true|true|yes|false|1');
});

test('Python semantics: str + dict raises, str + str and list + list work, raise_exception keeps its message', () => {
  const tok = tokenizerFor('qwen3');
  const render = (template: string, kwargs: Record<string, unknown> = {}) => chatFormatFor(tok, { template }).render([], kwargs).text;
  assert.equal(render("{{ 'a' + 'b' }}{{ ([1] + [2, 3]) | length }}{{ 1 + 2.5 }}"), 'ab33.5');
  assert.throws(() => render("{{ 'a' + x }}", { x: { k: 1 } }), /can only concatenate str \(not "dict"\) to str/);
  assert.throws(() => render("{{ 'a' + x }}", { x: 3 }), /can only concatenate str \(not "int"\) to str/);
  assert.throws(() => render("{{ raise_exception('no system role, please') }}"), (e: Error) => e instanceof TemplateError && e.message === 'no system role, please');
  // strip(chars) strips only those characters (Qwen3's template relies on .strip('\n')).
  assert.equal(render("[{{ s.strip('\\n') }}|{{ s.lstrip('\\n') }}|{{ s.rstrip('\\n') }}|{{ s.strip() }}|{{ s.strip('\\n ') }}]", { s: '\n  x  \n' }), '[  x  |  x  \n|\n  x  |x|x]');
});

test('continue_final_message cuts after the final message; incompatible with add_generation_prompt', () => {
  const chat = chatFormatFor(tokenizerFor('qwen3'));
  const messages: ChatMessage[] = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello there' }];
  const r = chat.render(messages, { continue_final_message: true });
  assert.ok(r.text.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\nHello there'), JSON.stringify(r.text));
  // transformers' rule for surrounding spaces: trailing ones survive only when the message has no leading ones.
  const spaced = chat.render([messages[0], { role: 'assistant', content: '  Hello  ' }], { continue_final_message: true });
  assert.ok(spaced.text.endsWith('</think>\n\n  Hello'), JSON.stringify(spaced.text));
  assert.throws(() => chat.render(messages, { continue_final_message: true, add_generation_prompt: true }), /not compatible/);
  const g = chatFormatFor(tokenizerFor('gptoss'), { date: '2025-08-05' });
  const h = g.render(messages, { continue_final_message: true });
  assert.ok(h.text.endsWith('<|start|>assistant<|channel|>final<|message|>Hello there'), h.text);
  const cut = (content: string) => g.render([messages[0], { role: 'assistant', content }], { continue_final_message: true }).text;
  assert.ok(cut('Hello  ').endsWith('<|message|>Hello  '));
  assert.ok(cut('  Hello  ').endsWith('<|message|>  Hello'));
});

test('named templates: tool_use is picked when tools are given', () => {
  const chat = new JinjaChatFormat(tokenizerFor('qwen3'), { default: 'plain', tool_use: 'with tools' });
  assert.equal(chat.render([], {}).text, 'plain');
  assert.equal(chat.render([], { tools: [{ type: 'function', function: { name: 'f' } }] }).text, 'with tools');
});

test('a tokenizer without a template and without Harmony tokens has no chat format', () => {
  const tok = tokenizerFor('qwen3');
  const bare = { ...tok, chatTemplate: undefined, chatTemplates: {}, tokenToId: (t: string) => (t.startsWith('<|') ? undefined : tok.tokenToId(t)) };
  assert.throws(() => chatFormatFor(bare as typeof tok), /no chat template/);
  assert.equal(chatFormatFor(tokenizerFor('gptoss')).kind, 'harmony');
  assert.throws(() => chatFormatFor(tokenizerFor('qwen3'), { format: 'harmony' }), /lacks/);
});
