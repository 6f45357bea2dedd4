/** Test doubles and helpers for the server tests: a controllable fake engine, a started server, raw requests. */
import OpenAI from 'openai';
import { createServer, type OwlServer, type ServerOptions } from '../src/server/app.js';
import type { Backend } from '../src/backend/backend.js';
import type { ModelSpec } from '../src/config/spec.js';
import type { LayerCache } from '../src/models/blocks/kv-cache.js';
import { ModelCache, type CausalLM, type ForwardOptions } from '../src/models/decoder.js';
import type { Tokenizer } from '../src/tokenizer/types.js';
import { contextLengthError, type ChatEngine, type ChatRequest, type CompletionRequest, type Delta, type EngineEvent } from '../src/server/engine.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Engine double: answers "echo: <last user text>" one word per delta, with commands in the user text:
 * "LONG n" streams n words, "FAIL_EARLY" throws before any output, "FAIL_LATE" throws mid-stream.
 * It counts what it does so tests can check cancellation and that only one generation runs at a time.
 */
export class FakeEngine implements ChatEngine {
  readonly modelId = 'fake-model';
  readonly created = 1_700_000_000;
  readonly contextLength = 4096;
  tokensProduced = 0;
  cancelled = 0;
  active = 0;
  maxActive = 0;
  started = 0;
  lastChat: ChatRequest | null = null;

  constructor(public delayMs = 0) {}

  chat(req: ChatRequest, signal: AbortSignal): AsyncIterable<EngineEvent> {
    this.lastChat = req;
    const user = [...req.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
    return this.run(user, req.maxTokens, signal, JSON.stringify(req.messages).length);
  }

  complete(req: CompletionRequest, signal: AbortSignal): AsyncIterable<EngineEvent> {
    const text = typeof req.prompt === 'string' ? req.prompt : req.prompt.join(' ');
    return this.run(text, req.maxTokens, signal, text.length);
  }

  private async *run(text: string, maxTokens: number | undefined, signal: AbortSignal, promptTokens: number): AsyncGenerator<EngineEvent> {
    this.started++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      if (promptTokens >= this.contextLength) throw contextLengthError(this.contextLength, promptTokens, maxTokens);
      if (text.includes('FAIL_EARLY')) throw new Error('engine exploded before the first token');
      const long = /LONG (\d+)/.exec(text);
      const words = long ? Array.from({ length: Number(long[1]) }, (_, i) => `w${i}`) : ['echo:', ...text.split(/\s+/).filter(Boolean)];
      let n = 0;
      for (const w of words) {
        if (maxTokens !== undefined && n >= maxTokens) break;
        if (this.delayMs) await sleep(this.delayMs);
        else await new Promise((r) => setImmediate(r));
        if (signal.aborted) {
          this.cancelled++;
          throw signal.reason;
        }
        if (text.includes('FAIL_LATE') && n === 2) throw new Error('engine exploded mid-stream');
        n++;
        this.tokensProduced++;
        const delta: Delta = { content: n === 1 ? w : ` ${w}` };
        yield { type: 'delta', delta };
      }
      yield { type: 'done', summary: { finishReason: maxTokens !== undefined && n >= maxTokens && n < words.length ? 'length' : 'stop', promptTokens, completionTokens: n } };
    } finally {
      this.active--;
    }
  }
}

export interface Running {
  server: OwlServer;
  base: string;
  client: OpenAI;
  close(): Promise<void>;
}

export async function startServer(engine: ChatEngine, opts: ServerOptions = {}): Promise<Running> {
  const server = await createServer(engine, opts);
  const { port } = await server.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${port}`;
  const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: opts.apiKey ?? 'unused', maxRetries: 0, timeout: 60_000 });
  return { server, base, client, close: () => server.shutdown(1000) };
}

/** POST a raw body (string) and return status, headers and parsed JSON (or text). */
export async function post(base: string, path: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(base + path, { method: 'POST', body, headers });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, json: json as { error?: { message: string; type: string; param: string | null; code: string | null } } & Record<string, unknown>, text };
}

/** Parse an SSE body into its data payloads. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((b) => b.startsWith('data: '))
    .map((b) => b.slice(6));
}

/**
 * A model that "says" a scripted reply through the real tokenizer: after each prompt it looks at the
 * decoded prompt, asks `respond` for the reply text, and puts all the logit mass on that reply's next
 * token (then EOS). Everything else — chat template, sampling, stop handling, output parsing — is real.
 */
export class ScriptedModel implements CausalLM {
  readonly backend = null as unknown as Backend;
  /** Decoded prompt of every generation, in order. */
  readonly prompts: string[] = [];
  private script: number[] = [];
  private pos = 0;
  private lastEmitted = -1;
  private lastLength = -1;

  constructor(
    readonly spec: ModelSpec,
    private readonly tokenizer: Tokenizer,
    private readonly respond: (prompt: string) => string,
    private readonly eos = spec.eosTokenIds[0]!,
  ) {}

  newCache(): ModelCache {
    return new ModelCache([new IdsCache()]);
  }

  forward(ids: ArrayLike<number>, cache: ModelCache, _opts?: ForwardOptions): Float32Array {
    const layer = cache.layers[0] as IdsCache;
    const step = ids.length === 1 && ids[0] === this.lastEmitted && layer.length === this.lastLength;
    layer.ids.push(...Array.from(ids));
    if (step) this.pos++;
    else {
      const prompt = this.tokenizer.decode(layer.ids);
      this.script = this.tokenizer.encode(this.respond(prompt));
      this.pos = 0;
      this.prompts.push(prompt);
    }
    this.lastEmitted = this.script[this.pos] ?? this.eos;
    this.lastLength = layer.length;
    const logits = new Float32Array(this.spec.vocabSize);
    logits[this.lastEmitted] = 1000;
    return logits;
  }
}

/** A KV cache that only remembers token ids (what ScriptedModel needs). */
class IdsCache implements LayerCache {
  ids: number[] = [];
  get length() {
    return this.ids.length;
  }
  append(): never {
    throw new Error('IdsCache holds ids only');
  }
  canTruncate() {
    return true;
  }
  truncate(len: number) {
    this.ids.length = Math.min(len, this.ids.length);
    return true;
  }
  allocatedBytes() {
    return 0;
  }
  release() {}
  bytesPerToken() {
    return 0;
  }
}
