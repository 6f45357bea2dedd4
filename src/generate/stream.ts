/**
 * The generation loop: prefill (reusing the cached prefix), then sample → parse → stop checks →
 * step, yielding text deltas as an async iterator and ending with a summary. Browser-safe.
 */
import type { ChatDelta as ParsedDelta, OutputParser, ToolCall } from '../chat/types.js';
import { OwlError } from '../errors.js';
import { AbortedError, type CachedModel, yieldToEventLoop } from './cached-model.js';
import { createRng } from './rng.js';
import { Sampler, type SamplingOptions } from './sampling.js';
import { StopStringMatcher } from './stop.js';

/** One piece of streamed output (OpenAI's delta fields). */
export interface StreamDelta {
  reasoning?: string;
  content?: string;
  tool_calls?: ToolCall[];
}

/**
 * 'stop': an EOS/stop token or stop string; 'length': maxTokens or the context limit;
 * 'tool_calls': the model ended its turn to call a tool; 'abort': cancelled (signal or the reader stopped).
 */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'abort';

export interface GenerationSummary {
  finishReason: FinishReason;
  /** What ended it: a stop token id, a stop string, or null. */
  stoppedBy: { token: number } | { string: string } | null;
  /** Every generated id, the final stop token included. */
  tokens: number[];
  content: string;
  reasoning: string;
  toolCalls: ToolCall[];
  /** The output parser's notes on malformed output (kept as content or ignored). */
  warnings: string[];
  usage: {
    /** Tokens in the prompt. */
    promptTokens: number;
    /** Prompt tokens whose keys/values came from the previous call (prefix reuse). */
    reusedTokens: number;
    /** Prompt tokens run through the model this call (promptTokens - reusedTokens). */
    prefillTokens: number;
    completionTokens: number;
  };
  timings: {
    prefillMs: number;
    /** From the end of the prefill to the last token. */
    decodeMs: number;
    totalMs: number;
    prefillTokensPerSecond: number;
    /** Forward steps (generated tokens fed back) per second of decodeMs. */
    decodeTokensPerSecond: number;
  };
  sampling: SamplingOptions;
  /** The seed actually used (pass it back to repeat a sampled run). */
  seed: number;
}

/** Fully resolved settings of one generation (see session.ts for the user-facing options). */
export interface GenerationSettings {
  sampling: SamplingOptions;
  seed: number;
  /** Undefined: until EOS or the context is full. */
  maxTokens: number | undefined;
  stopStrings: string[];
  stopTokens: ReadonlySet<number>;
  signal: AbortSignal | undefined;
  reusePrefix: boolean;
}

/** An async iterator of deltas; `summary` resolves when the run ends (also when the reader breaks out early). */
export class GenerationStream implements AsyncIterable<StreamDelta> {
  readonly summary: Promise<GenerationSummary>;
  private settle!: { resolve: (s: GenerationSummary) => void; reject: (e: unknown) => void };
  private started = false;

  constructor(private readonly job: GenerationJob) {
    this.summary = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Readers who only iterate must not get an unhandled rejection: the iterator throws too.
    this.summary.catch(() => {});
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamDelta> {
    if (this.started) throw new OwlError('a generation stream can be read only once');
    this.started = true;
    let finished = false;
    try {
      yield* this.job.run();
      finished = true;
      this.settle.resolve(this.job.summarise());
    } catch (e) {
      finished = true;
      if (e instanceof AbortedError) this.settle.resolve(this.job.summarise('abort'));
      else {
        this.settle.reject(e);
        throw e;
      }
    } finally {
      if (!finished) this.settle.resolve(this.job.summarise('abort'));
      this.job.release();
    }
  }

  /** Read to the end (if nobody else is reading) and return the summary. */
  async result(): Promise<GenerationSummary> {
    if (!this.started) for await (const _ of this);
    return this.summary;
  }

  /** Read to the end and return the final content. */
  async text(): Promise<string> {
    return (await this.result()).content;
  }
}

/** One generation's state; `run` yields deltas, `summarise` describes where it got to. */
export class GenerationJob {
  private readonly t0 = performance.now();
  private tPrefill = NaN;
  private tEnd = NaN;
  private reused = 0;
  /** Generated tokens fed back through the model. */
  private steps = 0;
  private finish: FinishReason = 'abort';
  private stoppedBy: GenerationSummary['stoppedBy'] = null;
  private readonly tokens: number[] = [];
  private content = '';
  private reasoning = '';
  private readonly toolCalls: ToolCall[] = [];
  private readonly warnings: string[] = [];

