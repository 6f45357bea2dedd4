/**
 * Engine events -> OpenAI response objects: chat.completion, chat.completion.chunk, text_completion
 * (streamed or not), and usage. One `Reply` per request keeps ids, tool-call indexes and totals.
 */
import { randomBytes } from 'node:crypto';
import type { Delta, FinishReason, Summary, ToolCall } from './engine.js';
import { newToolCallId } from './requests.js';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

export function usageOf(s: Summary): Usage {
  const u: Usage = { prompt_tokens: s.promptTokens, completion_tokens: s.completionTokens, total_tokens: s.promptTokens + s.completionTokens };
  if (s.cachedTokens !== undefined) u.prompt_tokens_details = { cached_tokens: s.cachedTokens };
  return u;
}

interface WireToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

interface ChatDeltaWire {
  role?: 'assistant';
  content?: string;
  reasoning_content?: string;
  tool_calls?: WireToolCallDelta[];
}

abstract class Reply {
  readonly id: string;
  readonly created = Math.floor(Date.now() / 1000);

  constructor(
    prefix: string,
    readonly model: string,
    readonly includeUsage: boolean,
  ) {
    this.id = `${prefix}-${randomBytes(12).toString('hex')}`;
  }

  /** OpenAI sends usage: null on every chunk when include_usage is on, then one chunk with the totals. */
  protected chunkUsage(): { usage?: null } {
    return this.includeUsage ? { usage: null } : {};
  }
}

export class ChatReply extends Reply {
  private content = '';
  private reasoning = '';
  private readonly calls: ToolCall[] = [];
  /** Engine tool-call index -> our dense 0-based index. */
  private readonly callIndex = new Map<number, number>();

  constructor(model: string, includeUsage = false) {
    super('chatcmpl', model, includeUsage);
  }

  /** Fold one engine delta into the totals and return it in wire form (null when it carries nothing). */
  add(d: Delta): ChatDeltaWire | null {
    const out: ChatDeltaWire = {};
    if (d.reasoning) {
      this.reasoning += d.reasoning;
      out.reasoning_content = d.reasoning;
    }
    if (d.content) {
      this.content += d.content;
      out.content = d.content;
    }
    for (const tc of d.toolCalls ?? []) {
      let index = this.callIndex.get(tc.index);
      let wire: WireToolCallDelta;
      if (index === undefined) {
        index = this.calls.length;
        this.callIndex.set(tc.index, index);
        this.calls.push({ id: tc.id ?? newToolCallId(), type: 'function', function: { name: tc.name ?? '', arguments: '' } });
        const call = this.calls[index]!;
        wire = { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: tc.arguments ?? '' } };
      } else {
        if (!tc.arguments) continue;
        wire = { index, function: { arguments: tc.arguments } };
      }
      this.calls[index]!.function.arguments += tc.arguments ?? '';
      (out.tool_calls ??= []).push(wire);
    }
    return Object.keys(out).length ? out : null;
  }

  /** A tool call turns the model's normal stop into finish_reason "tool_calls", as OpenAI reports it. */
  finishReason(s: Summary): FinishReason {
    return s.finishReason === 'stop' && this.calls.length > 0 ? 'tool_calls' : s.finishReason;
  }

  chunk(delta: ChatDeltaWire, finishReason: FinishReason | null = null) {
    return {
      id: this.id,
      object: 'chat.completion.chunk' as const,
      created: this.created,
      model: this.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...this.chunkUsage(),
    };
  }

  /** The opening chunk: OpenAI's first delta carries the role. */
  roleChunk() {
    return this.chunk({ role: 'assistant', content: '' });
  }

  finalChunks(s: Summary): object[] {
    const out: object[] = [this.chunk({}, this.finishReason(s))];
    if (this.includeUsage) out.push({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: usageOf(s) });
    return out;
  }

  completion(s: Summary) {
    const message: { role: 'assistant'; content: string | null; reasoning_content?: string; tool_calls?: ToolCall[] } = {
      role: 'assistant',
      content: this.content === '' && this.calls.length ? null : this.content,
    };
    if (this.reasoning) message.reasoning_content = this.reasoning;
    if (this.calls.length) message.tool_calls = this.calls;
    return {
      id: this.id,
      object: 'chat.completion' as const,
      created: this.created,
      model: this.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: this.finishReason(s) }],
      usage: usageOf(s),
    };
  }
}

export class CompletionReply extends Reply {
  private text = '';

  constructor(model: string, includeUsage = false) {
    super('cmpl', model, includeUsage);
  }

  /** Completions have no channels: reasoning (if an engine reports any) is text like the rest. */
  add(d: Delta): string {
    const t = (d.reasoning ?? '') + (d.content ?? '');
    this.text += t;
    return t;
  }

  chunk(text: string, finishReason: FinishReason | null = null) {
    return {
      id: this.id,
      object: 'text_completion' as const,
      created: this.created,
      model: this.model,
      choices: [{ index: 0, text, logprobs: null, finish_reason: finishReason }],
      ...this.chunkUsage(),
    };
  }

  finalChunks(s: Summary): object[] {
    const out: object[] = [this.chunk('', s.finishReason)];
    if (this.includeUsage) out.push({ id: this.id, object: 'text_completion', created: this.created, model: this.model, choices: [], usage: usageOf(s) });
    return out;
  }

  completion(s: Summary) {
    return {
      id: this.id,
      object: 'text_completion' as const,
      created: this.created,
      model: this.model,
      choices: [{ index: 0, text: this.text, logprobs: null, finish_reason: s.finishReason }],
      usage: usageOf(s),
    };
  }
}
