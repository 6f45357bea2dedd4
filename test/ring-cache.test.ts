import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RefBackend } from '../src/backend/ref/ref-backend.js';
import type { GqaAttentionSpec } from '../src/config/spec.js';
import { FullCache, RingCache } from '../src/models/blocks/kv-cache.js';
import type { CausalLM } from '../src/models/decoder.js';
import { loadFixture, maxAbsDiff, readReference } from './oracle.js';

const ATOL = 5e-4; // test/fixtures/models/README.md, gpt-oss

/** Rows [k0, v0] per position so the view can be checked by value. */
function rows(positions: number[]) {
  const n = positions.length;
  return {
    k: Float32Array.from({ length: n * 2 }, (_, i) => positions[i >> 1]! * 10 + (i % 2)),
    v: Float32Array.from({ length: n }, (_, i) => -positions[i]!),
    pos: Int32Array.from(positions),
  };
}

test('FullCache, head-major: each head reads its own keys and values at every position, across growth and truncation', () => {
  const heads = 3, dk = 2, dv = 1;
  const cache = new FullCache(new RefBackend(), heads * dk, heads * dv, heads);
  // Key of position p, head h, element e = p * 100 + h * 10 + e; value = -(p * 100 + h * 10).
  const make = (positions: number[]) => ({
    k: Float32Array.from({ length: positions.length * heads * dk }, (_, i) => positions[Math.floor(i / (heads * dk))]! * 100 + Math.floor((i % (heads * dk)) / dk) * 10 + (i % dk)),
    v: Float32Array.from({ length: positions.length * heads * dv }, (_, i) => -(positions[Math.floor(i / heads)]! * 100 + (i % heads) * 10)),
    pos: Int32Array.from(positions),
  });
  let next = 0;
  for (const chunk of [5, 1, 20, 1, -10, 7, 40]) {
    if (chunk < 0) {
      cache.truncate(next + chunk);
      next += chunk;
      continue;
    }
    const positions = Array.from({ length: chunk }, (_, i) => next + i);
    const r = make(positions);
    const view = cache.append(r.k, r.v, chunk, r.pos);
    next += chunk;
    assert.equal(view.nk, next);
    for (let j = 0; j < next; j++)
      for (let h = 0; h < heads; h++) {
        const p = view.kPos[j]!;
        assert.equal(p, j);
        for (let e = 0; e < dk; e++) assert.equal(view.k[j * view.kStride + h * view.kHeadStride! + e], p * 100 + h * 10 + e, `key ${j} head ${h}`);
        assert.equal(view.v[j * view.vStride + h * view.vHeadStride!], -(p * 100 + h * 10), `value ${j} head ${h}`);
      }
  }
});

test('RingCache: keeps the last window positions, in constant memory, whatever the chunking', () => {
  const window = 4;
  const ring = new RingCache(new RefBackend(), 2, 1, window);
  assert.equal(ring.allocatedBytes(), 0, 'storage is taken on first use');
  const bytes = window * (2 + 1) * 4;
  let next = 0;
  for (const chunk of [1, 2, 6, 1, 3, 1]) {
    const positions = Array.from({ length: chunk }, (_, i) => next + i);
    const r = rows(positions);
    const view = ring.append(r.k, r.v, chunk, r.pos);
    // Attention sees the stored window before this chunk plus the whole chunk.
    const expected = Array.from({ length: Math.min(next, window) + chunk }, (_, i) => next - Math.min(next, window) + i);
    const seen = Array.from(view.kPos.subarray(0, view.nk)).sort((a, b) => a - b);
    assert.deepEqual(seen, expected);
    for (let j = 0; j < view.nk; j++) {
      const p = view.kPos[j]!;
      assert.deepEqual([view.k[j * view.kStride]!, view.k[j * view.kStride + 1]!, view.v[j * view.vStride]!], [p * 10, p * 10 + 1, -p]);
    }
    next += chunk;
    assert.equal(ring.length, next);
    assert.equal(ring.allocatedBytes(), bytes);
  }
  assert.equal(ring.bytesPerToken(), 0);
});

test('RingCache.truncate: possible until the ring wraps, refused after', () => {
  const ring = new RingCache(new RefBackend(), 2, 1, 4);
  const r = rows([0, 1, 2]);
  ring.append(r.k, r.v, 3, r.pos);
  assert.equal(ring.truncate(1), true);
  assert.equal(ring.length, 1);
  const more = rows([1, 2, 3, 4, 5]);
  const view = ring.append(more.k, more.v, 5, more.pos);
  assert.deepEqual(Array.from(view.kPos.subarray(0, view.nk)).sort((a, b) => a - b), [0, 1, 2, 3, 4, 5]);
  assert.equal(ring.truncate(6), true); // nothing to drop
  assert.equal(ring.truncate(5), false); // position 1 was overwritten
  assert.equal(ring.truncate(0), true); // starting over is always possible
  assert.equal(ring.length, 0);
});

