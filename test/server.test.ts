/**
 * owl serve hardening, driven over real loopback HTTP (official openai client and raw fetch) against
 * a fake engine: validation errors, auth, limits, cancellation, queueing, concurrency, shutdown.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { FakeEngine, post, sseData, startServer, type Running } from './server-helpers.js';

const unhandled: unknown[] = [];
process.on('unhandledRejection', (e) => unhandled.push(e));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const chatBody = (content: string, extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content }], ...extra });

/** The server still answers /health and an ordinary request. */
async function assertHealthy(r: Running): Promise<void> {
  const h = await fetch(`${r.base}/health`);
  assert.equal(h.status, 200);
  assert.equal(((await h.json()) as { status: string }).status, 'ok');
  const c = await r.client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'still alive' }] });
  assert.equal(c.choices[0]!.message.content, 'echo: still alive');
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('owl serve: OpenAI wire format (fake engine, openai client)', () => {
  let r: Running;
  let engine: FakeEngine;
  before(async () => {
    engine = new FakeEngine();
    r = await startServer(engine);
  });
  after(() => r.close());

  test('models list and retrieve', async () => {
    const list = await r.client.models.list();
    assert.deepEqual(
      list.data.map((m) => [m.id, m.object, m.owned_by, m.created]),
      [['fake-model', 'model', 'owl', 1_700_000_000]],
    );
    assert.equal((await r.client.models.retrieve('fake-model')).id, 'fake-model');
    await assert.rejects(r.client.models.retrieve('gpt-4'), (e: unknown) => e instanceof OpenAI.NotFoundError);
  });

  test('non-streaming chat completion', async () => {
    const c = await r.client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello there' }] });
    assert.match(c.id, /^chatcmpl-/);
    assert.equal(c.object, 'chat.completion');
    assert.ok(Number.isInteger(c.created) && Math.abs(c.created - Date.now() / 1000) < 60);
    assert.equal(c.model, 'fake-model');
    assert.equal(c.choices.length, 1);
    assert.deepEqual(c.choices[0], { index: 0, message: { role: 'assistant', content: 'echo: hello there' }, logprobs: null, finish_reason: 'stop' });
    assert.deepEqual(c.usage, { prompt_tokens: c.usage!.prompt_tokens, completion_tokens: 3, total_tokens: c.usage!.prompt_tokens + 3 });
  });

  test('streaming chat: role first, deltas, finish_reason, usage chunk, [DONE]', async () => {
    const stream = await r.client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'a b c' }], stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.length >= 4);
    const ids = new Set(chunks.map((c) => c.id));
    assert.equal(ids.size, 1);
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.ok(Number.isInteger(c.created));
    }
    assert.deepEqual(chunks[0]!.choices[0]!.delta, { role: 'assistant', content: '' });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, 'echo: a b c');
    const last = chunks.at(-1)!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: last.usage!.prompt_tokens, completion_tokens: 4, total_tokens: last.usage!.prompt_tokens + 4 });
    const fin = chunks.at(-2)!;
    assert.equal(fin.choices[0]!.finish_reason, 'stop');
    assert.deepEqual(fin.choices[0]!.delta, {});
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null), 'usage: null on every chunk but the last');

    const raw = await post(r.base, '/v1/chat/completions', chatBody('x', { stream: true }));
    assert.equal(raw.status, 200);
    assert.match(raw.headers.get('content-type')!, /^text\/event-stream/);
    const data = sseData(raw.text);
    assert.equal(data.at(-1), '[DONE]');
    assert.ok(!('usage' in JSON.parse(data[0]!)), 'no usage field without include_usage');
  });

  test('max_tokens cuts with finish_reason length', async () => {
    const c = await r.client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'one two three four' }], max_tokens: 2 });
    assert.equal(c.choices[0]!.message.content, 'echo: one');
    assert.equal(c.choices[0]!.finish_reason, 'length');
    assert.equal(c.usage!.completion_tokens, 2);
  });

  test('completions, streaming and not', async () => {
    const c = await r.client.completions.create({ model: 'fake-model', prompt: 'once upon' });
    assert.match(c.id, /^cmpl-/);
    assert.equal(c.object, 'text_completion');
    assert.deepEqual(c.choices, [{ index: 0, text: 'echo: once upon', logprobs: null, finish_reason: 'stop' }]);
    const s = await r.client.completions.create({ model: 'fake-model', prompt: ['a time'], stream: true });
    let text = '';
    let finish = null;
    for await (const chunk of s) {
      assert.equal(chunk.object, 'text_completion');
      text += chunk.choices[0]!.text;
      finish = chunk.choices[0]!.finish_reason ?? finish;
    }
    assert.equal(text, 'echo: a time');
    assert.equal(finish, 'stop');
    const ids = await r.client.completions.create({ model: 'fake-model', prompt: [1, 2, 3], max_tokens: 2 });
    assert.equal(ids.choices[0]!.text, 'echo: 1');
  });

  test('request fields reach the engine: chat_template_kwargs, reasoning_effort, tools, tool messages', async () => {
    await r.client.chat.completions.create({
      model: 'fake-model',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'weather ' }, { type: 'text', text: 'in Paris?' }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
        { role: 'user', content: 'thanks' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      reasoning_effort: 'low',
      stop: 'END',
      temperature: 0.5,
      seed: 7,
      // @ts-expect-error vLLM extension
      chat_template_kwargs: { enable_thinking: false },
    });
    const req = engine.lastChat!;
    assert.equal(req.messages[0]!.content, 'weather in Paris?');
    assert.deepEqual(req.messages[1]!.tool_calls, [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    assert.equal(req.messages[2]!.tool_call_id, 'call_1');
    assert.deepEqual(req.templateKwargs, { enable_thinking: false, reasoning_effort: 'low' });
    assert.deepEqual(req.stop, ['END']);
    assert.deepEqual(req.sampling, { temperature: 0.5, seed: 7 });
    assert.equal(req.tools?.[0]?.function.name, 'get_weather');
    await r.client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'none' });
    assert.equal(engine.lastChat!.tools, undefined, "tool_choice 'none' hides the tools");
    // What Python's message.model_dump() sends back: every optional field present, as null.
    const dumped = {
      role: 'assistant',
      content: 'Sunny.',
      refusal: null,
      audio: null,
      function_call: null,
      tool_calls: null,
      annotations: null,
      reasoning_content: 'The tool said so.',
    };
    const res = await post(r.base, '/v1/chat/completions', JSON.stringify({ model: 'fake-model', messages: [{ role: 'user', content: 'hi', name: null }, dumped, { role: 'user', content: 'ok' }], stop: null, temperature: null, tools: null, tool_choice: null, stream_options: null }));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(engine.lastChat!.messages[1], { role: 'assistant', content: 'Sunny.', reasoning_content: 'The tool said so.' });
  });
});