  constructor(
    private readonly model: CachedModel,
    private readonly prompt: readonly number[],
    private readonly parser: OutputParser,
    private readonly s: GenerationSettings,
    /** The session's lock: one run at a time per KV cache. */
    private readonly lock: { acquire(): void; release(): void } = { acquire() {}, release() {} },
  ) {}

  private locked = false;

  /** Called once when the run ends, however it ends. */
  release(): void {
    if (this.locked) this.lock.release();
    this.locked = false;
  }

  async *run(): AsyncGenerator<StreamDelta, void> {
    const { s } = this;
    this.lock.acquire();
    this.locked = true;
    if (s.signal?.aborted) throw new AbortedError('generation cancelled before it started');
    const pre = await this.model.prefill(this.prompt, { signal: s.signal, noReuse: !s.reusePrefix });
    this.tPrefill = performance.now();
    this.reused = pre.reused;
    const room = this.model.contextLength - this.prompt.length;
    const limit = Math.min(room, s.maxTokens ?? Infinity);
    const sampler = new Sampler(s.sampling, createRng(s.seed));
    sampler.observePrompt(this.prompt);
    const stopper = new StopStringMatcher(s.stopStrings);
    let logits = pre.logits;
    this.finish = 'length';
    while (this.tokens.length < limit) {
      const id = sampler.pick(logits);
      sampler.accept(id);
      this.tokens.push(id);
      this.tEnd = performance.now();
      // The parser sees stop tokens too: some are markers (Harmony's <|call|> closes a tool call).
      const delta = this.filter(this.parser.push(id), stopper);
      if (delta) yield delta;
      if (s.stopTokens.has(id)) {
        [this.finish, this.stoppedBy] = ['stop', { token: id }];
        break;
      }
      if (stopper.stopped) {
        [this.finish, this.stoppedBy] = ['stop', { string: stopper.matched! }];
        break;
      }
      if (this.tokens.length >= limit) break;
      await yieldToEventLoop();
      if (s.signal?.aborted) throw new AbortedError('generation cancelled');
      logits = this.model.step(id);
      this.steps++;
    }
    if (this.tokens.length === 0) this.tEnd = performance.now();
    if (!stopper.stopped) {
      const tail = this.filter(this.parser.finish(), stopper);
      if (tail) yield tail;
      if (stopper.stopped) [this.finish, this.stoppedBy] = ['stop', { string: stopper.matched! }];
      const held = this.filter({ content: stopper.flush() }, null);
      if (held) yield held;
    }
    if (this.finish === 'stop' && this.toolCalls.length > 0 && this.stoppedBy && 'token' in this.stoppedBy) this.finish = 'tool_calls';
  }

  /** Content passes through the stop-string matcher; totals are kept; null when nothing is left to show. */
  private filter(d: ParsedDelta, stopper: StopStringMatcher | null): StreamDelta | null {
    if (stopper?.stopped) return null;
    const out: StreamDelta = {};
    if (d.warnings?.length) this.warnings.push(...d.warnings);
    if (d.reasoning) {
      out.reasoning = d.reasoning;
      this.reasoning += d.reasoning;
    }
    const content = d.content ? (stopper ? stopper.push(d.content) : d.content) : '';
    if (content) {
      out.content = content;
      this.content += content;
    }
    if (d.toolCalls?.length) {
      out.tool_calls = d.toolCalls;
      this.toolCalls.push(...d.toolCalls);
    }
    return out.reasoning || out.content || out.tool_calls ? out : null;
  }

  summarise(finish: FinishReason = this.finish): GenerationSummary {
    const now = performance.now();
    const prefillEnd = Number.isNaN(this.tPrefill) ? now : this.tPrefill;
    const end = Number.isNaN(this.tEnd) ? now : this.tEnd;
    const prefillMs = prefillEnd - this.t0;
    const decodeMs = Math.max(0, end - prefillEnd);
    const prefillTokens = Number.isNaN(this.tPrefill) ? 0 : this.prompt.length - this.reused;
    return {
      finishReason: finish,
      stoppedBy: finish === 'abort' ? null : this.stoppedBy,
      tokens: this.tokens.slice(),
      content: this.content,
      reasoning: this.reasoning,
      toolCalls: this.toolCalls.slice(),
      warnings: this.warnings.slice(),
      usage: {
        promptTokens: this.prompt.length,
        reusedTokens: this.reused,
        prefillTokens,
        completionTokens: this.tokens.length,
      },
      timings: {
        prefillMs,
        decodeMs,
        totalMs: now - this.t0,
        prefillTokensPerSecond: prefillMs > 0 ? (prefillTokens * 1000) / prefillMs : 0,
        decodeTokensPerSecond: decodeMs > 0 ? (this.steps * 1000) / decodeMs : 0,
      },
      sampling: this.s.sampling,
      seed: this.s.seed,
    };
  }
}
