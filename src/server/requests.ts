/**
 * Schema-valid request bodies -> engine requests, with the checks a schema cannot express
 * (unsupported options, tool_choice naming a tool that is not there, ...). Errors name the field.
 */
import { randomBytes } from 'node:crypto';
import type { ChatMessage, ChatRequest, CompletionRequest, SamplingRequest, ToolCall, ToolSpec } from './engine.js';
import { badRequest } from './http-error.js';

/* The bodies as the schemas in schemas.ts admit them. */
type Nullable<T> = T | null | undefined;
interface SamplingBody {
  model: string;
  stream?: Nullable<boolean>;
  stream_options?: Nullable<{ include_usage?: Nullable<boolean> }>;
  max_tokens?: Nullable<number>;
  temperature?: Nullable<number>;
  top_p?: Nullable<number>;
  top_k?: Nullable<number>;
  min_p?: Nullable<number>;
  presence_penalty?: Nullable<number>;
  frequency_penalty?: Nullable<number>;
  repetition_penalty?: Nullable<number>;
  seed?: Nullable<number>;
  n?: Nullable<number>;
  stop?: Nullable<string | string[]>;
}
interface MessageBody {
  role: ChatMessage['role'];
  content?: Nullable<string | { type: string; text?: string }[]>;
  name?: Nullable<string>;
  reasoning_content?: Nullable<string>;
  reasoning?: Nullable<string>;
  tool_calls?: Nullable<{ id?: string; type?: 'function'; function: { name: string; arguments?: string | Record<string, unknown> } }[]>;
  tool_call_id?: Nullable<string>;
}
export interface ChatBody extends SamplingBody {
  messages: MessageBody[];
  max_completion_tokens?: Nullable<number>;
  tools?: Nullable<ToolSpec[]>;
  tool_choice?: Nullable<string | { type: 'function'; function: { name: string } }>;
  chat_template_kwargs?: Nullable<Record<string, unknown>>;
  reasoning_effort?: Nullable<string>;
  response_format?: Nullable<{ type: string }>;
  logprobs?: Nullable<boolean>;
  top_logprobs?: Nullable<number>;
}
export interface CompletionBody extends SamplingBody {
  prompt: string | (string | number)[];
  echo?: Nullable<boolean>;
  suffix?: Nullable<string>;
  best_of?: Nullable<number>;
  logprobs?: Nullable<number>;
}

export interface StreamOptions {
  stream: boolean;
  includeUsage: boolean;
}

export function newToolCallId(): string {
  return `call_${randomBytes(12).toString('hex')}`;
}

function common(body: SamplingBody): StreamOptions & { stop: string[]; sampling: SamplingRequest } {
  if ((body.n ?? 1) !== 1) throw badRequest(`Invalid value for 'n': this server generates one choice per request (n=1), got ${body.n}.`, 'n', 'unsupported_value');
  if (body.seed != null && !Number.isSafeInteger(body.seed)) throw badRequest(`Invalid value for 'seed': must be an integer of at most 2^53, got ${body.seed}.`, 'seed', 'invalid_value');
  const stream = body.stream === true;
  if (body.stream_options != null && !stream) throw badRequest(`'stream_options' is only allowed when 'stream' is true.`, 'stream_options');
  const stop = body.stop == null ? [] : typeof body.stop === 'string' ? [body.stop] : body.stop;
  const sampling: SamplingRequest = {};
  const set = <K extends keyof SamplingRequest>(k: K, v: Nullable<number>) => {
    if (v != null) sampling[k] = v;
  };
  set('temperature', body.temperature);
  set('topP', body.top_p);
  set('topK', body.top_k === -1 ? 0 : body.top_k);
  set('minP', body.min_p);
  set('presencePenalty', body.presence_penalty);
  set('frequencyPenalty', body.frequency_penalty);
  set('repetitionPenalty', body.repetition_penalty);
  set('seed', body.seed);
  return { stream, includeUsage: stream && body.stream_options?.include_usage === true, stop: stop.filter((s) => s.length > 0), sampling };
}

function messageText(m: MessageBody, i: number): string | null {
  if (m.content == null || typeof m.content === 'string') return m.content ?? null;
  return m.content
    .map((part, j) => {
      if (part.type !== 'text' || typeof part.text !== 'string')
        throw badRequest(
          part.type === 'text'
            ? `Missing required parameter: 'messages[${i}].content[${j}].text'.`
            : `Invalid value for 'messages[${i}].content[${j}].type': '${part.type}' is not supported; this model reads text parts only.`,
          `messages[${i}].content[${j}]${part.type === 'text' ? '.text' : '.type'}`,
        );
      return part.text;
    })
    .join('');
}

