/**
 * The fast CPU backend: WebAssembly SIMD kernels (assembly/, AssemblyScript) run by the calling
 * thread and a pool of workers over shared memories. Tested op by op against RefBackend.
 *
 * Memory: weights live in arenas (shared memories < 4 GiB each, filled in turn); activations from
 * alloc() live in arena 0 with the first weights. An op on a weight in another arena stages its
 * activations there and copies the result back. Arrays the backend did not hand out (a model's own
 * Float32Array, Int32Array positions) are staged the same way, so every op accepts any array.
 */
import { ropeAngles, type AttentionArgs, type Backend, type RopeArgs, type RopeTable } from '../backend.js';
import { GGML_BLOCK, type GgmlBlockFormat, type Weight, type WeightFormat } from '../../tensor/weight.js';
import { OwlError } from '../../errors.js';
import { RefBackend } from '../ref/ref-backend.js';
import { Arena, ARENA_MAX_BYTES } from './arena.js';
import { OP } from './control.js';
import { ThreadPool } from './pool.js';
import { hostPlatform, type WasmPlatform } from './platform.js';

export interface WasmBackendOptions {
  /** Threads doing the work, the calling one included (default: the number of cores). */
  threads?: number;
  /** Weight bytes placed in an arena before the next one is opened (default 3 GiB; at most 4 GiB). */
  arenaWeightBytes?: number;
  /**
   * Polls of the control block before a waiting thread blocks in Atomics.wait (default 20000, about
   * 0.25 ms). Most gaps between a forward pass's parallel ops are shorter, so the workers catch the
   * next op without a futex round trip (~20 µs in a VM): measured on 2 cores, decode ~15% faster
   * than with 2000 polls, which let half the ops find the worker asleep. 0 blocks at once, for
   * machines where other processes compete for the cores.
   */
  spin?: number;
  /** Ops with less work (multiply-adds or elements) run on the calling thread alone (default 262144; tests use 1). */
  minParallelWork?: number;
  /**
   * Use the relaxed-SIMD kernels (fused multiply-add; last bits may differ by machine) where the
   * runtime has them (default true; false forces the baseline SIMD128 build).
   */
  relaxedSimd?: boolean;
  /** Where kernels and workers come from (default: this runtime's, Node or browser). */
  platform?: WasmPlatform;
}

/** Where a prepared weight sits: its arena and the byte addresses of its data and scales there. */
export interface WasmPlacement {
  owner: WasmBackend;
  arena: number;
  data: number;
  scales: number;
}

/** Formats with the f32-family kernels (ggml blocks have their own, GGML_CODE); others run through the reference. */
type KernelFormat = 'f32' | 'f16' | 'bf16' | 'fp8_e4m3' | 'mxfp4';
const MATVEC: Record<KernelFormat, number> = {
  f32: OP.matvec_f32_f32w, f16: OP.matvec_f32_f16w, bf16: OP.matvec_f32_bf16w, fp8_e4m3: OP.matvec_f32_fp8w, mxfp4: OP.matvec_f32_mxfp4w,
};
const MATMUL: Record<KernelFormat, number> = {
  f32: OP.matmul_f32_f32w, f16: OP.matmul_f32_f16w, bf16: OP.matmul_f32_bf16w, fp8_e4m3: OP.matmul_f32_fp8w, mxfp4: OP.matmul_f32_mxfp4w,
};
/** Format codes of assembly/dequant.ts. */
const FORMAT_CODE: Record<KernelFormat, number> = { f32: 0, f16: 1, bf16: 2, fp8_e4m3: 3, mxfp4: 4 };
/** Default minParallelWork: about 30 µs of work, against a ~20 µs round trip to wake the workers. */
const PARALLEL_MIN = 1 << 18;
const DEFAULT_ARENA_WEIGHT_BYTES = 3 * 2 ** 30;
const DEFAULT_SPIN = 20000;

/**
 * Bytes reserved for an alloc() of `bytes`: the next of four steps per doubling (at most 25% more).
 * Free lists are per class, so buffers of nearby sizes reuse each other: with exact sizes every MoE
 * expert's token count made new sizes, and a gpt-oss-20b 512-token prefill grew arena 0 by ~800 MB.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const step = 2 ** (Math.ceil(Math.log2(bytes)) - 3);
  return Math.ceil(bytes / step) * step;
}
/** Format codes of assembly/ggml.ts. */
const GGML_CODE: Record<string, number> = { q8_0: 0, q4_0: 1, q4_k: 2, q5_k: 3, q6_k: 4 } satisfies Record<GgmlBlockFormat, number>;