describe('owl serve: bad requests get OpenAI-shaped errors and never hurt the server', () => {
  let r: Running;
  let engine: FakeEngine;
  before(async () => {
    engine = new FakeEngine();
    r = await startServer(engine, { apiKey: 'sk-secret', bodyLimit: 64 * 1024 });
  });
  after(() => r.close());

  const H = { 'content-type': 'application/json', authorization: 'Bearer sk-secret' };
  const bad = async (body: string, status: number, param: string | null, message: RegExp, path = '/v1/chat/completions') => {
    const res = await post(r.base, path, body, H);
    assert.equal(res.status, status, `${body.slice(0, 80)} -> ${res.text}`);
    const err = res.json.error!;
    assert.equal(typeof err.message, 'string');
    assert.equal(err.type, status === 404 || status < 500 ? 'invalid_request_error' : 'server_error');
    assert.equal(err.param, param, err.message);
    assert.match(err.message, message);
    assert.deepEqual(Object.keys(res.json.error!).sort(), ['code', 'message', 'param', 'type']);
  };

  test('malformed JSON, empty body, non-object bodies', async () => {
    await bad('{"model": "fake-model", "messages": [', 400, null, /not valid JSON/);
    await bad('', 400, null, /empty/);
    await bad('[]', 400, null, /must be a JSON object, but got an array/);
    await bad('"hi"', 400, null, /must be a JSON object, but got a string/);
    await bad('{"__proto__": {"x": 1}, "model": "fake-model"}', 400, null, /JSON/);
    const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    await bad(`{"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "chat_template_kwargs": ${deep(5000)}}`, 400, null, /nested more than 64 levels/);
    await bad(chatBody('x', { seed: 2 ** 60 }), 400, 'seed', /2\^53/);
    await bad(chatBody('x', { stop: 'x'.repeat(300) }), 400, 'stop', /256 characters/);
    await assertHealthy(r);
  });

  test('missing fields and wrong types name the field', async () => {
    const started = engine.started;
    await bad('{"messages": []}', 400, 'model', /Missing required parameter: 'model'/);
    await bad('{"model": "fake-model"}', 400, 'messages', /Missing required parameter: 'messages'/);
    await bad('{"model": "fake-model", "messages": "hi"}', 400, 'messages', /Invalid type for 'messages': expected array, but got a string/);
    await bad('{"model": "fake-model", "messages": []}', 400, 'messages', /messages/);
    await bad(chatBody('x', { temperature: 'hot' }), 400, 'temperature', /Invalid type for 'temperature': expected number, but got a string/);
    await bad(chatBody('x', { temperature: 9 }), 400, 'temperature', /temperature/);
    await bad(chatBody('x', { max_tokens: 1.5 }), 400, 'max_tokens', /integer/);
    await bad(chatBody('x', { max_tokens: 0 }), 400, 'max_tokens', /max_tokens/);
    await bad(chatBody('x', { stream: 'yes' }), 400, 'stream', /boolean/);
    await bad(chatBody('x', { n: 3 }), 400, 'n', /n=1/);
    await bad(chatBody('x', { stop: [1] }), 400, 'stop[0]', /string/);
    await bad(chatBody('x', { reasoning_effort: 'extreme' }), 400, 'reasoning_effort', /'low', 'medium', 'high'/);
    await bad(chatBody('x', { chat_template_kwargs: { messages: [] } }), 400, 'chat_template_kwargs.messages', /cannot be overridden/);
    await bad(chatBody('x', { logprobs: true }), 400, 'logprobs', /not supported/);
    await bad(chatBody('x', { response_format: { type: 'json_object' } }), 400, 'response_format.type', /not supported/);
    await bad(chatBody('x', { stream_options: { include_usage: true } }), 400, 'stream_options', /stream/);
    await bad('{"model": "fake-model", "messages": [{"content": "hi"}]}', 400, 'messages[0].role', /Missing required parameter: 'messages\[0\].role'/);
    await bad('{"model": "fake-model", "messages": [{"role": "wizard", "content": "hi"}]}', 400, 'messages[0].role', /"wizard" is not one of/);
    await bad('{"model": "fake-model", "messages": [{"role": "user"}]}', 400, 'messages[0].content', /Missing required parameter/);
    await bad('{"model": "fake-model", "messages": [{"role": "user", "content": 5}]}', 400, 'messages[0].content', /Invalid type/);
    await bad('{"model": "fake-model", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}', 400, 'messages[0].content[0].type', /not supported/);
    await bad('{"model": "fake-model", "messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {}}]}]}', 400, 'messages[0].tool_calls[0].function.name', /Missing/);
    await bad(chatBody('x', { tools: [{ type: 'function', function: { name: 'has space' } }] }), 400, 'tools[0].function.name', /pattern/);
    await bad(chatBody('x', { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } }), 400, 'tool_choice.function.name', /no tool named 'g'/);
    await bad(chatBody('x', { tool_choice: 'required' }), 400, 'tool_choice', /needs 'tools'/);
    await bad(chatBody('x', { tool_choice: 'sometimes', tools: [{ type: 'function', function: { name: 'f' } }] }), 400, 'tool_choice', /not one of/);
    await bad('{"model": "fake-model", "prompt": []}', 400, 'prompt', /empty/, '/v1/completions');
    await bad('{"model": "fake-model", "prompt": ["a", "b"]}', 400, 'prompt', /batches/, '/v1/completions');
    await bad('{"model": "fake-model", "prompt": {"text": "a"}}', 400, 'prompt', /Invalid type/, '/v1/completions');
    await bad('{"model": "fake-model", "prompt": "a", "echo": true}', 400, 'echo', /not supported/, '/v1/completions');
    assert.equal(engine.started, started, 'no invalid request reached the engine');
    await assertHealthy(r);
  });

  test('unknown model -> 404, unknown route -> 404, wrong method -> 404', async () => {
    const res = await post(r.base, '/v1/chat/completions', JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] }), H);
    assert.equal(res.status, 404);
    assert.equal(res.json.error!.code, 'model_not_found');
    assert.match(res.json.error!.message, /gpt-4o.*fake-model/);
    const route = await post(r.base, '/v1/engines', '{}', H);
    assert.equal(route.status, 404);
    assert.equal(route.json.error!.type, 'invalid_request_error');
    const get = await fetch(`${r.base}/v1/chat/completions`, { headers: H });
    assert.equal(get.status, 404);
    for (const path of ['/v1/models/Qwen/Qwen3-0.6B', '/v1/models/%E0%A4%A', '/v1/models/']) {
      const m = await fetch(r.base + path, { headers: H });
      assert.ok(m.status === 404 || m.status === 400, `${path}: ${m.status}`);
      assert.equal(((await m.json()) as { error: { type: string } }).error.type, 'invalid_request_error');
    }
    await assertHealthy(r);
  });

  test('api key: missing or wrong -> 401 (before the body is read), /health stays open', async () => {
    for (const auth of [undefined, 'Bearer nope', 'sk-secret', 'Basic c2stc2VjcmV0']) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (auth) headers.authorization = auth;
      const res = await post(r.base, '/v1/chat/completions', chatBody('x'), headers);
      assert.equal(res.status, 401, String(auth));
      assert.equal(res.json.error!.code, 'invalid_api_key');
    }
    const models = await fetch(`${r.base}/v1/models`);
    assert.equal(models.status, 401);
    const c = new OpenAI({ baseURL: `${r.base}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(c.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
    assert.equal((await fetch(`${r.base}/health?x=1`)).status, 200);
    for (const path of ['/v1//models', '/V1/models', '/v1/models/', '/v1/../v1/models', '/nothing'])
      assert.equal((await fetch(r.base + path)).status, 401, path);
    await assertHealthy(r);
  });

  test('huge bodies -> 413; any Content-Type is read as JSON', async () => {
    const huge = chatBody('x'.repeat(200 * 1024));
    const res = await post(r.base, '/v1/chat/completions', huge, H);
    assert.equal(res.status, 413);
    assert.match(res.json.error!.message, /too large/);
    const form = await post(r.base, '/v1/chat/completions', chatBody('plain curl'), { authorization: 'Bearer sk-secret', 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 200, form.text);
    await assertHealthy(r);
  });

  test('an over-long prompt -> 400 context_length_exceeded', async () => {
    const res = await post(r.base, '/v1/chat/completions', chatBody('y'.repeat(5000)), H);
    assert.equal(res.status, 400);
    assert.equal(res.json.error!.code, 'context_length_exceeded');
    assert.match(res.json.error!.message, /maximum context length is 4096 tokens/);
    await assertHealthy(r);
  });

  test('engine failures: 500 JSON before output, an SSE error event after', async () => {
    const early = await post(r.base, '/v1/chat/completions', chatBody('FAIL_EARLY'), H);
    assert.equal(early.status, 500);
    assert.equal(early.json.error!.type, 'server_error');
    const earlyStream = await post(r.base, '/v1/chat/completions', chatBody('FAIL_EARLY', { stream: true }), H);
    assert.equal(earlyStream.status, 500, 'nothing was streamed yet: a plain error');
    const late = await post(r.base, '/v1/chat/completions', chatBody('FAIL_LATE a b c', { stream: true }), H);
    assert.equal(late.status, 200);
    const data = sseData(late.text);
    assert.notEqual(data.at(-1), '[DONE]');
    assert.match(JSON.parse(data.at(-1)!).error.message, /exploded mid-stream/);
    const c = new OpenAI({ baseURL: `${r.base}/v1`, apiKey: 'sk-secret', maxRetries: 0 });
    const s = await c.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'FAIL_LATE a b c' }], stream: true });
    await assert.rejects(
      (async () => {
        for await (const _ of s);
      })(),
      (e: unknown) => e instanceof OpenAI.APIError && /exploded/.test(e.message),
    );
    const nonStream = await post(r.base, '/v1/chat/completions', chatBody('FAIL_LATE a b c'), H);
    assert.equal(nonStream.status, 500);
    assert.equal(engine.active, 0);
    await assertHealthy(r);
  });
});

describe('owl serve: scheduling, cancellation, concurrency, shutdown', () => {
  test('a client that disconnects mid-stream stops its generation at once and frees the slot', async () => {
    const engine = new FakeEngine(2);
    const r = await startServer(engine);
    try {
      const ac = new AbortController();
      const res = await fetch(`${r.base}/v1/chat/completions`, { method: 'POST', body: chatBody('LONG 100000', { stream: true }), headers: { 'content-type': 'application/json' }, signal: ac.signal });
      const reader = res.body!.getReader();
      let seen = '';
      while (!seen.includes('w5')) {
        const { done, value } = await reader.read();
        assert.ok(!done, 'the stream ended before the client left');
        seen += new TextDecoder().decode(value);
      }
      ac.abort();
      await until(() => engine.cancelled === 1, 'the engine to see the cancellation');
      const produced = engine.tokensProduced;
      assert.ok(produced < 200, `stopped early (${produced} tokens)`);
      await sleep(50);
      assert.equal(engine.tokensProduced, produced, 'no token after the cancellation');
      assert.equal(engine.active, 0);
      assert.equal(r.server.scheduler.running, 0);
      await assertHealthy(r);
    } finally {
      await r.close();
    }
  });

  test('a non-streaming client that leaves is cancelled too; a waiter that leaves never starts', async () => {
    const engine = new FakeEngine(2);
    const r = await startServer(engine);
    try {
      const first = new AbortController();
      const p1 = fetch(`${r.base}/v1/chat/completions`, { method: 'POST', body: chatBody('LONG 100000'), headers: { 'content-type': 'application/json' }, signal: first.signal }).catch(() => 'aborted');
      await until(() => engine.tokensProduced > 3, 'the first generation to run');
      const second = new AbortController();
      const p2 = fetch(`${r.base}/v1/chat/completions`, { method: 'POST', body: chatBody('queued'), headers: { 'content-type': 'application/json' }, signal: second.signal }).catch(() => 'aborted');
      await until(() => r.server.scheduler.waiting === 1, 'the second request to queue');
      second.abort();
      await until(() => r.server.scheduler.waiting === 0, 'the waiter to leave the queue');
      first.abort();
      assert.equal(await p1, 'aborted');
      assert.equal(await p2, 'aborted');
      await until(() => engine.cancelled === 1 && engine.active === 0, 'the first generation to stop');
      assert.equal(engine.started, 1, 'the request that left the queue never reached the engine');
      await assertHealthy(r);
    } finally {
      await r.close();
    }
  });

  test('16 concurrent streaming clients all complete, in order, nothing lost or crossed, one generation at a time', async () => {
    const engine = new FakeEngine(1);
    const r = await startServer(engine, { maxQueue: 16 });
    try {
      const t0 = performance.now();
      const results = await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const words = Array.from({ length: 20 }, (_, j) => `c${i}t${j}`).join(' ');
          const s = await r.client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: words }], stream: true, stream_options: { include_usage: true } });
          let text = '';
          const ids = new Set<string>();
          let finish: string | null = null;
          let usage = null;
          for await (const c of s) {
            ids.add(c.id);
            text += c.choices[0]?.delta.content ?? '';
            finish = c.choices[0]?.finish_reason ?? finish;
            usage = c.usage ?? usage;
          }
          return { i, words, text, ids, finish, usage };
        }),
      );
      const ms = performance.now() - t0;
      for (const res of results) {
        assert.equal(res.text, `echo: ${res.words}`, `client ${res.i} got its own text, whole`);
        assert.equal(res.ids.size, 1);
        assert.equal(res.finish, 'stop');
        assert.equal(res.usage!.completion_tokens, 21);
      }
      assert.equal(new Set(results.map((x) => [...x.ids][0])).size, 16, 'distinct completion ids');
      assert.equal(engine.maxActive, 1, 'one generation at a time');
      assert.equal(engine.started, 16);
      console.log(`# 16 concurrent streams x 21 deltas: ${ms.toFixed(0)} ms`);
      await assertHealthy(r);
    } finally {
      await r.close();
    }
  });

  test('a full queue answers 429 with Retry-After, and recovers', async () => {
    const engine = new FakeEngine(2);
    const r = await startServer(engine, { maxQueue: 2 });
    try {
      const controllers = Array.from({ length: 3 }, () => new AbortController());
      const pending = controllers.map((ac) => fetch(`${r.base}/v1/chat/completions`, { method: 'POST', body: chatBody('LONG 100000', { stream: true }), headers: { 'content-type': 'application/json' }, signal: ac.signal }).catch(() => null));
      await until(() => r.server.scheduler.running === 1 && r.server.scheduler.waiting === 2, 'one running and two waiting');
      const res = await post(r.base, '/v1/chat/completions', chatBody('one more'));
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      assert.equal(res.json.error!.code, 'rate_limit_exceeded');
      await assert.rejects(r.client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'x' }] }), (e: unknown) => e instanceof OpenAI.RateLimitError);
      const health = (await (await fetch(`${r.base}/health`)).json()) as { running: number; waiting: number };
      assert.deepEqual([health.running, health.waiting], [1, 2]);
      for (const ac of controllers) ac.abort();
      await Promise.all(pending);
      await until(() => r.server.scheduler.running === 0 && r.server.scheduler.waiting === 0 && engine.active === 0, 'everything to be released');
      await assertHealthy(r);
    } finally {
      await r.close();
    }
  });

  test('the request time limit: 504 before output, an error event after', async () => {
    const engine = new FakeEngine(5);
    const r = await startServer(engine, { timeoutMs: 150 });
    try {
      const s = await post(r.base, '/v1/chat/completions', chatBody('LONG 100000', { stream: true }));
      assert.equal(s.status, 200);
      assert.match(JSON.parse(sseData(s.text).at(-1)!).error.message, /limit of 0.15 s/);
      const n = await post(r.base, '/v1/chat/completions', chatBody('LONG 100000'));
      assert.equal(n.status, 504);
      assert.equal(n.json.error!.code, 'timeout');
      await until(() => engine.active === 0, 'the engine to stop');
      assert.equal(engine.cancelled, 2);
      await assertHealthy(r);
    } finally {
      await r.close();
    }
  });

  test('graceful shutdown: running streams get the grace period, then are cancelled; waiters get 503', async () => {
    const engine = new FakeEngine(2);
    const r = await startServer(engine);
    const endless = post(r.base, '/v1/chat/completions', chatBody('LONG 100000', { stream: true }));
    await until(() => r.server.scheduler.running === 1, 'the endless stream to run');
    const short = r.client.chat.completions.create({ model: 'fake-model', messages: [{ role: 'user', content: 'LONG 20' }] }).then(
      () => null,
      (e: unknown) => e,
    );
    const waiting = post(r.base, '/v1/chat/completions', chatBody('never starts'));
    await until(() => r.server.scheduler.waiting === 2, 'two waiting');
    await r.server.shutdown(300);
    const refused = await short;
    assert.ok(refused instanceof OpenAI.APIError && refused.status === 503, String(refused));
    assert.equal((await waiting).status, 503);
    const stream = await endless;
    assert.match(JSON.parse(sseData(stream.text).at(-1)!).error.message, /shutting down/);
    assert.equal(engine.active, 0);
    await assert.rejects(fetch(`${r.base}/health`), 'no longer listening');
  });

  test('graceful shutdown lets a generation that ends within the grace period finish', async () => {
    const engine = new FakeEngine(5);
    const r = await startServer(engine);
    const res = post(r.base, '/v1/chat/completions', chatBody('LONG 20', { stream: true }));
    await until(() => engine.tokensProduced > 2, 'the stream to start');
    await r.server.shutdown(5000);
    const data = sseData((await res).text);
    assert.equal(data.at(-1), '[DONE]');
    assert.equal(engine.tokensProduced, 20);
  });

  test('no unhandled rejections anywhere above', () => {
    assert.deepEqual(unhandled, []);
  });
});
