/**
 * The OpenAI-compatible HTTP server: routes, auth, validation, queueing, streaming (SSE) and shutdown.
 * The model is behind `ChatEngine`; nothing here knows how tokens are made.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setImmediate as yieldToIo, setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { OwlError } from '../errors.js';
import { EngineRequestError, type ChatEngine, type EngineEvent, type Summary } from './engine.js';
import { HttpError, errorBody } from './http-error.js';
import { parseChatBody, parseCompletionBody, type ChatBody, type CompletionBody, type StreamOptions } from './requests.js';
import { QueueFullError, Scheduler } from './scheduler.js';
import { chatCompletionSchema, completionSchema } from './schemas.js';
import { validationError, type AjvError } from './validation.js';
import { ChatReply, CompletionReply } from './wire.js';

export interface ServerOptions {
  /** Require `Authorization: Bearer KEY` on /v1/*. */
  apiKey?: string;
  /** Requests allowed to wait while one generates; more get 429 (default 32). */
  maxQueue?: number;
  /** Largest request body in bytes (default 4 MiB). */
  bodyLimit?: number;
  /** Longest a request may take, queueing included, in ms (default 10 minutes). */
  timeoutMs?: number;
  /** Fastify logger: false (default) or pino options; logs are JSON lines. */
  logger?: FastifyServerOptions['logger'];
}

/** Why a generation was stopped from outside. */
class StopReason extends Error {
  constructor(
    readonly kind: 'client_gone' | 'timeout' | 'shutdown',
    message: string,
  ) {
    super(message);
  }

  toHttp(): HttpError {
    return this.kind === 'timeout'
      ? new HttpError(504, this.message, 'server_error', null, 'timeout')
      : new HttpError(503, this.message, 'server_error', null, 'shutting_down');
  }
}

type Kind = 'chat' | 'completion';

export class OwlServer {
  readonly app: FastifyInstance;
  readonly scheduler: Scheduler;
  private readonly active = new Set<AbortController>();
  private readonly timeoutMs: number;
  private readonly keyHash: Buffer | null;
  private closing: Promise<void> | null = null;

