/**
 * Harmony, GPT-OSS's chat format, rendered natively (the gpt-oss tokenizer ships no template).
 * The output equals OpenAI's gpt-oss `chat_template.jinja` under transformers, including its
 * rules: a system message with identity, knowledge cutoff, current date and reasoning effort; a
 * developer message with instructions and the `functions` namespace; earlier turns' analysis
 * dropped except for tool calls not yet followed by a final answer; tool results JSON-encoded.
 */
import type { Tokenizer } from '../tokenizer/types.js';
import { TemplateError } from './errors.js';
import { renderToolNamespace } from './harmony-tools.js';
import { outputParserFor, stopTokensFor } from './parsers.js';
import { attr, concat, contains, dateParts, isDefined, pythonJson, pythonStr, strftime, truthy, type DateParts } from './python.js';
import { renderChat } from './render.js';
import type { ChatFormat, ChatKwargs, ChatMessage, OutputParser, RenderedChat, RenderOptions } from './types.js';

const DEFAULT_IDENTITY = 'You are ChatGPT, a large language model trained by OpenAI.';

export class HarmonyChatFormat implements ChatFormat {
  readonly kind = 'harmony' as const;
  readonly stopTokens: readonly number[];

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly defaults: RenderOptions = {},
  ) {
    for (const t of ['<|start|>', '<|channel|>', '<|message|>', '<|end|>', '<|return|>', '<|call|>']) {
      if (tokenizer.tokenToId(t) === undefined) throw new TemplateError(`Harmony needs the ${t} token, which this tokenizer lacks`);
    }
    this.stopTokens = stopTokensFor(tokenizer, { kind: 'harmony' });
  }

  render(messages: ChatMessage[], kwargs: ChatKwargs = {}, options: RenderOptions = {}): RenderedChat {
    const date = dateParts(options.date ?? this.defaults.date);
    return renderChat(this.tokenizer, (msgs, kw) => renderHarmony(msgs, kw, date), messages, kwargs);
  }

  parser(prompt?: RenderedChat | string): OutputParser {
    return outputParserFor(this.tokenizer, { kind: 'harmony' }, this.stopTokens, typeof prompt === 'string' ? prompt : prompt?.text);
  }
}

/** The Harmony prompt text for a conversation (kwargs as apply_chat_template takes them). */
export function renderHarmony(messages: ChatMessage[], kwargs: ChatKwargs, date: DateParts): string {
  const kw = (name: string) => attr(kwargs, name);
  let out = '<|start|>system<|message|>' + systemMessage(kw, date) + '<|end|>';

  const first = attr(messages, 0);
  let developer: unknown = '';
  let turns = messages;
  const firstRole = attr(first, 'role');
  if (firstRole === 'developer' || firstRole === 'system') {
    developer = attr(first, 'content');
    turns = messages.slice(1);
  }
  const tools = kw('tools');
  if (truthy(developer) || truthy(tools)) {
    out += '<|start|>developer<|message|>';
    if (truthy(developer)) out += '# Instructions\n\n' + pythonStr(developer) + '\n\n';
    if (truthy(tools)) out += '# Tools\n\n' + renderToolNamespace('functions', tools);
    out += '<|end|>';
  }

  let lastToolCall: unknown = null;
  turns.forEach((message, i) => {
    const role = attr(message, 'role');
    const isLast = i === turns.length - 1;
    if (role === 'assistant') {
      checkNoChannelTags(message, 'content');
      checkNoChannelTags(message, 'thinking');
      const content = attr(message, 'content');
      const thinking = attr(message, 'thinking');
      if (contains(message, 'tool_calls')) {
        // Analysis before a tool call is kept until a later final answer makes it stale.
        const answered = turns.slice(i + 1).some((m) => attr(m, 'role') === 'assistant' && !contains(m, 'tool_calls'));
        let call = attr(attr(message, 'tool_calls'), 0);
        if (truthy(attr(call, 'function'))) call = attr(call, 'function');
        if (truthy(content) && truthy(thinking)) {
          throw new TemplateError(
            'Cannot pass both content and thinking in an assistant message with tool calls! Put the analysis message in one or the other, but not both.',
          );
        } else if (truthy(content) && !answered) {
          out += concat('<|start|>assistant<|channel|>analysis<|message|>', content, '<|end|>');
        } else if (truthy(thinking) && !answered) {
          out += concat('<|start|>assistant<|channel|>analysis<|message|>', thinking, '<|end|>');
        }
        const contentType = attr(call, 'content_type');
        out += '<|start|>assistant to=';
        out += concat('functions.', attr(call, 'name'), '<|channel|>commentary ');
        out += concat(isDefined(contentType) ? contentType : 'json', '<|message|>');
        out += pythonJson(requireDefined(attr(call, 'arguments'), 'tool call arguments'));
        out += '<|call|>';
        lastToolCall = attr(call, 'name');
      } else if (isLast && !truthy(kw('add_generation_prompt'))) {
        // Training format: the final turn keeps its analysis and ends with <|return|>.
        if (contains(message, 'thinking')) out += concat('<|start|>assistant<|channel|>analysis<|message|>', thinking, '<|end|>');
        out += concat('<|start|>assistant<|channel|>final<|message|>', content, '<|return|>');
      } else {
        out += concat('<|start|>assistant<|channel|>final<|message|>', content, '<|end|>');
        lastToolCall = null;
      }
    } else if (role === 'tool') {
      if (lastToolCall === null) {
        throw new TemplateError('Message has tool role, but there was no previous assistant message with a tool call!');
      }
      out += concat('<|start|>functions.', lastToolCall);
      out += concat(' to=assistant<|channel|>commentary<|message|>', pythonJson(requireDefined(attr(message, 'content'), 'tool message content')), '<|end|>');
    } else if (role === 'user') {
      out += concat('<|start|>user<|message|>', attr(message, 'content'), '<|end|>');
    }
    // Any other role (a system/developer message after the first) is not rendered, as in the template.
  });

  if (truthy(kw('add_generation_prompt'))) out += '<|start|>assistant';
  return out;
}