function hasKernels(f: WeightFormat): f is KernelFormat {
  return f in MATVEC;
}

type Fn = (...args: number[]) => number;

export class WasmBackend implements Backend {
  readonly name = 'wasm';
  private readonly arenas: Arena[] = [];
  private readonly owner = new WeakMap<ArrayBufferLike, Arena>();
  /** alloc() buffers: live ones by address (their byte length), freed ones by size class for reuse. */
  private readonly live = new Map<number, number>();
  private readonly freeLists = new Map<number, number[]>();
  /** Weights used without prepareWeight(): prepared on first use. */
  private readonly adopted = new WeakMap<Weight, Weight>();
  /** Outputs computed in staging, copied to the caller's arrays when the op ends. */
  private readonly pending: { arena: Arena; dst: Float32Array; ptr: number; length: number }[] = [];
  private pool!: ThreadPool;
  private readonly ref = new RefBackend();
  private ropeMemo: { table: RopeTable; positions: Int32Array; angles: Float32Array } | null = null;

  private constructor(
    private readonly module: WebAssembly.Module,
    readonly threads: number,
    private readonly arenaWeightBytes: number,
    /** Whether the relaxed-SIMD kernels run (fused multiply-add; results may differ in the last bits by machine). */
    readonly relaxedSimd: boolean,
    private readonly minParallelWork: number,
  ) {}

  static async create(opts: WasmBackendOptions = {}): Promise<WasmBackend> {
    const platform = opts.platform ?? (await hostPlatform());
    const threads = opts.threads ?? platform.cores();
    if (!Number.isInteger(threads) || threads < 1) throw new OwlError(`wasm backend: threads must be a positive integer, got ${threads}`);
    const cap = opts.arenaWeightBytes ?? DEFAULT_ARENA_WEIGHT_BYTES;
    if (!(cap > 0)) throw new OwlError(`wasm backend: arenaWeightBytes must be positive, got ${cap}`);
    const spin = opts.spin ?? DEFAULT_SPIN;
    if (!Number.isInteger(spin) || spin < 0) throw new OwlError(`wasm backend: spin must be a non-negative integer, got ${spin}`);
    const minWork = opts.minParallelWork ?? PARALLEL_MIN;
    if (!(minWork >= 0)) throw new OwlError(`wasm backend: minParallelWork must be >= 0, got ${minWork}`);
    const { module, relaxed } = await platform.loadKernels(opts.relaxedSimd ?? true);
    const b = new WasmBackend(module, threads, Math.min(cap, ARENA_MAX_BYTES), relaxed, minWork);
    b.newArena();
    b.pool = await ThreadPool.start(platform, threads, spin, module, [b.arenas[0]!.memory]);
    return b;
  }

  /** Stops the worker threads; later ops run on the calling thread alone. */
  async dispose(): Promise<void> {
    await this.pool.close();
  }

  /** Number of arenas (shared memories) in use. */
  get arenaCount(): number {
    return this.arenas.length;
  }

  // ---- memory ----

  alloc(length: number): Float32Array {
    if (length === 0) return new Float32Array(0);
    const a = this.arenas[0]!;
    const bytes = length * 4;
    let ptr = this.freeLists.get(sizeClass(bytes))?.pop();
    if (ptr === undefined) ptr = a.reserve(sizeClass(bytes));
    else (a.exports.zero_bytes as Fn)(ptr, bytes);
    this.live.set(ptr, bytes);
    return new Float32Array(a.bytes.buffer, ptr, length);
  }

  free(buf: Float32Array): void {
    if (this.owner.get(buf.buffer) !== this.arenas[0] || this.live.get(buf.byteOffset) !== buf.byteLength) return;
    this.live.delete(buf.byteOffset);
    const cls = sizeClass(buf.byteLength);
    let list = this.freeLists.get(cls);
    if (!list) this.freeLists.set(cls, (list = []));
    list.push(buf.byteOffset);
  }

  allocWeightBytes(byteLength: number): Uint8Array {
    const a = this.weightArena(byteLength);
    const ptr = a.reserve(byteLength);
    a.weightBytes += byteLength;
    return new Uint8Array(a.bytes.buffer, ptr, byteLength);
  }

