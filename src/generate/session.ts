/**
 * A loaded model ready to talk: model + tokenizer + chat format + generation defaults, one KV cache
 * kept across calls so a multi-turn chat only prefills what is new. Browser-safe; node/session.ts
 * loads one from a model folder.
 */
import type { ModelSpec } from '../config/spec.js';
import { OwlError } from '../errors.js';
import type { CausalLM } from '../models/decoder.js';
import { CachedModel } from './cached-model.js';
import { defaultSampling, EMPTY_GENERATION_CONFIG, type GenerationConfig } from './defaults.js';
import { StreamingDetokenizer, type TextDecoding } from './incremental.js';
import { randomSeed } from './rng.js';
import { validateSampling, type SamplingOptions } from './sampling.js';
import { GenerationJob, GenerationStream, type ChatDelta, type OutputParser } from './stream.js';

/** What generation needs from a tokenizer (src/tokenizer's Tokenizer provides it). */
export interface TextTokenizer extends TextDecoding {
  encode(text: string): number[];
}

/** What chat needs from a chat format (src/chat provides them). */
export interface SessionChatFormat<Message = unknown, ToolCall = unknown> {
  render(messages: Message[], kwargs?: Record<string, unknown>): { text: string; ids: number[] };
  /** A fresh parser for one assistant turn. */
  parser(): OutputParser<ToolCall>;
  /** Ids that end the assistant's turn. */
  readonly stopTokens: readonly number[];
  /** Stop ids meaning "the turn ends in a tool call" (Harmony's <|call|>). */
  readonly toolCallTokens?: readonly number[];
  /** Whether the template has a thinking on/off switch (Qwen3's enable_thinking). */
  readonly thinkingSwitch?: boolean;
}

export interface GenerateOptions extends Partial<SamplingOptions> {
  /** Most tokens to generate (default: until a stop token or the context is full). */
  maxTokens?: number;
  /** Strings that end the output (not included in it); matched even when split across tokens. */
  stop?: string | string[];
  /** Extra ids that end the output. */
  stopTokens?: number[];
  /** Do not stop at the model's EOS ids (raw generation of exactly maxTokens). */
  ignoreEos?: boolean;
  /** Same seed, same settings, same prompt → same output. Default: a random seed (reported in the summary). */
  seed?: number;
  signal?: AbortSignal;
  /** Keep the cached keys/values of the common prefix with the previous call (default true). */
  reusePrefix?: boolean;
}

export interface ChatOptions extends GenerateOptions {
  /** Qwen3: thinking on (default) or off. Also selects the card's sampling defaults for that mode. */
  enableThinking?: boolean;
  /** gpt-oss: reasoning effort in the system message. */
  reasoningEffort?: 'low' | 'medium' | 'high';
  /** Tool definitions, passed to the template. */
  tools?: unknown[];
  /** Anything else the chat template reads. */
  templateKwargs?: Record<string, unknown>;
}

export interface SessionParts<Message = unknown, ToolCall = unknown> {
  model: CausalLM;
  tokenizer?: TextTokenizer;
  chatFormat?: SessionChatFormat<Message, ToolCall>;
  generationConfig?: GenerationConfig;
}

export class ChatSession<Message = unknown, ToolCall = unknown> {
  readonly model: CausalLM;
  readonly tokenizer: TextTokenizer | undefined;
  readonly chatFormat: SessionChatFormat<Message, ToolCall> | undefined;
  readonly generationConfig: GenerationConfig;
  private readonly cached: CachedModel;
  private running = false;
  private readonly lock = {
    acquire: () => {
      if (this.running) throw new OwlError('a generation is already running in this session (one at a time: they share the KV cache)');
      this.running = true;
    },
    release: () => {
      this.running = false;
    },
  };

  constructor(parts: SessionParts<Message, ToolCall>) {
    this.model = parts.model;
    this.tokenizer = parts.tokenizer;
    this.chatFormat = parts.chatFormat;
    this.generationConfig = parts.generationConfig ?? EMPTY_GENERATION_CONFIG;
    this.cached = new CachedModel(parts.model);
  }

  get spec(): ModelSpec {
    return this.model.spec;
  }

  /** Token ids whose keys/values are cached from the previous call. */
  get cachedIds(): readonly number[] {
    return this.cached.cachedIds;
  }

  /** Forget the cached conversation. */
  reset(): void {
    if (this.running) throw new OwlError('cannot reset while a generation is running');
    this.cached.reset();
  }

  /** The chat prompt as text and ids. */
  render(messages: Message[], options: ChatOptions = {}): { text: string; ids: number[] } {
    return this.requireChat().render(messages, this.templateKwargs(options));
  }