function parseMessage(m: MessageBody, i: number): ChatMessage {
  const content = messageText(m, i);
  const out: ChatMessage = { role: m.role, content };
  if (m.name != null) out.name = m.name;
  if (m.role !== 'assistant') {
    if (content === null) throw badRequest(`Missing required parameter: 'messages[${i}].content'.`, `messages[${i}].content`, 'missing_required_parameter');
    if (m.tool_calls?.length) throw badRequest(`Invalid parameter: 'messages[${i}].tool_calls' is only allowed on assistant messages.`, `messages[${i}].tool_calls`);
    if (m.role === 'tool' && m.tool_call_id != null) out.tool_call_id = m.tool_call_id;
    return out;
  }
  const reasoning = m.reasoning_content ?? m.reasoning;
  if (reasoning != null && reasoning !== '') out.reasoning_content = reasoning;
  if (m.tool_calls?.length) {
    out.tool_calls = m.tool_calls.map(
      (c): ToolCall => ({
        id: c.id ?? newToolCallId(),
        type: 'function',
        function: { name: c.function.name, arguments: typeof c.function.arguments === 'object' ? JSON.stringify(c.function.arguments) : (c.function.arguments ?? '{}') },
      }),
    );
  } else if (content === null) out.content = '';
  return out;
}

/** Tools as the template should see them, narrowed by tool_choice ('none' hides them all). */
function chooseTools(body: ChatBody): ToolSpec[] | undefined {
  const tools = body.tools ?? [];
  const choice = body.tool_choice;
  if (choice == null) return tools.length ? tools : undefined;
  if (typeof choice === 'string') {
    if (!['none', 'auto', 'required'].includes(choice))
      throw badRequest(`Invalid value for 'tool_choice': '${choice}' is not one of 'none', 'auto', 'required' or {"type": "function", "function": {"name": ...}}.`, 'tool_choice', 'invalid_value');
    if (choice !== 'none' && tools.length === 0) throw badRequest(`Invalid value for 'tool_choice': '${choice}' needs 'tools' to be given.`, 'tool_choice');
    return choice === 'none' || tools.length === 0 ? undefined : tools;
  }
  const named = tools.filter((t) => t.function.name === choice.function.name);
  if (named.length === 0) throw badRequest(`Invalid value for 'tool_choice': no tool named '${choice.function.name}' in 'tools'.`, 'tool_choice.function.name', 'invalid_value');
  return named;
}

const RESERVED_KWARGS = ['messages', 'tools', 'add_generation_prompt'];

export function parseChatBody(body: ChatBody): { request: ChatRequest } & StreamOptions {
  const { stream, includeUsage, stop, sampling } = common(body);
  if (body.logprobs === true || (body.top_logprobs ?? 0) > 0)
    throw badRequest(`Invalid value for '${body.logprobs === true ? 'logprobs' : 'top_logprobs'}': log probabilities are not supported by this server.`, body.logprobs === true ? 'logprobs' : 'top_logprobs', 'unsupported_value');
  if (body.response_format != null && body.response_format.type !== 'text')
    throw badRequest(`Invalid value for 'response_format.type': '${body.response_format.type}' is not supported (only 'text'; there is no constrained decoding).`, 'response_format.type', 'unsupported_value');
  const kwargs = { ...(body.chat_template_kwargs ?? {}) };
  for (const k of RESERVED_KWARGS)
    if (k in kwargs) throw badRequest(`Invalid parameter: 'chat_template_kwargs.${k}' is set by the server and cannot be overridden.`, `chat_template_kwargs.${k}`);
  if (body.reasoning_effort != null) kwargs.reasoning_effort = body.reasoning_effort;
  const request: ChatRequest = {
    messages: body.messages.map(parseMessage),
    templateKwargs: kwargs,
    stop,
    sampling,
  };
  const tools = chooseTools(body);
  if (tools) request.tools = tools.map((t) => ({ type: 'function', function: stripNulls(t.function) }));
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (maxTokens != null) request.maxTokens = maxTokens;
  return { request, stream, includeUsage };
}

/** OpenAI's default max_tokens for /v1/completions. */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

export function parseCompletionBody(body: CompletionBody): { request: CompletionRequest } & StreamOptions {
  const { stream, includeUsage, stop, sampling } = common(body);
  if (body.echo === true) throw badRequest(`Invalid value for 'echo': echoing the prompt is not supported.`, 'echo', 'unsupported_value');
  if (body.suffix) throw badRequest(`Invalid value for 'suffix': insertion (suffix) is not supported.`, 'suffix', 'unsupported_value');
  if ((body.best_of ?? 1) !== 1) throw badRequest(`Invalid value for 'best_of': only 1 is supported.`, 'best_of', 'unsupported_value');
  if ((body.logprobs ?? 0) > 0) throw badRequest(`Invalid value for 'logprobs': log probabilities are not supported by this server.`, 'logprobs', 'unsupported_value');
  let prompt: string | number[];
  if (typeof body.prompt === 'string') prompt = body.prompt;
  else if (body.prompt.length === 0) throw badRequest(`Invalid value for 'prompt': an empty array is not a prompt.`, 'prompt');
  else if (body.prompt.every((p) => typeof p === 'number')) prompt = body.prompt as number[];
  else if (body.prompt.length === 1 && typeof body.prompt[0] === 'string') prompt = body.prompt[0];
  else throw badRequest(`Invalid value for 'prompt': give one string or one array of token ids (batches of prompts are not supported).`, 'prompt', 'unsupported_value');
  return { request: { prompt, stop, sampling, maxTokens: body.max_tokens ?? COMPLETION_DEFAULT_MAX_TOKENS }, stream, includeUsage };
}

function stripNulls<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null)) as T;
}