  prepareWeight(w: Weight): Weight {
    checkWeight(w);
    let a = this.owner.get(w.data.buffer);
    let data = w.data;
    let scales = w.scales;
    if (!a) {
      a = this.weightArena(data.byteLength + (scales?.byteLength ?? 0) + 128);
      data = this.copyInto(a, data);
      a.weightBytes += data.byteLength;
    }
    // Scales must sit in the data's arena (loaders often decode FP8 scales into ordinary memory).
    if (scales && this.owner.get(scales.buffer) !== a) scales = this.copyInto(a, scales);
    const handle: WasmPlacement = { owner: this, arena: a.index, data: data.byteOffset, scales: scales?.byteOffset ?? 0 };
    return { ...w, data, scales, handle };
  }

  // ---- ops ----

  matmul(out: Float32Array, x: Float32Array, w: Weight, n: number): void {
    const { rows, cols, format } = w;
    if (format in GGML_CODE) return this.matmulGgml(out, x, w, n);
    if (!hasKernels(format)) return this.ref.matmul(out, x, w, n);
    const m = this.beginMatmul(out, x, w, n);
    if (!m) return;
    const { a, p, xp, op, parallel } = m;
    const [br, bc] = w.block ?? [1, 1];
    const args = this.pool.args;
    if (n === 1) {
      const xin = this.permuted(a, format, xp, cols, bc);
      args.set([op, xin, p.data, cols, p.scales, br, bc]);
      this.run(a, MATVEC[format], rows, 8, parallel);
    } else {
      const sc = a.threadScratch((a.exports.matmul_scratch_bytes as Fn)(cols), this.threads);
      args.set([op, xp, p.data, n, rows, cols, sc.base, sc.stride, p.scales, br, bc]);
      this.run(a, MATMUL[format], rows, 4, parallel);
    }
    this.flush();
  }

