/**
 * The control block shared by the calling thread and the workers: one SharedArrayBuffer holding the
 * current op, its arguments and three counters. The caller bumps SEQ and notifies; every thread claims
 * chunks (NEXT) until none is left; each worker then bumps DONE; the last one notifies the caller. No message is posted per op.
 */

/** Kernels the pool can dispatch; every one takes (tid, start, end, ...args). The index is the op code. */
export const KERNELS = [
  'matvec_f32_f32w', 'matvec_f32_f16w', 'matvec_f32_bf16w', 'matvec_f32_fp8w', 'matvec_f32_mxfp4w',
  'matmul_f32_f32w', 'matmul_f32_f16w', 'matmul_f32_bf16w', 'matmul_f32_fp8w', 'matmul_f32_mxfp4w',
  'embed_rows', 'rms_norm', 'rope', 'attention', 'swiglu', 'swiglu_clamped', 'add_bias', 'add_scaled', 'softmax', 'probe_read',
  'matvec_ggml', 'matmul_ggml', 'embed_ggml',
] as const;
export type KernelName = (typeof KERNELS)[number];
export const OP: { readonly [K in KernelName]: number } = Object.fromEntries(KERNELS.map((k, i) => [k, i])) as never;

/** Special op codes. */
export const OP_EXIT = -1;
/** Workers leave their wait loop to take a message (a new arena), then resume. */
export const OP_YIELD = -2;

/** Int32 slots. */
export const SEQ = 0;
export const DONE = 1;
export const OPCODE = 2;
export const ARENA = 3;
export const TOTAL = 4;
export const GRAIN = 5;
export const NTHREADS = 6;
/** Set by a worker whose kernel threw (the caller rethrows after the barrier). */
export const FAILED = 7;
/** Polls of SEQ/DONE before blocking: catches the next op without a futex round trip (0: block at once). */
export const SPIN = 8;
/** First row of the current op not yet claimed. */
export const NEXT = 9;
/**
 * Workers blocked (or about to block) in Atomics.wait on SEQ, and whether the caller is on DONE:
 * a notify is a system call (~10 µs in a VM), skipped when every waiter is still polling. Safe
 * because each side announces itself before it waits, and Atomics.wait returns at once when the
 * value it waits on has already changed.
 */
export const WAITING = 10;
export const CALLER_WAITING = 11;
/**
 * Guided scheduling: a claim takes 1/(GUIDE × threads) of the rows still unclaimed, so chunks start
 * large (long weight streams, few claims) and shrink towards the end, where every thread must finish
 * together: fixed chunks left one thread idle for half a chunk at the end of every op (measured:
 * ~0.7 s of a 64-token decode on 2 threads). A thread woken late simply finds fewer rows left.
 */
const GUIDE = 2;
/** Smallest chunk, as a fraction of the op: bounds the number of claims. */
const MIN_CHUNK_FRACTION = 1 / 128;
/** Float64 arguments start at this byte offset. */
export const ARGS_BYTE = 64;
export const MAX_ARGS = 22;
export const CONTROL_BYTES = ARGS_BYTE + MAX_ARGS * 8;

export type Kernel = (tid: number, start: number, end: number, ...args: number[]) => void;

/** Runs chunks of the op described by the control block on thread tid until none is left. */
export function runShare(kernel: Kernel, tid: number, ctrl: Int32Array, a: Float64Array): void {
  const total = ctrl[TOTAL]!;
  const grain = ctrl[GRAIN]!;
  const parts = GUIDE * ctrl[NTHREADS]!;
  const least = Math.max(grain, Math.ceil((total * MIN_CHUNK_FRACTION) / grain) * grain);
  for (;;) {
    const s = Atomics.load(ctrl, NEXT);
    if (s >= total) return;
    const size = Math.max(least, Math.ceil((total - s) / parts / grain) * grain);
    const e = Math.min(total, s + size);
    if (Atomics.compareExchange(ctrl, NEXT, s, e) === s) callKernel(kernel, tid, s, e, a);
  }
}

/** kernel(tid, start, end, ...the MAX_ARGS arguments); extra arguments are ignored by wasm. */
export function callKernel(kernel: Kernel, tid: number, start: number, end: number, a: Float64Array): void {
  kernel(tid, start, end, a[0]!, a[1]!, a[2]!, a[3]!, a[4]!, a[5]!, a[6]!, a[7]!, a[8]!, a[9]!, a[10]!, a[11]!, a[12]!, a[13]!, a[14]!, a[15]!, a[16]!, a[17]!, a[18]!, a[19]!, a[20]!, a[21]!);
}

/** Imports every kernel instance needs besides its arena's memory. */
export function kernelImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return { env: { memory, abort: () => { throw new Error('wasm kernel abort'); } } };
}

/** The dispatchable exports of one instance, indexed by op code. */
export function kernelTable(instance: WebAssembly.Instance): Kernel[] {
  return KERNELS.map((name) => {
    const f = instance.exports[name];
    if (typeof f !== 'function') throw new Error(`kernels.wasm lacks the export ${name}; rebuild with npm run build:wasm`);
    return f as Kernel;
  });
}