  constructor(
    readonly engine: ChatEngine,
    opts: ServerOptions = {},
  ) {
    this.scheduler = new Scheduler(opts.maxQueue ?? 32);
    this.timeoutMs = opts.timeoutMs ?? 600_000;
    this.keyHash = opts.apiKey ? sha256(opts.apiKey) : null;
    this.app = Fastify({
      logger: opts.logger ?? false,
      bodyLimit: opts.bodyLimit ?? 4 * 1024 * 1024,
      // Slow senders (slowloris) cannot hold a socket: the whole request must arrive within a minute.
      requestTimeout: 60_000,
      ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allowUnionTypes: true, verbose: true } },
      return503OnClosing: true,
      // Malformed URLs are refused before routing; answer them in the same error shape.
      frameworkErrors: (err, _req, reply: FastifyReply) => {
        reply.code(400).send(errorBody(`Invalid request URL: ${err.message}`, 'invalid_request_error', null, 'invalid_url'));
      },
    });
    this.routes();
  }

  private routes(): void {
    const app = this.app;
    // curl -d sends form-encoded by default: read every body as JSON, whatever its Content-Type says.
    app.removeAllContentTypeParsers();
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) =>
      parseJson(req, body as string, (err, value) => {
        // Templates walk tool schemas and kwargs recursively: absurd nesting would overflow the stack there.
        if (!err && nestingDepth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH)
          err = new HttpError(400, `The JSON body is nested more than ${MAX_JSON_DEPTH} levels deep.`, 'invalid_request_error', null, 'invalid_json');
        done(err as Error | null, err ? undefined : value);
      }),
    );

    app.setErrorHandler((err, req, reply) => this.sendError(req, reply, err));
    app.setNotFoundHandler((req, reply) => {
      reply.code(404).send(errorBody(`Unknown request URL: ${req.method} ${req.url.split('?')[0]}.`, 'invalid_request_error', null, 'unknown_url'));
    });
    // Everything but /health needs the key, so no odd spelling of a path can slip past the check.
    app.addHook('onRequest', async (req) => {
      if (this.keyHash && req.routeOptions.url !== '/health') this.checkKey(req.headers.authorization);
    });

    app.get('/health', async () => ({
      status: this.closing ? 'shutting_down' : 'ok',
      model: this.engine.modelId,
      running: this.scheduler.running,
      waiting: this.scheduler.waiting,
      max_queue: this.scheduler.maxQueue,
    }));
    app.get('/v1/models', async () => ({ object: 'list', data: [this.modelCard()] }));
    // Model ids may hold slashes (Qwen/Qwen3-0.6B), so match the rest of the path.
    app.get<{ Params: { '*': string } }>('/v1/models/*', async (req) => {
      this.checkModel(req.params['*'], null);
      return this.modelCard();
    });
    app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { body: chatCompletionSchema } }, (req, reply) => this.generate(req, reply, 'chat'));
    app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: completionSchema } }, (req, reply) => this.generate(req, reply, 'completion'));
  }

  private modelCard() {
    return { id: this.engine.modelId, object: 'model', created: this.engine.created, owned_by: 'owl', max_model_len: this.engine.contextLength };
  }

  private checkKey(header: string | undefined): void {
    const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
    if (!m || !timingSafeEqual(sha256(m[1]!.trim()), this.keyHash!))
      throw new HttpError(401, m ? 'Incorrect API key provided.' : 'Missing API key: send it as "Authorization: Bearer KEY".', 'invalid_request_error', null, 'invalid_api_key');
  }

  private checkModel(model: string, param: string | null): void {
    if (model !== this.engine.modelId)
      throw new HttpError(404, `The model '${model}' does not exist. This server serves '${this.engine.modelId}'.`, 'invalid_request_error', param, 'model_not_found');
  }

  private sendError(req: FastifyRequest, reply: FastifyReply, err: unknown): void {
    const e = toHttpError(err);
    if (e.status >= 500) req.log.error({ err }, 'request failed');
    if (reply.sent || reply.raw.headersSent) return;
    reply.code(e.status).headers(e.headers).send(e.body());
  }

  private async generate(req: FastifyRequest<{ Body: ChatBody | CompletionBody }>, reply: FastifyReply, kind: Kind): Promise<void> {
    this.checkModel(req.body.model, 'model');
    let parsed: StreamOptions;
    let run: (signal: AbortSignal) => AsyncIterable<EngineEvent>;
    if (kind === 'chat') {
      const p = parseChatBody(req.body as ChatBody);
      [parsed, run] = [p, (signal) => this.engine.chat(p.request, signal)];
    } else {
      const p = parseCompletionBody(req.body as CompletionBody);
      [parsed, run] = [p, (signal) => this.engine.complete(p.request, signal)];
    }
    const ac = new AbortController();
    const started = performance.now();
    // A response that closes before it finished means the client left: stop its generation now.
    const onClose = () => {
      if (!reply.raw.writableFinished) ac.abort(new StopReason('client_gone', 'client disconnected'));
    };
    reply.raw.on('close', onClose);
    const timer = setTimeout(() => ac.abort(new StopReason('timeout', `The request took longer than the server's limit of ${this.timeoutMs / 1000} s.`)), this.timeoutMs);
    this.active.add(ac);
    let release: (() => void) | null = null;
    let events: AsyncIterator<EngineEvent> | null = null;
    try {
      try {
        release = await this.scheduler.acquire(ac.signal);
      } catch (e) {
        if (e instanceof QueueFullError)
          throw new HttpError(
            429,
            `The server is busy: ${this.scheduler.running} generating and ${this.scheduler.waiting} waiting (--max-queue ${this.scheduler.maxQueue}). Retry after ${e.retryAfterSeconds} s.`,
            'rate_limit_exceeded',
            null,
            'rate_limit_exceeded',
            { 'retry-after': String(e.retryAfterSeconds) },
          );
        throw e;
      }
      const queuedMs = performance.now() - started;
      events = run(ac.signal)[Symbol.asyncIterator]();
      // Nothing is sent until the engine's first event, so a prompt it refuses still gets a plain 400.
      const first = await events.next();
      const out = kind === 'chat' ? new ChatReply(this.engine.modelId, parsed.includeUsage) : new CompletionReply(this.engine.modelId, parsed.includeUsage);
      const summary = parsed.stream ? await this.stream(reply, out, first, events, ac.signal) : await this.collect(reply, out, first, events, ac.signal);
      if (summary)
        req.log.info(
          {
            kind,
            stream: parsed.stream,
            finish: summary.finishReason,
            promptTokens: summary.promptTokens,
            completionTokens: summary.completionTokens,
            cachedTokens: summary.cachedTokens,
            prefillMs: summary.prefillMs === undefined ? undefined : Math.round(summary.prefillMs),
            decodeMs: summary.decodeMs === undefined ? undefined : Math.round(summary.decodeMs),
            warnings: summary.warnings?.length ? summary.warnings : undefined,
            queuedMs: Math.round(queuedMs),
            totalMs: Math.round(performance.now() - started),
          },
          'generation done',
        );
    } catch (e) {
      const reason = ac.signal.reason;
      if (reason instanceof StopReason) {
        if (reason.kind === 'client_gone') {
          req.log.info({ kind, totalMs: Math.round(performance.now() - started) }, 'client disconnected: generation cancelled');
          // Nobody to answer: tell fastify the response is ours so it does not try to send one.
          if (!reply.sent) reply.hijack();
          return;
        }
        if (!reply.raw.headersSent) throw reason.toHttp();
        endStreamWithError(reply, reason.toHttp());
        return;
      }
      if (!reply.raw.headersSent) throw e;
      req.log.error({ err: e }, 'generation failed mid-stream');
      endStreamWithError(reply, toHttpError(e));
    } finally {
      clearTimeout(timer);
      this.active.delete(ac);
      reply.raw.off('close', onClose);
      // Let the engine unwind (its finally blocks) before the next request takes the slot.
      if (events?.return) await events.return().catch(() => undefined);
      release?.();
    }
  }

  /** Non-streaming: gather every event, answer once. */
  private async collect(reply: FastifyReply, out: ChatReply | CompletionReply, first: IteratorResult<EngineEvent>, events: AsyncIterator<EngineEvent>, signal: AbortSignal): Promise<Summary> {
    for (let r = first; ; r = await events.next()) {
      signal.throwIfAborted();
      if (r.done) throw new Error('engine ended without a summary');
      if (r.value.type === 'done') {
        reply.send(out.completion(r.value.summary));
        return r.value.summary;
      }
      out.add(r.value.delta);
      await yieldToIo(); // lets socket events (a client leaving) through between tokens
    }
  }

  /** Streaming: SSE headers once the engine has started, one chunk per delta, then [DONE]. */
  private async stream(reply: FastifyReply, out: ChatReply | CompletionReply, first: IteratorResult<EngineEvent>, events: AsyncIterator<EngineEvent>, signal: AbortSignal): Promise<Summary | null> {
    reply.hijack();
    const res = reply.raw;
    // A write racing a client that just left may fail; the 'close' handler already cancels the generation.
    res.on('error', () => {});
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = async (obj: object | string) => {
      if (!res.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`)) await drained(res, signal);
    };
    if (out instanceof ChatReply) await send(out.roleChunk());
    for (let r = first; ; r = await events.next()) {
      signal.throwIfAborted();
      if (r.done) throw new Error('engine ended without a summary');
      const ev = r.value;
      if (ev.type === 'done') {
        for (const c of out.finalChunks(ev.summary)) await send(c);
        await send('[DONE]');
        res.end();
        return ev.summary;
      }
      if (out instanceof ChatReply) {
        const d = out.add(ev.delta);
        if (d) await send(out.chunk(d));
      } else {
        const t = out.add(ev.delta);
        if (t) await send(out.chunk(t));
      }
      await yieldToIo();
    }
  }

  async listen(port = 8080, host = '127.0.0.1'): Promise<AddressInfo> {
    await this.app.listen({ port, host });
    return this.app.server.address() as AddressInfo;
  }

  /**
   * Stop accepting, refuse the queue (503), give running generations `graceMs` to finish, then
   * cancel them (their streams end with an error event). Safe to call twice; the second is immediate.
   */
  shutdown(graceMs = 10_000): Promise<void> {
    const cancelRunning = () => {
      for (const ac of this.active) ac.abort(new StopReason('shutdown', 'The server is shutting down.'));
    };
    if (this.closing) {
      cancelRunning();
      return this.closing;
    }
    this.scheduler.rejectWaiting(new HttpError(503, 'The server is shutting down.', 'server_error', null, 'shutting_down'));
    const timer = setTimeout(cancelRunning, graceMs);
    let closed = false;
    const closing = this.app.close().finally(() => (closed = true));
    // close() waits for every socket; some clients keep idle or never-used ones open for seconds.
    const dropLeftovers = async () => {
      while (this.active.size > 0 && !closed) await sleep(20);
      await sleep(100);
      if (!closed) this.app.server.closeAllConnections();
    };
    this.closing = Promise.all([closing, dropLeftovers()]).then(async () => {
      clearTimeout(timer);
      await this.engine.close?.();
    });
    return this.closing;
  }
}

export async function createServer(engine: ChatEngine, opts: ServerOptions = {}): Promise<OwlServer> {
  const server = new OwlServer(engine, opts);
  await server.app.ready();
  return server;
}

const MAX_JSON_DEPTH = 64;

/** Depth of nested arrays/objects, counted without recursion and only up to `limit` + 1. */
function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > deepest) deepest = d + 1;
    if (deepest > limit) return deepest;
    for (const child of Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
  }
  return deepest;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Any thrown value -> the HTTP error to answer with (fastify's own errors keep their status). */
function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof StopReason) return err.toHttp();
  const e = err as { validation?: AjvError[]; validationContext?: string; statusCode?: number; code?: string; message?: string };
  if (e?.validation) return validationError(e.validation, e.validationContext);
  if (err instanceof EngineRequestError) return new HttpError(400, err.message, 'invalid_request_error', err.param, err.code);
  if (err instanceof OwlError) return new HttpError(400, err.message, 'invalid_request_error');
  const status = e?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const messages: Record<string, string> = {
      FST_ERR_CTP_INVALID_JSON_BODY: 'We could not parse the JSON body of your request: it is not valid JSON.',
      FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty; send a JSON object.',
      FST_ERR_CTP_BODY_TOO_LARGE: 'The request body is too large for this server (see --max-body).',
    };
    const message = (e.code && messages[e.code]) || (status === 400 && e.message?.includes('JSON') ? `We could not parse the JSON body of your request: ${e.message}` : (e.message ?? 'Bad request'));
    return new HttpError(status, message, 'invalid_request_error', null, e.code ?? null);
  }
  return new HttpError(500, `The server had an error while processing your request: ${e?.message ?? String(err)}`, 'server_error', null, null);
}

/** A stream that already sent 200 reports a late failure as a final `data: {"error": ...}` event. */
function endStreamWithError(reply: FastifyReply, e: HttpError): void {
  const res = reply.raw;
  if (res.writableEnded || res.destroyed) return;
  res.end(`data: ${JSON.stringify(e.body())}\n\n`);
}

function drained(res: NodeJS.WritableStream & { destroyed?: boolean }, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      if (signal.aborted) reject(signal.reason);
      else resolve();
    };
    res.on('drain', done);
    signal.addEventListener('abort', done);
  });
}