  embed(out: Float32Array, table: Weight, ids: Int32Array): void {
    const format = table.format;
    if (!hasKernels(format) && !(format in GGML_CODE)) return this.ref.embed(out, table, ids);
    const n = ids.length;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= table.rows) throw new RangeError(`token id ${id} outside the vocabulary (${table.rows})`);
    }
    need(out, n * table.cols, 'embed out');
    if (n === 0) return;
    const p = this.place(table);
    const a = this.arenas[p.arena]!;
    a.beginOp();
    const op = this.output(a, out, n * table.cols, false);
    const ip = this.input(a, ids, n);
    const [br, bc] = table.block ?? [1, 1];
    if (hasKernels(format)) this.pool.args.set([op, ip, p.data, FORMAT_CODE[format], table.cols, p.scales, br, bc]);
    else this.pool.args.set([op, ip, p.data, GGML_CODE[format as GgmlBlockFormat], table.cols]);
    this.run(a, hasKernels(format) ? OP.embed_rows : OP.embed_ggml, n, 1, n * table.cols >= this.minParallelWork);
    this.flush();
  }

  rmsNorm(out: Float32Array, x: Float32Array, gamma: Float32Array, n: number, dim: number, eps: number): void {
    const len = n * dim;
    need(x, len, 'rmsNorm x');
    need(out, len, 'rmsNorm out');
    need(gamma, dim, 'rmsNorm gamma');
    if (len === 0) return;
    const a = this.begin();
    const xp = this.input(a, x, len);
    this.pool.args.set([this.output(a, out, len, false), xp, this.input(a, gamma, dim), dim, eps]);
    this.run(a, OP.rms_norm, n, 1, len >= this.minParallelWork);
    this.flush();
  }

  rope({ x, n, heads, stride, offset, positions, table }: RopeArgs): void {
    if (offset + table.dim > stride) throw new RangeError(`rope: offset ${offset} + dim ${table.dim} exceeds the head stride ${stride}`);
    need(x, n * heads * stride, 'rope x');
    need(positions, n, 'rope positions');
    need(table.invFreq, table.dim / 2, 'rope invFreq');
    if (n === 0) return;
    const cs = this.ropeAnglesFor(table, positions, n);
    const a = this.begin();
    const xp = this.output(a, x, n * heads * stride, true);
    this.pool.args.set([xp, heads, stride, offset, cs.byteOffset, table.dim, table.layout === 'interleaved' ? 1 : 0]);
    this.run(a, OP.rope, n, 1, n * heads * table.dim >= this.minParallelWork);
    this.flush();
  }

  /**
   * cos/sin for these positions, in arena 0. Every layer of a forward pass rotates q and k at the
   * same positions with the same table, so the last result is kept and reused while both match
   * (model loaders share one RopeTable per spec).
   */
  private ropeAnglesFor(table: RopeTable, positions: Int32Array, n: number): Float32Array {
    const m = this.ropeMemo;
    if (m && m.table === table && m.positions.length === n && m.positions.every((p, i) => p === positions[i])) return m.angles;
    if (m) this.free(m.angles);
    const angles = ropeAngles(table, positions, n, this.alloc(n * table.dim));
    this.ropeMemo = { table, positions: positions.slice(0, n), angles };
    return angles;
  }

  attention(args: AttentionArgs): void {
    const { q, k, v, out, nq, nk, numHeads, numKvHeads, dk, dv, scale, qPos, kPos, window, sinks } = args;
    if (numKvHeads < 1 || numHeads % numKvHeads !== 0) throw new RangeError(`attention: ${numHeads} heads cannot share ${numKvHeads} kv heads`);
    const kStride = args.kStride ?? numKvHeads * dk;
    const vStride = args.vStride ?? numKvHeads * dv;
    const kHead = args.kHeadStride ?? dk;
    const vHead = args.vHeadStride ?? dv;
    const kLen = nk === 0 ? 0 : (nk - 1) * kStride + (numKvHeads - 1) * kHead + dk;
    const vLen = nk === 0 ? 0 : (nk - 1) * vStride + (numKvHeads - 1) * vHead + dv;
    need(q, nq * numHeads * dk, 'attention q');
    need(out, nq * numHeads * dv, 'attention out');
    need(k, kLen, 'attention k');
    need(v, vLen, 'attention v');
    need(qPos, nq, 'attention qPos');
    need(kPos, nk, 'attention kPos');
    if (sinks) need(sinks, numHeads, 'attention sinks');
    if (nq === 0) return;
    const a = this.begin();
    const sc = a.threadScratch((a.exports.attention_scratch_bytes as Fn)(), this.threads);
    this.pool.args.set([
      this.input(a, q, nq * numHeads * dk), this.input(a, k, kLen), this.input(a, v, vLen), this.output(a, out, nq * numHeads * dv, false),
      nk, numHeads, numHeads / numKvHeads, dk, dv, kStride, vStride, scale,
      this.input(a, qPos, nq), this.input(a, kPos, nk), window ?? -1, sinks ? this.input(a, sinks, numHeads) : 0, sc.base, sc.stride, nq,
      kHead, vHead,
    ]);
    const items = (a.exports.attention_items as Fn)(nq, numKvHeads, numHeads / numKvHeads);
    this.run(a, OP.attention, items, 1, nq * numHeads * nk * (dk + dv) >= this.minParallelWork);
    this.flush();
  }

  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, len: number): void {
    this.elementwise(OP.swiglu, out, gate, up, len, []);
  }

  swigluClamped(out: Float32Array, gate: Float32Array, up: Float32Array, len: number, limit: number, alpha: number): void {
    this.elementwise(OP.swiglu_clamped, out, gate, up, len, [limit, alpha]);
  }

  addBias(x: Float32Array, bias: Float32Array, n: number): void {
    const dim = bias.length;
    need(x, n * dim, 'addBias x');
    if (n * dim === 0) return;
    const a = this.begin();
    this.pool.args.set([this.output(a, x, n * dim, true), this.input(a, bias, dim), dim]);
    this.run(a, OP.add_bias, n, 1, n * dim >= this.minParallelWork);
    this.flush();
  }

  addScaled(out: Float32Array, a: Float32Array, b: Float32Array, s: number, len: number): void {
    this.elementwise(OP.add_scaled, out, a, b, len, [s]);
  }

  softmax(x: Float32Array, n: number, dim: number): void {
    need(x, n * dim, 'softmax x');
    if (n * dim === 0) return;
    const a = this.begin();
    this.pool.args.set([this.output(a, x, n * dim, true), dim]);
    this.run(a, OP.softmax, n, 1, n * dim >= this.minParallelWork);
    this.flush();
  }

  /** Benchmarks: reads every 64-byte line of buf (in backend memory) on all threads, as the matvec kernels read weights. */
  probeRead(buf: Uint8Array): void {
    const a = this.owner.get(buf.buffer);
    if (!a) throw new RangeError('probeRead: the buffer is not in backend memory');
    a.beginOp();
    const sink = a.threadScratch(16, this.threads).base;
    this.pool.args.set([buf.byteOffset, sink]);
    this.run(a, OP.probe_read, Math.floor(buf.byteLength / 64), 1024, true);
  }

  /** ggml block formats (assembly/ggml.ts): blocks decoded in registers (n = 1) or per row block (n > 1). */
  private matmulGgml(out: Float32Array, x: Float32Array, w: Weight, n: number): void {
    const { rows, cols } = w;
    const m = this.beginMatmul(out, x, w, n);
    if (!m) return;
    const { a, p, xp, op, parallel } = m;
    const code = GGML_CODE[w.format as GgmlBlockFormat];
    if (n === 1) {
      // K-quants' min terms need Σx per 32 columns: computed once here, not per row.
      const xs = w.format === 'q4_k' || w.format === 'q5_k' ? a.stage(cols / 8) : 0;
      if (xs) (a.exports.ggml_block_sums as Fn)(xp, xs, cols);
      this.pool.args.set([op, xp, p.data, cols, code, xs]);
      this.run(a, OP.matvec_ggml, rows, 8, parallel);
    } else {
      const sc = a.threadScratch((a.exports.matmul_scratch_bytes as Fn)(cols), this.threads);
      this.pool.args.set([op, xp, p.data, n, rows, cols, sc.base, sc.stride, code]);
      this.run(a, OP.matmul_ggml, rows, 4, parallel);
    }
    this.flush();
  }

  // ---- plumbing ----

  /** Shared start of every matmul: check sizes, place x and out in the weight's arena; null when there is nothing to do. */
  private beginMatmul(out: Float32Array, x: Float32Array, w: Weight, n: number) {
    const { rows, cols } = w;
    const p = this.place(w);
    need(x, n * cols, 'matmul x');
    need(out, n * rows, 'matmul out');
    if (n === 0 || rows === 0) return null;
    const a = this.arenas[p.arena]!;
    a.beginOp();
    const xp = this.input(a, x, n * cols);
    const op = this.output(a, out, n * rows, false);
    return { a, p, xp, op, parallel: n * rows * cols >= this.minParallelWork };
  }

  private elementwise(op: number, out: Float32Array, x: Float32Array, y: Float32Array, len: number, extra: number[]): void {
    need(x, len, 'input');
    need(y, len, 'input');
    need(out, len, 'output');
    if (len === 0) return;
    const a = this.begin();
    const xp = this.input(a, x, len);
    const yp = this.input(a, y, len);
    this.pool.args.set([this.output(a, out, len, false), xp, yp, ...extra]);
    this.run(a, op, len, 16, len >= this.minParallelWork);
    this.flush();
  }

  private begin(): Arena {
    const a = this.arenas[0]!;
    a.beginOp();
    return a;
  }

  private run(a: Arena, op: number, total: number, grain: number, parallel: boolean): void {
    this.pool.dispatch(a.index, op, a.kernels[op]!, total, grain, parallel);
  }

  /** Address of arr's first `length` elements in arena a, staging a copy if it lives elsewhere. */
  private input(a: Arena, arr: Float32Array | Int32Array, length: number): number {
    if (this.owner.get(arr.buffer) === a) return arr.byteOffset;
    const p = a.stage(length * 4);
    const view = arr instanceof Int32Array ? new Int32Array(a.bytes.buffer, p, length) : new Float32Array(a.bytes.buffer, p, length);
    view.set(arr.subarray(0, length));
    return p;
  }

  /** Address to write arr's first `length` elements; staged outputs are copied back by flush(). */
  private output(a: Arena, arr: Float32Array, length: number, copyIn: boolean): number {
    if (this.owner.get(arr.buffer) === a) return arr.byteOffset;
    const p = copyIn ? this.input(a, arr, length) : a.stage(length * 4);
    this.pending.push({ arena: a, dst: arr, ptr: p, length });
    return p;
  }

  private flush(): void {
    // Byte views: V8 copies f32 out of shared memory element by element, bytes as one block (into
    // a fresh array of 152K floats: ~350 -> ~160 µs in a microbenchmark).
    for (const { arena, dst, ptr, length } of this.pending)
      new Uint8Array(dst.buffer, dst.byteOffset, length * 4).set(new Uint8Array(arena.bytes.buffer, ptr, length * 4));
    this.pending.length = 0;
  }

  /** x in the lane order the format's matvec decoder produces (see assembly/permute.ts). */
  private permuted(a: Arena, format: KernelFormat, xp: number, cols: number, bc: number): number {
    const fp8 = format === 'fp8_e4m3' && bc % 16 === 0;
    const name = format === 'bf16' || format === 'f16' || fp8 ? 'permute_pairs' : format === 'mxfp4' ? 'permute_mxfp4' : null;
    if (!name) return xp;
    const dst = a.stage(cols * 4);
    (a.exports[name] as Fn)(xp, dst, cols, fp8 ? 16 : 8);
    return dst;
  }

  private place(w: Weight): WasmPlacement {
    const h = w.handle as WasmPlacement | undefined;
    if (h && h.owner === this) return h;
    let p = this.adopted.get(w);
    if (!p) this.adopted.set(w, (p = this.prepareWeight(w)));
    return p.handle as WasmPlacement;
  }

  /** The arena the next weight of byteLength bytes goes to: the last one, or a new one when it is full. */
  private weightArena(byteLength: number): Arena {
    const last = this.arenas[this.arenas.length - 1]!;
    if (last.fits(byteLength, this.arenaWeightBytes) || (last.weightBytes === 0 && last.fits(byteLength, ARENA_MAX_BYTES))) return last;
    const a = this.newArena();
    if (!a.fits(byteLength, ARENA_MAX_BYTES)) throw new RangeError(`a weight of ${byteLength} bytes does not fit a 4 GiB wasm arena`);
    return a;
  }

  private newArena(): Arena {
    const a = new Arena(this.arenas.length, this.module, (buf, arena) => this.owner.set(buf, arena));
    this.arenas.push(a);
    this.pool?.attach(a.memory);
    return a;
  }

  private copyInto<T extends Uint8Array | Float32Array>(a: Arena, src: T): T {
    const p = a.reserve(src.byteLength);
    const dst = src instanceof Float32Array ? new Float32Array(a.bytes.buffer, p, src.length) : new Uint8Array(a.bytes.buffer, p, src.length);
    dst.set(src);
    return dst as T;
  }
}

