/** The chat-format interface: render a conversation to prompt ids, parse generated ids back. */

/** One message as the OpenAI / transformers APIs write it ({role, content, tool_calls, reasoning_content, thinking, ...}). */
export type ChatMessage = { role: string; content?: unknown } & Record<string, unknown>;

/**
 * Everything passed to `apply_chat_template` besides the messages: add_generation_prompt, tools,
 * continue_final_message, and template kwargs (enable_thinking, reasoning_effort, builtin_tools, ...).
 */
export type ChatKwargs = Record<string, unknown>;

export interface RenderOptions {
  /** "YYYY-MM-DD": the date `strftime_now` and Harmony's "Current date:" use (default: today). */
  date?: string;
}

export interface RenderedChat {
  text: string;
  /**
   * The prompt ids. Control tokens come only from the template: control-token text inside message
   * content is encoded as plain text. Without such text, equal to transformers' ids.
   */
  ids: number[];
}

export interface ToolCall {
  /** Position among this output's tool calls (0, 1, ...). */
  index: number;
  name: string;
  /** The arguments as JSON text. */
  arguments: string;
}

/** What one step of parsing adds. Fields are present only when they have something. */
export interface ChatDelta {
  reasoning?: string;
  content?: string;
  toolCalls?: ToolCall[];
  warnings?: string[];
}

/** The whole parsed output so far. */
export interface ParsedOutput {
  reasoning: string;
  content: string;
  toolCalls: ToolCall[];
  /** Malformed output that was degraded to content, or ignored, with what happened. */
  warnings: string[];
  /** A stop token was seen (later ids are ignored). */
  stopped: boolean;
}

/** Streaming parser of generated ids: feed ids one at a time, forward the deltas. Never throws on model output. */
export interface OutputParser {
  push(id: number): ChatDelta;
  /** End of generation: flushes what is held back (partial characters, unterminated blocks). */
  finish(): ChatDelta;
  result(): ParsedOutput;
}

export interface ChatFormat {
  readonly kind: 'jinja' | 'harmony';
  render(messages: ChatMessage[], kwargs?: ChatKwargs, options?: RenderOptions): RenderedChat;
  /** A parser for the reply to `prompt` (it tells whether the template already opened a think block or a header). */
  parser(prompt?: RenderedChat | string): OutputParser;
  /** Ids that end generation. */
  readonly stopTokens: readonly number[];
}