/** Sliding and full layer caches of a model, by the spec's layer kinds. */
function cacheBytes(model: CausalLM, cache: ReturnType<CausalLM['newCache']>) {
  const kinds = model.spec.layers.map((l) => l.attention);
  const sum = (kind: string) => cache.layers.reduce((a, l, i) => a + (kinds[i] === kind ? l.allocatedBytes() : 0), 0);
  return { sliding: sum('sliding'), full: sum('full') };
}

for (const name of ['gpt-oss', 'gpt-oss-mxfp4']) {
  const ref = readReference(name);
  const ids = ref.ids[2]!; // 100 tokens, far past the sliding window

  test(`${name}: decoding past the sliding window matches the full forward (one token at a time, and in chunks)`, () => {
    const model = loadFixture(name);
    const window = model.spec.slidingWindow!;
    assert.ok(ids.length > 4 * window, 'the prompt must run past the window');
    const vocab = model.spec.vocabSize;
    const full = model.forward(ids, model.newCache());
    for (const chunks of [[1], [5, 7]]) {
      const cache = model.newCache();
      const got = new Float32Array(ids.length * vocab);
      const sizes: Array<{ sliding: number; full: number }> = [];
      for (let at = 0, c = 0; at < ids.length; c++) {
        const n = Math.min(chunks[Math.min(c, chunks.length - 1)]!, ids.length - at);
        got.set(model.forward(ids.slice(at, at + n), cache), at * vocab);
        at += n;
        sizes.push(cacheBytes(model, cache));
      }
      assert.equal(cache.length, ids.length);
      const dRef = maxAbsDiff(got, ref.logits[2]!);
      const dFull = maxAbsDiff(got, full);
      console.log(`# ${name} chunks ${chunks}: vs reference ${dRef}, vs full forward ${dFull}`);
      assert.ok(dRef <= ATOL, `vs reference: ${dRef}`);
      assert.ok(dFull <= ATOL, `vs full forward: ${dFull}`);
      // Sliding layers never grow; full layers do.
      assert.ok(sizes.every((s) => s.sliding === sizes[0]!.sliding), 'sliding layers grew');
      assert.ok(sizes.at(-1)!.full > sizes[0]!.full, 'full layers did not grow');
    }
  });

  test(`${name}: the sliding layers' cache is a ring of window positions`, () => {
    const model = loadFixture(name);
    const cache = model.newCache();
    model.forward(ids, cache);
    const { numKvHeads, headDim } = model.spec.attention as GqaAttentionSpec;
    model.spec.layers.forEach((l, i) => {
      const layer = cache.layers[i]!;
      if (l.attention === 'sliding') {
        assert.ok(layer instanceof RingCache);
        assert.equal(layer.allocatedBytes(), model.spec.slidingWindow! * 2 * numKvHeads * headDim * 4);
      } else assert.ok(layer instanceof FullCache);
    });
    // Only the full layers cost memory per further token.
    const fullLayers = model.spec.layers.filter((l) => l.attention === 'full').length;
    assert.equal(cache.bytesPerToken(), fullLayers * 2 * numKvHeads * headDim * 4);
  });
}

/** A reference backend that tracks the buffers alloc() handed out and free() took back. */
class CountingBackend extends RefBackend {
  readonly live = new Set<Float32Array>();
  override alloc(length: number): Float32Array {
    const buf = super.alloc(length);
    this.live.add(buf);
    return buf;
  }
  override free(buf: Float32Array): void {
    this.live.delete(buf);
  }
}

for (const name of ['gpt-oss', 'qwen3-dense', 'deepseek-v3']) {
  test(`${name}: ModelCache.release hands every cache buffer back, and the cache works again after it`, () => {
    const backend = new CountingBackend();
    const model = loadFixture(name, backend);
    const ids = readReference(name).ids[0]!;
    const before = new Set(backend.live);
    const cache = model.newCache();
    const first = model.forward(ids, cache, { logits: 'last' });
    assert.ok(backend.live.size > before.size, 'the cache took no backend memory');
    assert.ok(cache.allocatedBytes() > 0);
    cache.release();
    assert.deepEqual([...backend.live].filter((b) => !before.has(b)), [], 'buffers still held after release');
    assert.equal(cache.length, 0);
    assert.equal(cache.allocatedBytes(), 0);
    const again = model.forward(ids, cache, { logits: 'last' });
    assert.deepEqual(again, first);
  });
}
