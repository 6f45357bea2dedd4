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
  /** Allocated bytes per token of capacity (what each further token costs). */
  bytesPerToken(): number;
}

/** Every position; grows by doubling. With vWidth 0, the view's v aliases k (MLA latent). */
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
  ) {}

  private reserve(need: number): void {
    if (need <= this.cap) return;
    const cap = Math.max(need, this.cap * 2, 16);
    const k = this.backend.alloc(cap * this.kWidth);
    k.set(this.k.subarray(0, this.length * this.kWidth));
    const v = this.vWidth ? this.backend.alloc(cap * this.vWidth) : k;
    if (this.vWidth) v.set(this.v.subarray(0, this.length * this.vWidth));
    const pos = new Int32Array(cap);
    pos.set(this.pos.subarray(0, this.length));
    if (this.cap) {
      this.backend.free(this.k);
      if (this.vWidth) this.backend.free(this.v);
    }
    Object.assign(this, { k, v, pos, cap });
  }

  append(k: Float32Array, v: Float32Array | null, n: number, positions: Int32Array): KvView {
    this.reserve(this.length + n);
    this.k.set(k.subarray(0, n * this.kWidth), this.length * this.kWidth);
    if (this.vWidth && v) this.v.set(v.subarray(0, n * this.vWidth), this.length * this.vWidth);
    this.pos.set(positions.subarray(0, n), this.length);
    this.length += n;
    return {
      k: this.k,
      v: this.v,
      kPos: this.pos,
      nk: this.length,
      kStride: this.kWidth,
      vStride: this.vWidth || this.kWidth,
    };
  }

  canTruncate(_len: number): boolean {
    return true;
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
  private readonly k: Float32Array;
  private readonly v: Float32Array;
  private readonly pos: Int32Array;
  length = 0;

  constructor(
    private readonly backend: Backend,
    readonly kWidth: number,
    readonly vWidth: number,
    readonly window: number,
  ) {
    this.k = backend.alloc(window * kWidth);
    this.v = backend.alloc(window * vWidth);
    this.pos = new Int32Array(window);
  }

  append(k: Float32Array, v: Float32Array | null, n: number, positions: Int32Array): KvView {
    if (!v) throw new Error('RingCache needs values');
    const { kWidth, vWidth, window } = this;
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
}