function need(arr: { length: number }, length: number, what: string): void {
  if (arr.length < length) throw new RangeError(`${what}: ${arr.length} elements, the op needs ${length}`);
}

/** Byte sizes the kernels rely on, checked once per weight. */
function checkWeight(w: Weight): void {
  const { format, rows, cols } = w;
  const where = `${format} weight [${rows}, ${cols}]`;
  if (format in GGML_CODE) {
    const { elements, bytes } = GGML_BLOCK[format as GgmlBlockFormat];
    if (cols % elements !== 0) throw new RangeError(`${where}: ${format} needs cols divisible by ${elements}`);
    if (w.data.byteLength !== (rows * cols / elements) * bytes) throw new RangeError(`${where}: ${w.data.byteLength} data bytes, expected ${(rows * cols / elements) * bytes}`);
    return;
  }
  if (!hasKernels(format)) return;
  const per: Record<KernelFormat, number> = { f32: 4, f16: 2, bf16: 2, fp8_e4m3: 1, mxfp4: 0.5 };
  if (format === 'mxfp4' && cols % 32 !== 0) throw new RangeError(`${where}: MXFP4 needs cols divisible by 32`);
  if (w.data.byteLength !== rows * cols * per[format]) throw new RangeError(`${where}: ${w.data.byteLength} data bytes, expected ${rows * cols * per[format]}`);
  if (format === 'fp8_e4m3') {
    const [br, bc] = w.block ?? [0, 0];
    if (!(br >= 1 && bc >= 1)) throw new RangeError(`${where}: FP8 weights need a block size`);
    const want = Math.ceil(rows / br) * Math.ceil(cols / bc);
    if (!(w.scales instanceof Float32Array) || w.scales.length !== want) throw new RangeError(`${where}: expected ${want} f32 block scales`);
  }
  if (format === 'mxfp4' && (!(w.scales instanceof Uint8Array) || w.scales.length !== (rows * cols) / 32))
    throw new RangeError(`${where}: expected ${(rows * cols) / 32} E8M0 scale bytes`);
}
