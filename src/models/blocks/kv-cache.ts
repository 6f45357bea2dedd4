/**
 * Per-layer KV caches. Attention reads whatever `append` returns: old rows plus the new ones, each
 * row tagged with its absolute position (masking is by position, so row order does not matter).
 *   FullCache   every position (full-attention layers; MLA's latent cache with v aliasing k)
 *   RingCache   only the last `window` positions (sliding-window layers)
 */
import type { Backend } from '../../backend/backend.js';

export interface KvView {
  k: Float32Array;
  v: Float32Array;
  kPos: Int32Array;
  nk: number;
  kStride: number;
  vStride: number;
  /** Elements from one kv head to the next (AttentionArgs.kHeadStride; omitted: side by side in a row). */
  kHeadStride?: number;
  vHeadStride?: number;
}

export interface LayerCache {
  /** Tokens appended so far. */
  readonly length: number;
  /** Append n rows (k: n × kWidth, v: n × vWidth or null when v aliases k) and view everything attention may read. */
  append(k: Float32Array, v: Float32Array | null, n: number, positions: Int32Array): KvView;
  /** Whether truncate(len) can succeed (a ring that already overwrote needed rows cannot). */
  canTruncate(len: number): boolean;
  /** Forget every token from index len on; false (and nothing changed) when this cache cannot. */
  truncate(len: number): boolean;
  /** Bytes of cache storage currently allocated. */
  allocatedBytes(): number;
  /** Hands the storage back to the backend for reuse and empties the cache (still usable: it allocates again on demand). */
  release(): void;
  /** Allocated bytes per token of capacity (what each further token costs). */
  bytesPerToken(): number;
}

/**
 * Every position; grows by doubling. With vWidth 0, the view's v aliases k (MLA latent). With
 * `heads` > 1 the storage is head-major, [head][position][width / heads]: attention then walks one
 * head's keys contiguously, where position-major rows of all heads would put each key on its own page.
 */
export class FullCache implements LayerCache {
  private cap = 0;
  private k = new Float32Array(0);
  private v = new Float32Array(0);
  private pos = new Int32Array(0);
  length = 0;

  constructor(
    private readonly backend: Backend,
    readonly kWidth: number,
    readonly vWidth: number,
    readonly heads = 1,
  ) {
    if (!Number.isInteger(heads) || heads < 1 || kWidth % heads !== 0 || vWidth % heads !== 0 || (vWidth === 0 && heads !== 1))
      throw new RangeError(`FullCache: widths ${kWidth}/${vWidth} do not split into ${heads} heads`);
  }

  private reserve(need: number): void {
    if (need <= this.cap) return;
    // A prompt's first reservation leaves room to generate after it (half the prompt, at most 4096
    // tokens), so the first decode step does not move the whole cache; later growth doubles.
    const cap = this.cap ? Math.max(need, this.cap * 2) : Math.max(16, need + Math.min(Math.ceil(need / 2), 4096));
    const k = this.backend.alloc(cap * this.kWidth);
    this.moveRows(this.k, k, this.kWidth, cap);
    const v = this.vWidth ? this.backend.alloc(cap * this.vWidth) : k;
    if (this.vWidth) this.moveRows(this.v, v, this.vWidth, cap);
    const pos = new Int32Array(cap);
    pos.set(this.pos.subarray(0, this.length));
    if (this.cap) {
      this.backend.free(this.k);
      if (this.vWidth) this.backend.free(this.v);
    }
    Object.assign(this, { k, v, pos, cap });
  }

  /** Copies the stored rows of every head from a buffer of the current capacity to one of `cap`. */
  private moveRows(from: Float32Array, to: Float32Array, width: number, cap: number): void {
    const w = width / this.heads;
    for (let h = 0; h < this.heads; h++) to.set(from.subarray(h * this.cap * w, (h * this.cap + this.length) * w), h * cap * w);
  }

  /** Writes n new rows [n, width] after the stored ones, each head's part into its own block. */
  private writeRows(dst: Float32Array, src: Float32Array, width: number, n: number): void {
    if (this.heads === 1) return dst.set(src.subarray(0, n * width), this.length * width);
    const w = width / this.heads;
    for (let i = 0; i < n; i++)
      for (let h = 0; h < this.heads; h++) dst.set(src.subarray(i * width + h * w, i * width + (h + 1) * w), (h * this.cap + this.length + i) * w);
  }