function systemMessage(kw: (name: string) => unknown, date: DateParts): string {
  const identity = kw('model_identity');
  const effort = kw('reasoning_effort');
  let out = concat(isDefined(identity) ? identity : DEFAULT_IDENTITY, '\n');
  out += 'Knowledge cutoff: 2024-06\n';
  out += `Current date: ${strftime(date, '%Y-%m-%d')}\n\n`;
  out += concat('Reasoning: ', isDefined(effort) ? effort : 'medium', '\n\n');
  const builtins = kw('builtin_tools');
  if (truthy(builtins)) {
    const list = Array.isArray(builtins) ? builtins : typeof builtins === 'string' ? [...builtins] : [];
    out += '# Tools\n\n' + builtinTools(list.includes('browser'), list.includes('python'));
  }
  out += '# Valid channels: analysis, commentary, final. Channel must be included for every message.';
  if (truthy(kw('tools'))) out += "\nCalls to these tools must go to the commentary channel: 'functions'.";
  return out;
}

/** The template's error when content or thinking already carries Harmony channel tags. */
function checkNoChannelTags(message: unknown, field: 'content' | 'thinking'): void {
  if (!contains(message, field)) return;
  const value = attr(message, field);
  if (contains(value, '<|channel|>analysis<|message|>') || contains(value, '<|channel|>final<|message|>')) {
    throw new TemplateError(
      `You have passed a message containing <|channel|> tags in the ${field} field. Instead of doing this, you should pass analysis messages (the string between '<|message|>' and '<|end|>') in the 'thinking' field, and final messages (the string between '<|message|>' and '<|end|>') in the 'content' field.`,
    );
  }
}

function requireDefined(v: unknown, what: string): unknown {
  if (!isDefined(v)) throw new TemplateError(`${what} missing`);
  return v;
}

function builtinTools(browser: boolean, python: boolean): string {
  let out = '';
  if (browser) {
    out += [
      '## browser',
      '',
      '// Tool for browsing.',
      '// The `cursor` appears in brackets before each browsing display: `[{cursor}]`.',
      '// Cite information from the tool using the following format:',
      '// `【{cursor}†L{line_start}(-L{line_end})?】`, for example: `【6†L9-L11】` or `【8†L3】`.',
      '// Do not quote more than 10 words directly from the tool output.',
      '// sources=web (default: web)',
      'namespace browser {',
      '',
      '// Searches for information related to `query` and displays `topn` results.',
      'type search = (_: {',
      'query: string,',
      'topn?: number, // default: 10',
      'source?: string,',
      '}) => any;',
      '',
      '// Opens the link `id` from the page indicated by `cursor` starting at line number `loc`, showing `num_lines` lines.',
      '// Valid link ids are displayed with the formatting: `【{id}†.*】`.',
      '// If `cursor` is not provided, the most recent page is implied.',
      '// If `id` is a string, it is treated as a fully qualified URL associated with `source`.',
      '// If `loc` is not provided, the viewport will be positioned at the beginning of the document or centered on the most relevant passage, if available.',
      '// Use this function without `id` to scroll to a new location of an opened page.',
      'type open = (_: {',
      'id?: number | string, // default: -1',
      'cursor?: number, // default: -1',
      'loc?: number, // default: -1',
      'num_lines?: number, // default: -1',
      'view_source?: boolean, // default: false',
      'source?: string,',
      '}) => any;',
      '',
      '// Finds exact matches of `pattern` in the current page, or the page given by `cursor`.',
      'type find = (_: {',
      'pattern: string,',
      'cursor?: number, // default: -1',
      '}) => any;',
      '',
      '} // namespace browser',
      '',
      '',
    ].join('\n');
  }
  if (python) {
    out +=
      '## python\n\n' +
      'Use this tool to execute Python code in your chain of thought. The code will not be shown to the user. This tool should be used for internal reasoning, but not for code that is intended to be visible to the user (e.g. when creating plots, tables, or files).\n\n' +
      "When you send a message containing Python code to python, it will be executed in a stateful Jupyter notebook environment. python will respond with the output of the execution or time out after 120.0 seconds. The drive at '/mnt/data' can be used to save and persist user files. Internet access for this session is UNKNOWN. Depends on the cluster.\n\n";
  }
  return out;
}
