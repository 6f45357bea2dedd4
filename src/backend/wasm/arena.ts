/**
 * Arenas: shared WebAssembly memories (each under 4 GiB, the wasm32 limit) that together hold a model.
 * Arena 0 also holds every activation buffer; kernels of a weight in another arena get their inputs
 * copied into that arena's staging area and their outputs copied back (small next to the weight).
 */
import { type Kernel, kernelImports, kernelTable } from './control.js';

const PAGE = 65536;
/** Pages a memory may reach: 4 GiB less one page, so every address and end fits in a u32. */
const MAX_PAGES = 65535;
export const ARENA_MAX_BYTES = MAX_PAGES * PAGE;
const ALIGN = 64;

export class Arena {
  readonly memory: WebAssembly.Memory;
  /** This thread's kernels on this arena. */
  readonly kernels: Kernel[];
  readonly exports: WebAssembly.Exports;
  /** Bytes holding weights (the rest is activations, staging and scratch). */
  weightBytes = 0;
  private top: number;
  private u8!: Uint8Array;
  private staging = { ptr: 0, cap: 0, used: 0 };
  private scratch = { ptr: 0, stride: 0, threads: 0 };

  constructor(
    readonly index: number,
    module: WebAssembly.Module,
    private readonly onBuffer: (buf: ArrayBufferLike, arena: Arena) => void,
  ) {
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const instance = new WebAssembly.Instance(module, kernelImports(this.memory));
    this.exports = instance.exports;
    this.kernels = kernelTable(instance);
    this.top = align((this.exports.heap_base as () => number)());
    this.refresh();
  }

  get bytes(): Uint8Array {
    return this.u8;
  }

  get used(): number {
    return this.top;
  }

  /** Reserves byteLength bytes (64-byte aligned), growing the memory; throws past 4 GiB. */
  reserve(byteLength: number): number {
    const ptr = this.top;
    const end = ptr + align(byteLength);
    if (end > ARENA_MAX_BYTES) throw new RangeError(`wasm arena ${this.index} full: ${end} bytes requested, at most ${ARENA_MAX_BYTES}`);
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Grow geometrically (at most 256 MiB at a time) so a loader's many small requests stay cheap.
      const want = Math.max(end, Math.min(have * 2, have + 256 * 2 ** 20));
      this.memory.grow(Math.min(MAX_PAGES, Math.ceil(want / PAGE)) - have / PAGE);
      this.refresh();
    }
    this.top = end;
    return ptr;
  }

  /** Whether byteLength more bytes fit below cap (a soft limit for weights). */
  fits(byteLength: number, cap: number): boolean {
    return this.top + align(byteLength) <= Math.min(cap, ARENA_MAX_BYTES);
  }

  /** Starts an op: staging taken during the previous op is reused. */
  beginOp(): void {
    this.staging.used = 0;
  }

  /** byteLength bytes of staging valid until the next beginOp(). */
  stage(byteLength: number): number {
    const s = this.staging;
    const need = align(byteLength);
    if (s.used + need > s.cap) {
      // Outgrown: a fresh region (the old one stays valid for pointers already handed out this op).
      s.cap = Math.max(need, 2 * s.cap, 1 << 20);
      s.ptr = this.reserve(s.cap);
      s.used = 0;
    }
    const p = s.ptr + s.used;
    s.used += need;
    return p;
  }

  /** Base of a per-thread scratch area of at least `stride` bytes for each of `threads` threads. */
  threadScratch(stride: number, threads: number): { base: number; stride: number } {
    const sc = this.scratch;
    if (stride > sc.stride || threads > sc.threads) {
      sc.stride = align(Math.max(stride, sc.stride));
      sc.threads = Math.max(threads, sc.threads);
      sc.ptr = this.reserve(sc.stride * sc.threads);
    }
    return { base: sc.ptr, stride: sc.stride };
  }

  private refresh(): void {
    this.u8 = new Uint8Array(this.memory.buffer);
    this.onBuffer(this.memory.buffer, this);
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
