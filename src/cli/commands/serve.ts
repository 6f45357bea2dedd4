/** `owl serve`: an OpenAI-compatible HTTP server for one model folder. */
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createServer } from '../../server/app.js';
import { SessionEngine } from '../../server/session-engine.js';
import { UsageError, type Command } from '../command.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP } from '../model-options.js';
import { TOKENIZER_HELP, TOKENIZER_OPTIONS, openSession } from './generate.js';

const help = `owl serve — an OpenAI-compatible HTTP server for one model folder

Usage: owl serve MODEL_DIR [options]

Endpoints (point any OpenAI client at http://HOST:PORT/v1):
  GET  /v1/models              the one model served
  POST /v1/chat/completions    chat, streamed with "stream": true; reasoning_content, tools/tool_calls,
                               chat_template_kwargs (e.g. {"enable_thinking": false}), reasoning_effort
  POST /v1/completions         raw text (or token ids) continuation, no chat template
  GET  /health                 {"status": "ok", ...} (no API key needed)

One generation runs at a time; others wait in a FIFO queue (429 with Retry-After when it is full).
A client that disconnects cancels its generation. Consecutive turns of a conversation reuse the
KV cache of what they share.

Options:
  --host H          address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)
  --port N          port (default 8080; 0 picks a free one, printed at start)
  --api-key KEY     require "Authorization: Bearer KEY" on /v1/* (default: $OWL_API_KEY; none if unset)
  --model-name ID   the model id clients send and /v1/models lists (default: the folder's name)
  --max-queue N     requests that may wait while one generates (default 32)
  --timeout S       longest one request may take, queueing included, in seconds (default 600)
  --max-body-mb N   largest request body in MiB (default 4)
  --grace S         on Ctrl-C / SIGTERM, seconds running generations get to finish before they are
                    cancelled (default 10; a second signal cancels at once)
  --quiet           no request logs (default: JSON lines on stdout, one per request and generation)

Model:
${TOKENIZER_HELP}
${MODEL_OPTIONS_HELP}`;

function positive(value: string | undefined, flag: string, integer: boolean, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < 0 || (n === 0 && !allowZero))
    throw new UsageError(`${flag} must be a ${allowZero ? 'non-negative' : 'positive'} ${integer ? 'integer' : 'number'}, got "${value}"`);
  return n;
}

export default {
  name: 'serve',
  summary: 'OpenAI-compatible HTTP server (chat, completions, streaming, tools)',
  help,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '8080' },
        'api-key': { type: 'string' },
        'model-name': { type: 'string' },
        'max-queue': { type: 'string', default: '32' },
        timeout: { type: 'string', default: '600' },
        'max-body-mb': { type: 'string', default: '4' },
        grace: { type: 'string', default: '10' },
        quiet: { type: 'boolean', default: false },
        ...TOKENIZER_OPTIONS,
        ...MODEL_OPTIONS,
      },
    });
    const dir = positionals[0];
    if (!dir) throw new UsageError('a MODEL_DIR argument is required');
    if (positionals.length > 1) throw new UsageError(`one MODEL_DIR only, got ${positionals.length} folders`);
    const port = positive(values.port, '--port', true, true)!;
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
    const maxQueue = positive(values['max-queue'], '--max-queue', true, true)!;
    const timeoutMs = positive(values.timeout, '--timeout', false)! * 1000;
    const bodyLimit = Math.round(positive(values['max-body-mb'], '--max-body-mb', false)! * 1024 * 1024);
    const graceMs = positive(values.grace, '--grace', false, true)! * 1000;
    const apiKey = values['api-key'] ?? (process.env.OWL_API_KEY || undefined);
    const modelId = values['model-name'] ?? basename(resolve(dir));
    if (!modelId) throw new UsageError('--model-name must not be empty');

    const session = await openSession(dir, values, true);
    if (!session.chatFormat) console.error(`warning: ${dir} has no chat template: /v1/chat/completions will answer 400, /v1/completions works`);
    const server = await createServer(new SessionEngine(session, modelId), {
      apiKey,
      maxQueue,
      timeoutMs,
      bodyLimit,
      logger: values.quiet ? false : { level: 'info' },
    });
    // A bug that escapes a request must not take the server down with it.
    const onUnhandled = (e: unknown) => server.app.log.error({ err: e }, 'unhandled rejection');
    process.on('unhandledRejection', onUnhandled);
    let address;
    try {
      address = await server.listen(port, values.host);
    } catch (e) {
      await server.shutdown(0);
      throw new UsageError(`cannot listen on ${values.host}:${port}: ${(e as Error).message}`);
    }
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    console.error(`owl serve: ${modelId} listening on http://${shown}:${address.port}/v1${apiKey ? ' (API key required)' : ''}`);
    if (!apiKey && !['127.0.0.1', '::1', 'localhost'].includes(values.host!))
      console.error(`warning: listening on ${values.host} without --api-key: anyone who can reach this port can use the model`);

    await new Promise<void>((done) => {
      let signals = 0;
      const stop = (signal: string) => {
        signals++;
        console.error(signals === 1 ? `owl serve: ${signal}: finishing running requests (up to ${graceMs / 1000} s; again to cancel them)` : `owl serve: ${signal}: cancelling`);
        server.shutdown(signals === 1 ? graceMs : 0).then(done, done);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    process.off('unhandledRejection', onUnhandled);
    console.error('owl serve: stopped');
    return 0;
  },
} satisfies Command;
