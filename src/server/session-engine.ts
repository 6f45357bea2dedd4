/**
 * The real engine: a ChatSession (src/generate) behind the server's ChatEngine interface. One
 * session means one KV cache, so consecutive turns of a conversation only prefill what is new.
 */
import type { ChatMessage as FormatMessage } from '../chat/types.js';
import type { ChatOptions, ChatSession, GenerateOptions } from '../generate/session.js';
import type { GenerationStream } from '../generate/stream.js';
import { contextLengthError, EngineRequestError, type ChatEngine, type ChatRequest, type CompletionRequest, type EngineEvent, type SamplingRequest } from './engine.js';
import { toTemplateMessages, toTemplateTools } from './template-messages.js';

export class SessionEngine implements ChatEngine {
  readonly created = Math.floor(Date.now() / 1000);

  constructor(
    readonly session: ChatSession,
    readonly modelId: string,
  ) {}

  get contextLength(): number {
    return this.session.spec.maxPositions;
  }

  /** Release the backend's threads (the server calls this once it has stopped). */
  async close(): Promise<void> {
    await (this.session.model.backend as { dispose?: () => Promise<void> } | null)?.dispose?.();
  }

  chat(req: ChatRequest, signal: AbortSignal): AsyncIterable<EngineEvent> {
    const messages = toTemplateMessages(req.messages, this.session.spec.family) as FormatMessage[];
    const { enable_thinking, reasoning_effort, ...templateKwargs } = req.templateKwargs;
    const options: ChatOptions = { ...generateOptions(req, signal), templateKwargs };
    // Typed switches also pick the mode's sampling defaults (Qwen3 thinking vs not).
    if (typeof enable_thinking === 'boolean') options.enableThinking = enable_thinking;
    else if (enable_thinking !== undefined) templateKwargs.enable_thinking = enable_thinking;
    if (reasoning_effort !== undefined) options.reasoningEffort = reasoning_effort as ChatOptions['reasoningEffort'];
    const tools = toTemplateTools(req.tools);
    if (tools) options.tools = tools;
    return this.run(() => {
      // Rendering first (template errors, prompt length) keeps these 400s apart from generation failures.
      this.checkLength(this.session.render(messages, options).ids.length, req.maxTokens);
      return this.session.chat(messages, options);
    }, signal);
  }

  complete(req: CompletionRequest, signal: AbortSignal): AsyncIterable<EngineEvent> {
    return this.run(() => {
      const ids = typeof req.prompt === 'string' ? this.tokenizer().encode(req.prompt) : req.prompt;
      this.checkLength(ids.length, req.maxTokens);
      return this.session.generate(ids, generateOptions(req, signal));
    }, signal);
  }

  private tokenizer() {
    if (!this.session.tokenizer) throw new EngineRequestError(`${this.modelId} has no tokenizer.json: send the prompt as token ids`, 'prompt');
    return this.session.tokenizer;
  }

  private checkLength(promptTokens: number, maxTokens: number | undefined): void {
    const ctx = this.contextLength;
    if (promptTokens >= ctx || (maxTokens !== undefined && promptTokens + maxTokens > ctx)) throw contextLengthError(ctx, promptTokens, maxTokens);
  }

  private async *run(start: () => GenerationStream, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    const stream = start();
    for await (const d of stream) {
      const delta: EngineEvent & { type: 'delta' } = { type: 'delta', delta: {} };
      if (d.reasoning) delta.delta.reasoning = d.reasoning;
      if (d.content) delta.delta.content = d.content;
      if (d.tool_calls?.length) delta.delta.toolCalls = d.tool_calls.map((c) => ({ index: c.index, name: c.name, arguments: c.arguments }));
      yield delta;
    }
    const s = await stream.summary;
    if (s.finishReason === 'abort') throw signal.reason ?? new Error('generation cancelled');
    yield {
      type: 'done',
      summary: {
        finishReason: s.finishReason,
        promptTokens: s.usage.promptTokens,
        completionTokens: s.usage.completionTokens,
        cachedTokens: s.usage.reusedTokens,
        prefillMs: s.timings.prefillMs,
        decodeMs: s.timings.decodeMs,
        warnings: s.warnings,
      },
    };
  }
}

function generateOptions(req: { maxTokens?: number; stop: string[]; sampling: SamplingRequest }, signal: AbortSignal): GenerateOptions {
  const o: GenerateOptions = { signal, stop: req.stop, ...req.sampling };
  if (req.maxTokens !== undefined) o.maxTokens = req.maxTokens;
  return o;
}