  /** Stream the assistant's answer to `messages`. */
  chat(messages: Message[], options: ChatOptions = {}): GenerationStream<ToolCall> {
    const format = this.requireChat();
    const { ids } = format.render(messages, this.templateKwargs(options));
    const thinking = format.thinkingSwitch ? options.enableThinking !== false : undefined;
    const stopTokens = [...format.stopTokens, ...this.eosIds()];
    return this.start(ids, format.parser(), options, { thinking, stopTokens, toolCallTokens: format.toolCallTokens ?? [] });
  }

  /** Continue raw text (no chat template). */
  complete(prompt: string, options: GenerateOptions = {}): GenerationStream<ToolCall> {
    const tokenizer = this.requireTokenizer();
    return this.generate(tokenizer.encode(prompt), options);
  }

  /** Continue token ids; deltas carry text when there is a tokenizer (summary.tokens has the ids either way). */
  generate(ids: number[], options: GenerateOptions = {}): GenerationStream<ToolCall> {
    for (const id of ids)
      if (!(Number.isInteger(id) && id >= 0 && id < this.spec.vocabSize))
        throw new OwlError(`token id ${id} is outside the vocabulary (0..${this.spec.vocabSize - 1})`);
    const detok = this.tokenizer ? new StreamingDetokenizer(this.tokenizer) : null;
    const parser: OutputParser<ToolCall> = {
      push: (id) => (detok ? [{ content: detok.push(id) }] : []),
      finish: () => (detok ? [{ content: detok.flush() }] : []),
    };
    return this.start(ids, parser, options, { thinking: undefined, stopTokens: this.eosIds(), toolCallTokens: [] });
  }

  /** The sampling settings a call with these options would use. */
  samplingFor(options: ChatOptions = {}, thinking?: boolean): SamplingOptions {
    const picked: Partial<SamplingOptions> = {};
    for (const key of SAMPLING_KEYS) if (options[key] !== undefined) (picked as Record<string, number>)[key] = options[key];
    validateSampling(picked);
    const base = defaultSampling({ family: this.spec.family, generationConfig: this.generationConfig, thinking });
    return { ...base, ...picked };
  }

  /** EOS ids of config.json and generation_config.json. */
  eosIds(): number[] {
    return [...new Set([...this.spec.eosTokenIds, ...this.generationConfig.eosTokenIds])];
  }

  private start(
    ids: number[],
    parser: OutputParser<ToolCall>,
    o: GenerateOptions,
    mode: { thinking: boolean | undefined; stopTokens: number[]; toolCallTokens: readonly number[] },
  ): GenerationStream<ToolCall> {
    if (o.maxTokens !== undefined && !(Number.isInteger(o.maxTokens) && o.maxTokens >= 0))
      throw new OwlError(`maxTokens must be an integer >= 0, got ${o.maxTokens}`);
    if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) throw new OwlError(`seed must be an integer, got ${o.seed}`);
    const stops = o.stop === undefined ? [] : typeof o.stop === 'string' ? [o.stop] : o.stop;
    const stopTokens = new Set([...(o.ignoreEos ? [] : mode.stopTokens), ...(o.stopTokens ?? [])]);
    const job = new GenerationJob<ToolCall>(
      this.cached,
      ids,
      parser,
      {
        sampling: this.samplingFor(o, mode.thinking),
        seed: o.seed ?? randomSeed(),
        maxTokens: o.maxTokens ?? this.generationConfig.maxNewTokens,
        stopStrings: stops,
        stopTokens,
        toolCallTokens: new Set(mode.toolCallTokens),
        signal: o.signal,
        reusePrefix: o.reusePrefix !== false,
      },
      this.lock,
    );
    return new GenerationStream<ToolCall>(job);
  }

  private templateKwargs(o: ChatOptions): Record<string, unknown> {
    const kw: Record<string, unknown> = { add_generation_prompt: true, ...o.templateKwargs };
    if (o.enableThinking !== undefined) kw.enable_thinking = o.enableThinking;
    if (o.reasoningEffort !== undefined) kw.reasoning_effort = o.reasoningEffort;
    if (o.tools !== undefined) kw.tools = o.tools;
    return kw;
  }

  private requireChat(): SessionChatFormat<Message, ToolCall> {
    if (!this.chatFormat) throw new OwlError(`${this.spec.name} has no chat template (copy one into the model folder, e.g. owl init --tokenizer DIR)`);
    return this.chatFormat;
  }

  private requireTokenizer(): TextTokenizer {
    if (!this.tokenizer) throw new OwlError(`${this.spec.name} has no tokenizer.json (copy one into the model folder, e.g. owl init --tokenizer DIR)`);
    return this.tokenizer;
  }
}

const SAMPLING_KEYS = ['temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'presencePenalty', 'frequencyPenalty'] as const;

export type { ChatDelta };
