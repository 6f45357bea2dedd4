/**
 * The engine in a real browser: headless Chromium loads the compiled browser entry (dist/src/index.js)
 * from a local cross-origin-isolated server, runs qwen3-dense on the ref backend and on the wasm backend
 * (Web Workers over SharedArrayBuffer), and its logits must match the transformers reference.
 * Skipped where Chromium is absent (.ci/run installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { existsSync, readFile, readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { MemoryTensorSource } from '../src/index.js';
import { SafetensorsError } from '../src/weights/safetensors.js';
import { TensorFiles } from '../src/node/tensor-files.js';
import { FIXTURES, ROOT } from './helpers.js';
import { SKIP, launchChromium, watchPage } from './browser-helpers.js';


/** The fixture README's logits tolerance for qwen3-dense. */
const ATOL = 5e-4;

const MIME: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.map': 'application/json',
};

/** Serves files under ROOT, GET only, with the headers that make the page cross-origin isolated (SharedArrayBuffer). */
function serveRoot(failures: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    const fail = (status: number, why: string) => {
      failures.push(`${req.method} ${req.url}: ${status} ${why}`);
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(why);
    };
    if (req.method !== 'GET') return fail(405, 'only GET');
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return fail(400, 'bad URL');
    }
    const file = resolve(ROOT, '.' + path);
    // Lexically inside ROOT, and no dot-folders (.git).
    if (path.includes('\0') || !file.startsWith(ROOT + sep) || file.slice(ROOT.length).split(sep).some((s) => s.startsWith('.'))) {
      return fail(403, 'outside the repository');
    }
    if (!existsSync(file) || !statSync(file).isFile()) return fail(404, 'not found');
    readFile(file, (err, body) => {
      if (err) return fail(500, err.message);
      res.writeHead(200, {
        'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
        'Cache-Control': 'no-store',
      });
      res.end(body);
    });
  });
  return new Promise((ok, ko) => server.once('error', ko).listen(0, '127.0.0.1', () => ok(server)));
}

interface BackendRun {
  backend: string;
  threads: number;
  relaxedSimd: boolean;
  unusedTensors: string[];
  logitsLength: number;
  maxAbsDiff: number;
  buildMs: number;
  forwardMs: number;
  workersStarted: number;
}

interface PageResult {
  error?: string;
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  tokens: number;
  vocab: number;
  fetchMs: number;
  totalMs: number;
  results: { ref: BackendRun; wasm: BackendRun };
}

test('MemoryTensorSource: same tensors and bytes as the file reader; bad bytes get a clear error', () => {
  const path = join(FIXTURES, 'models', 'qwen3-dense', 'model.safetensors');
  const bytes = readFileSync(path);
  const mem = new MemoryTensorSource(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength), 'model.safetensors');
  const files = TensorFiles.open(path);
  try {
    assert.deepEqual([...mem.tensors.keys()].sort(), [...files.tensors.keys()].sort());
    for (const name of files.tensors.keys()) assert.deepEqual(mem.read(name), files.read(name), name);
  } finally {
    files.close();
  }
  const name = [...mem.tensors.keys()][0]!;
  assert.throws(() => mem.read(name, new Uint8Array(3)), /model\.safetensors: tensor ".*": destination holds 3 bytes/);
  assert.throws(() => mem.info('nope'), /model\.safetensors: tensor "nope": no such tensor/);
  assert.throws(() => new MemoryTensorSource(bytes.subarray(0, 1000), 'cut.safetensors'), (e: unknown) => e instanceof SafetensorsError && /^cut\.safetensors: /.test(e.message));
  assert.throws(() => new MemoryTensorSource(new Uint8Array(4), 'tiny.safetensors'), /tiny\.safetensors: too short/);
});

test('server: GET files under the repository only', async () => {
  const failures: string[] = [];
  const server = await serveRoot(failures);
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const page = await fetch(`${base}/test/browser/engine.html`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal((await fetch(`${base}/test/browser/engine.js`)).headers.get('content-type'), 'text/javascript');
    // URLs normalise "..", but an encoded slash only turns into one after decoding.
    assert.equal((await fetch(`${base}/..%2f..%2fetc%2fpasswd`)).status, 403);
    assert.equal((await fetch(`${base}/.git/HEAD`)).status, 403);
    assert.equal((await fetch(`${base}/package.json`, { method: 'POST', body: 'x' })).status, 405);
    assert.equal((await fetch(`${base}/no-such-file.js`)).status, 404);
  } finally {
    server.close();
  }
});

test('browser: qwen3-dense on the ref and wasm (Web Worker) backends matches the reference logits in headless Chromium', { skip: SKIP, timeout: 60_000 }, async (t) => {
  const entry = join(ROOT, 'dist', 'src', 'index.js');
  assert.ok(existsSync(entry), `${entry} is missing: build first (npm run build)`);
  const failures: string[] = [];
  const server = await serveRoot(failures);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const started = performance.now();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const { errors, outside } = await watchPage(page, (url) => url.startsWith(origin + '/'));
    const launched = performance.now();
    await page.goto(`${origin}/test/browser/engine.html`);
    await page.waitForFunction(() => (window as unknown as { owlResult?: unknown }).owlResult !== undefined, null, { timeout: 45_000 });
    const r = (await page.evaluate(() => (window as unknown as { owlResult: unknown }).owlResult)) as PageResult;
    const ran = performance.now();

    assert.equal(r.error, undefined, r.error);
    assert.deepEqual(failures, [], 'the page asked for files the server does not have');
    assert.deepEqual(outside, [], 'the page must not leave the local server');
    assert.deepEqual(errors, []);
    assert.equal(r.crossOriginIsolated, true, 'COOP/COEP headers did not make the page cross-origin isolated');
    assert.equal(r.tokens, 7);
    for (const kind of ['ref', 'wasm'] as const) {
      const b = r.results[kind];
      assert.equal(b.backend, kind, `createBackend('${kind}') gave the ${b.backend} backend`);
      assert.equal(b.logitsLength, r.tokens * r.vocab);
      assert.deepEqual(b.unusedTensors, []);
      assert.ok(b.maxAbsDiff <= ATOL, `${kind}: max abs logit diff ${b.maxAbsDiff} > ${ATOL}`);
    }
    // The forward's larger ops split across threads: finishing one means every worker did its share.
    const w = r.results.wasm;
    assert.equal(w.threads, Math.max(2, r.hardwareConcurrency));
    assert.equal(w.workersStarted, w.threads - 1, `wasm backend with ${w.threads} threads started ${w.workersStarted} Web Workers`);
    assert.equal(r.results.ref.workersStarted, 0);

    const ms = (x: number) => `${x.toFixed(0)} ms`;
    t.diagnostic(
      `chromium launch ${ms(launched - started)}, page load+run ${ms(ran - launched)} (fetch+parse ${ms(r.fetchMs)}, in-page total ${ms(r.totalMs)}); ` +
        `hardwareConcurrency ${r.hardwareConcurrency}`,
    );
    for (const [kind, b] of Object.entries(r.results)) {
      t.diagnostic(
        `${kind}: threads ${b.threads}${kind === 'wasm' ? `, relaxed SIMD ${b.relaxedSimd}` : ''}, build ${ms(b.buildMs)}, forward ${ms(b.forwardMs)}, ` +
          `max abs diff ${b.maxAbsDiff.toExponential(2)} (atol ${ATOL})`,
      );
    }
  } finally {
    await browser.close();
    server.close();
  }
});
