/**
 * What the server needs from a model. The HTTP layer only talks to this interface; the real
 * generation layer sits behind an adapter (generate-engine.ts) and tests plug in scripted engines.
 */
import { OwlError } from '../errors.js';

/** An OpenAI tool call as it travels on the wire (arguments: a JSON string). */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One conversation message in OpenAI's shape (content parts already joined into a string). */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: string | null;
  name?: string;
  /** DeepSeek/vLLM extension: the assistant's reasoning, sent back by clients on later turns. */
  reasoning_content?: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
}

export interface ToolSpec {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean };
}

/** Sampling knobs as the request gave them (undefined: the model's generation_config default). */
export interface SamplingRequest {
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  repetitionPenalty?: number;
  seed?: number;
}

interface GenerationLimits {
  /** Undefined: up to the end of the context. */
  maxTokens?: number;
  stop: string[];
  sampling: SamplingRequest;
}

export interface ChatRequest extends GenerationLimits {
  messages: ChatMessage[];
  /** Tools the template should offer (already narrowed by tool_choice). */
  tools?: ToolSpec[];
  /** chat_template_kwargs plus reasoning_effort, passed to the chat template as variables. */
  templateKwargs: Record<string, unknown>;
}

export interface CompletionRequest extends GenerationLimits {
  /** Raw text (tokenized without a chat template) or token ids. */
  prompt: string | number[];
}

/** Part of one tool call; the first delta of an index carries its name (and id when the parser has one). */
export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  arguments?: string;
}

export interface Delta {
  reasoning?: string;
  content?: string;
  toolCalls?: ToolCallDelta[];
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export interface Summary {
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens whose KV cache was reused from the previous request. */
  cachedTokens?: number;
  prefillMs?: number;
  decodeMs?: number;
  /** Output the parser could not make sense of (kept as content), for the logs. */
  warnings?: string[];
}

export type EngineEvent = { type: 'delta'; delta: Delta } | { type: 'done'; summary: Summary };

export interface ChatEngine {
  readonly modelId: string;
  /** Unix seconds (the `created` of /v1/models). */
  readonly created: number;
  /** Positions the model can attend to (prompt + completion). */
  readonly contextLength: number;
  /**
   * One generation. Must end with exactly one `done` event unless it throws; stops promptly (throwing
   * or ending) once `signal` aborts. An OwlError thrown before the first delta is the request's fault (400).
   */
  chat(req: ChatRequest, signal: AbortSignal): AsyncIterable<EngineEvent>;
  complete(req: CompletionRequest, signal: AbortSignal): AsyncIterable<EngineEvent>;
  close?(): void | Promise<void>;
}

/** A request the engine cannot serve as given (prompt too long, template refused it): answered with 400. */
export class EngineRequestError extends OwlError {
  override name = 'EngineRequestError';
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

/** The standard message for a prompt that does not fit (vLLM's wording, which clients grep for). */
export function contextLengthError(contextLength: number, promptTokens: number, maxTokens: number | undefined): EngineRequestError {
  const asked = maxTokens === undefined ? `${promptTokens} tokens in the prompt` : `${promptTokens + maxTokens} tokens (${promptTokens} in the prompt, ${maxTokens} in the completion)`;
  return new EngineRequestError(
    `This model's maximum context length is ${contextLength} tokens. However, you requested ${asked}. Please reduce the length of the prompt or max_tokens.`,
    maxTokens === undefined ? 'messages' : 'max_tokens',
    'context_length_exceeded',
  );
}
