/**
 * A loaded model ready to talk: model + tokenizer + chat format + generation defaults, one KV cache
 * kept across calls so a multi-turn chat only prefills what is new. Browser-safe; node/session.ts
 * loads one from a model folder.
 */
import type { ChatFormat, ChatMessage, OutputParser, ParsedOutput, RenderedChat } from '../chat/types.js';
import type { ModelSpec } from '../config/spec.js';
import { OwlError } from '../errors.js';
import type { CausalLM } from '../models/decoder.js';
import { IncrementalDecoder } from '../tokenizer/incremental.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { CachedModel } from './cached-model.js';
import { defaultSampling, EMPTY_GENERATION_CONFIG, type GenerationConfig } from './defaults.js';
import { randomSeed } from './rng.js';
import { validateSampling, type SamplingOptions } from './sampling.js';
import { GenerationJob, GenerationStream, type GenerationSummary } from './stream.js';

export interface GenerateOptions extends Partial<SamplingOptions> {
  /** Most tokens to generate (default: until a stop token or the context is full). */
  maxTokens?: number;
  /** Strings that end the output (not included in it); matched in the content (not the reasoning), even split across tokens. */
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

export interface SessionParts {
  model: CausalLM;
  tokenizer?: Tokenizer;
  chatFormat?: ChatFormat;
  /** generation_config.json, parsed (sampling defaults, extra EOS ids). */
  generationConfig?: GenerationConfig;
  /** The chat template's source when it is not the tokenizer's own (to see which switches it has). */
  templateSource?: string;
}

/** The switches a chat format offers (what `owl chat` can toggle). */
export interface ChatFeatures {
  /** Qwen3's enable_thinking. */
  thinkingSwitch: boolean;
  /** gpt-oss's reasoning_effort. */
  reasoningEffort: boolean;
}

export class ChatSession {
  readonly model: CausalLM;
  readonly tokenizer: Tokenizer | undefined;
  readonly chatFormat: ChatFormat | undefined;
  readonly generationConfig: GenerationConfig;
  readonly features: ChatFeatures;
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