  append(k: Float32Array, v: Float32Array | null, n: number, positions: Int32Array): KvView {
    this.reserve(this.length + n);
    this.writeRows(this.k, k, this.kWidth, n);
    if (this.vWidth && v) this.writeRows(this.v, v, this.vWidth, n);
    this.pos.set(positions.subarray(0, n), this.length);
    this.length += n;
    const kw = this.kWidth / this.heads;
    const vw = (this.vWidth || this.kWidth) / this.heads;
    return {
      k: this.k,
      v: this.v,
      kPos: this.pos,
      nk: this.length,
      kStride: kw,
      vStride: vw,
      kHeadStride: this.cap * kw,
      vHeadStride: this.cap * vw,
    };
  }

  canTruncate(_len: number): boolean {
    return true;
  }

  release(): void {
    if (this.cap) {
      this.backend.free(this.k);
      if (this.vWidth) this.backend.free(this.v);
    }
    Object.assign(this, { k: new Float32Array(0), v: new Float32Array(0), pos: new Int32Array(0), cap: 0, length: 0 });
  }

  truncate(len: number): boolean {
    this.length = Math.min(this.length, len);
    return true;
  }

  /** Measured from the buffers actually held. */
  allocatedBytes(): number {
    return this.k.byteLength + (this.vWidth ? this.v.byteLength : 0);
  }

  bytesPerToken(): number {
    return this.cap ? this.allocatedBytes() / this.cap : (this.kWidth + this.vWidth) * 4;
  }
}

/** The last `window` positions only: a sliding-window layer's cache never grows past its window. */
export class RingCache implements LayerCache {
  private k: Float32Array = new Float32Array(0);
  private v: Float32Array = new Float32Array(0);
  private readonly pos: Int32Array;
  length = 0;

  constructor(
    private readonly backend: Backend,
    readonly kWidth: number,
    readonly vWidth: number,
    readonly window: number,
  ) {
    this.pos = new Int32Array(window);
  }

  append(k: Float32Array, v: Float32Array | null, n: number, positions: Int32Array): KvView {
    if (!v) throw new Error('RingCache needs values');
    const { kWidth, vWidth, window } = this;
    // Storage is taken on first use (and again after release).
    if (this.k.length === 0) {
      this.k = this.backend.alloc(window * kWidth);
      this.v = this.backend.alloc(window * vWidth);
    }
    // Attention reads the kept rows followed by the new ones; only the last `window` are stored back.
    const kept = Math.min(this.length, window);
    const nk = kept + n;
    const kv = { k: new Float32Array(nk * kWidth), v: new Float32Array(nk * vWidth), kPos: new Int32Array(nk) };
    kv.k.set(this.k.subarray(0, kept * kWidth));
    kv.v.set(this.v.subarray(0, kept * vWidth));
    kv.kPos.set(this.pos.subarray(0, kept));
    kv.k.set(k.subarray(0, n * kWidth), kept * kWidth);
    kv.v.set(v.subarray(0, n * vWidth), kept * vWidth);
    kv.kPos.set(positions.subarray(0, n), kept);
    for (let i = Math.max(0, n - window); i < n; i++) {
      const slot = (this.length + i) % window;
      this.k.set(k.subarray(i * kWidth, (i + 1) * kWidth), slot * kWidth);
      this.v.set(v.subarray(i * vWidth, (i + 1) * vWidth), slot * vWidth);
      this.pos[slot] = positions[i]!;
    }
    this.length += n;
    return { ...kv, nk, kStride: kWidth, vStride: vWidth };
  }

  canTruncate(len: number): boolean {
    // Keeping positions len - window .. len - 1 is possible only while nothing was overwritten yet.
    return len >= this.length || len === 0 || this.length <= this.window;
  }

  truncate(len: number): boolean {
    if (!this.canTruncate(len)) return false;
    this.length = Math.min(this.length, len);
    return true;
  }

  allocatedBytes(): number {
    return this.k.byteLength + this.v.byteLength;
  }

  bytesPerToken(): number {
    return 0;
  }

  release(): void {
    this.backend.free(this.k);
    this.backend.free(this.v);
    this.k = new Float32Array(0);
    this.v = new Float32Array(0);
    this.length = 0;
  }
}
