/**
 * OpenAI message shapes -> the shapes each family's chat template was written for, so that what a
 * client sends back (reasoning_content, tool_calls with JSON-string arguments, tool results)
 * renders as the model produced it. See test/fixtures/tokenizers/chat.*.json for the shapes.
 */
import type { Family } from '../config/spec.js';
import type { ChatMessage, ToolSpec } from './engine.js';

export type TemplateMessage = Record<string, unknown>;

/** Arguments as an object when they are JSON (what Qwen3's and gpt-oss's `tojson` expect), else the raw string. */
function parsedArguments(args: string): unknown {
  try {
    const v = JSON.parse(args);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : args;
  } catch {
    return args;
  }
}

function toolCalls(m: ChatMessage, parse: boolean) {
  return m.tool_calls!.map((c) => ({ id: c.id, type: 'function', function: { name: c.function.name, arguments: parse ? parsedArguments(c.function.arguments) : c.function.arguments } }));
}

function qwen3(m: ChatMessage): TemplateMessage {
  // The template has no developer role and concatenates content as a string (null would abort it).
  const out: TemplateMessage = { role: m.role === 'developer' ? 'system' : m.role, content: m.content ?? '' };
  if (m.reasoning_content !== undefined) out.reasoning_content = m.reasoning_content;
  if (m.tool_calls) out.tool_calls = toolCalls(m, true);
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  return out;
}

function gptOss(m: ChatMessage): TemplateMessage {
  const out: TemplateMessage = { role: m.role, content: m.content ?? '' };
  if (m.name !== undefined) out.name = m.name;
  let thinking = m.reasoning_content;
  if (m.tool_calls) {
    out.tool_calls = toolCalls(m, true);
    // Harmony puts a tool-call turn's text in the analysis channel, and the template refuses both fields.
    if (thinking && m.content) {
      thinking = `${thinking}\n\n${m.content}`;
      out.content = '';
    }
  }
  if (thinking !== undefined) out.thinking = thinking;
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  return out;
}

function deepseekV3(m: ChatMessage): TemplateMessage {
  const out: TemplateMessage = { role: m.role === 'developer' ? 'system' : m.role, content: m.content };
  if (m.tool_calls) {
    // V3's template renders tool calls only when content is None, with string arguments.
    out.tool_calls = toolCalls(m, false);
    if (!m.content) out.content = null;
  } else if (m.content === null) out.content = '';
  if (m.reasoning_content !== undefined) out.reasoning_content = m.reasoning_content;
  if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
  return out;
}

export function toTemplateMessages(messages: readonly ChatMessage[], family: Family): TemplateMessage[] {
  const convert = family === 'qwen3' ? qwen3 : family === 'gpt_oss' ? gptOss : deepseekV3;
  return messages.map(convert);
}

/** Tools as the templates take them: OpenAI's {type, function: {...}} objects. */
export function toTemplateTools(tools: readonly ToolSpec[] | undefined): TemplateMessage[] | undefined {
  return tools?.map((t) => ({ type: 'function', function: { ...t.function } }));
}