  constructor(parts: SessionParts) {
    this.model = parts.model;
    this.tokenizer = parts.tokenizer;
    this.chatFormat = parts.chatFormat;
    this.generationConfig = parts.generationConfig ?? EMPTY_GENERATION_CONFIG;
    this.cached = new CachedModel(parts.model);
    const source = parts.templateSource ?? Object.values(parts.tokenizer?.chatTemplates ?? {}).join('\n');
    const kind = parts.chatFormat?.kind;
    this.features = {
      thinkingSwitch: kind === 'jinja' && source.includes('enable_thinking'),
      reasoningEffort: kind === 'harmony' || (kind === 'jinja' && source.includes('reasoning_effort')),
    };
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
  render(messages: ChatMessage[], options: ChatOptions = {}): RenderedChat {
    return this.requireChat().render(messages, this.templateKwargs(options));
  }

  /** Stream the assistant's answer to `messages`. */
  chat(messages: ChatMessage[], options: ChatOptions = {}): GenerationStream {
    const format = this.requireChat();
    const kwargs = this.templateKwargs(options);
    const prompt = format.render(messages, kwargs);
    // The mode picks Qwen3's sampling defaults, however the switch was given.
    const thinking = this.features.thinkingSwitch ? kwargs.enable_thinking !== false : undefined;
    return this.start(prompt.ids, format.parser(prompt), options, { thinking, stopTokens: [...format.stopTokens, ...this.eosIds()] });
  }

  /** Continue raw text (no chat template). */
  complete(prompt: string, options: GenerateOptions = {}): GenerationStream {
    return this.generate(this.requireTokenizer().encode(prompt), options);
  }

  /** Continue token ids; deltas carry text when there is a tokenizer (summary.tokens has the ids either way). */
  generate(ids: number[], options: GenerateOptions = {}): GenerationStream {
    for (const id of ids)
      if (!(Number.isInteger(id) && id >= 0 && id < this.spec.vocabSize))
        throw new OwlError(`token id ${id} is outside the vocabulary (0..${this.spec.vocabSize - 1})`);
    const stopTokens = this.eosIds();
    return this.start(ids, new TextParser(this.tokenizer, new Set(options.ignoreEos ? [] : stopTokens)), options, { thinking: undefined, stopTokens });
  }

  /**
   * The assistant message to append to the conversation after a reply, in the shape this chat
   * format's template reads (reasoning as `thinking` for Harmony, `reasoning_content` otherwise).
   */
  assistantMessage(reply: Pick<GenerationSummary, 'content' | 'reasoning' | 'toolCalls'>): ChatMessage {
    const m: ChatMessage = { role: 'assistant', content: reply.content };
    if (reply.toolCalls.length)
      m.tool_calls = reply.toolCalls.map((c) => ({ type: 'function', function: { name: c.name, arguments: jsonOrText(c.arguments) } }));
    if (reply.reasoning) {
      // Harmony refuses a tool-call message with both content and thinking.
      if (this.chatFormat?.kind === 'harmony') {
        if (!(reply.toolCalls.length && reply.content)) m.thinking = reply.reasoning;
      } else m.reasoning_content = reply.reasoning;
    }
    return m;
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
    parser: OutputParser,
    o: GenerateOptions,
    mode: { thinking: boolean | undefined; stopTokens: number[] },
  ): GenerationStream {
    if (o.maxTokens !== undefined && !(Number.isInteger(o.maxTokens) && o.maxTokens >= 0))
      throw new OwlError(`maxTokens must be an integer >= 0, got ${o.maxTokens}`);
    if (o.seed !== undefined && !Number.isSafeInteger(o.seed)) throw new OwlError(`seed must be an integer, got ${o.seed}`);
    const stops = o.stop === undefined ? [] : typeof o.stop === 'string' ? [o.stop] : o.stop;
    const stopTokens = new Set([...(o.ignoreEos ? [] : mode.stopTokens), ...(o.stopTokens ?? [])]);
    const job = new GenerationJob(
      this.cached,
      ids,
      parser,
      {
        sampling: this.samplingFor(o, mode.thinking),
        seed: o.seed ?? randomSeed(),
        maxTokens: o.maxTokens ?? this.generationConfig.maxNewTokens,
        stopStrings: stops,
        stopTokens,
        signal: o.signal,
        reusePrefix: o.reusePrefix !== false,
      },
      this.lock,
    );
    return new GenerationStream(job);
  }

  private templateKwargs(o: ChatOptions): Record<string, unknown> {
    const kw: Record<string, unknown> = { add_generation_prompt: true, ...o.templateKwargs };
    if (o.enableThinking !== undefined) kw.enable_thinking = o.enableThinking;
    if (o.reasoningEffort !== undefined) kw.reasoning_effort = o.reasoningEffort;
    if (o.tools !== undefined) kw.tools = o.tools;
    return kw;
  }

  private requireChat(): ChatFormat {
    if (!this.chatFormat) throw new OwlError(`${this.spec.name} has no chat template (copy one into the model folder, e.g. owl init --tokenizer DIR)`);
    return this.chatFormat;
  }

  private requireTokenizer(): Tokenizer {
    if (!this.tokenizer) throw new OwlError(`${this.spec.name} has no tokenizer.json (copy one into the model folder, e.g. owl init --tokenizer DIR)`);
    return this.tokenizer;
  }
}

/** Templates render tool-call arguments given as objects (a string would be quoted again by tojson). */
function jsonOrText(args: string): unknown {
  try {
    return JSON.parse(args);
  } catch {
    return args;
  }
}

const SAMPLING_KEYS = ['temperature', 'topK', 'topP', 'minP', 'repetitionPenalty', 'presencePenalty', 'frequencyPenalty'] as const;

/** Plain detokenisation as an output parser: every token is content (stop tokens are left out). */
class TextParser implements OutputParser {
  private readonly decoder: IncrementalDecoder | null;
  private content = '';

  constructor(
    tokenizer: Tokenizer | undefined,
    private readonly stopTokens: ReadonlySet<number>,
  ) {
    this.decoder = tokenizer ? new IncrementalDecoder(tokenizer) : null;
  }

  push(id: number) {
    return this.text(this.decoder && !this.stopTokens.has(id) ? this.decoder.push(id) : '');
  }

  finish() {
    return this.text(this.decoder?.flush() ?? '');
  }

  result(): ParsedOutput {
    return { reasoning: '', content: this.content, toolCalls: [], warnings: [], stopped: false };
  }

  private text(t: string) {
    this.content += t;
    return t ? { content: t } : {};
  }
}
