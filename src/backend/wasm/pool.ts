/**
 * The calling thread plus N-1 workers sharing the arenas. The caller is thread 0 and claims chunks
 * of each op like the workers (a worker woken late finds fewer rows left). Between ops a waiting
 * thread polls the control block `spin` times, then blocks in Atomics.wait: a short poll catches the
 * next op of the same forward pass without a futex round trip, and blocking keeps an idle model off
 * the cores.
 */
import { ARENA, ARGS_BYTE, CALLER_WAITING, callKernel, CONTROL_BYTES, DONE, FAILED, type Kernel, MAX_ARGS, NTHREADS, OPCODE, OP_EXIT, OP_YIELD, runShare, SEQ, SPIN, TOTAL, GRAIN, NEXT, WAITING } from './control.js';
import type { KernelThread, WasmPlatform } from './platform.js';

export class ThreadPool {
  readonly ctrl: Int32Array;
  /** Op arguments: fill before dispatch(). */
  readonly args: Float64Array;
  private readonly threads: KernelThread[] = [];
  /** Browsers forbid Atomics.wait on the main thread: there the caller polls instead. */
  private readonly canBlock: boolean;
  private closed = false;

  private constructor(
    readonly size: number,
    private readonly spin: number,
  ) {
    const sab = new SharedArrayBuffer(CONTROL_BYTES);
    this.ctrl = new Int32Array(sab);
    this.args = new Float64Array(sab, ARGS_BYTE, MAX_ARGS);
    this.ctrl[NTHREADS] = size;
    this.ctrl[SPIN] = spin;
    this.canBlock = (() => {
      try {
        Atomics.wait(this.ctrl, FAILED, 1, 0);
        return true;
      } catch {
        return false;
      }
    })();
  }

  /** Starts size-1 workers holding an instance per memory; resolves once all are waiting for ops. */
  static async start(platform: WasmPlatform, size: number, spin: number, module: WebAssembly.Module, memories: WebAssembly.Memory[]): Promise<ThreadPool> {
    const pool = new ThreadPool(size, spin);
    const ready: Promise<void>[] = [];
    for (let tid = 1; tid < size; tid++) {
      const t = platform.spawn();
      pool.threads.push(t);
      ready.push(
        new Promise<void>((resolve, reject) => {
          t.onMessage((m) => (m.type === 'ready' ? resolve() : reject(new Error(`wasm worker ${tid}: ${m.message}`))));
          t.onError(reject);
        }),
      );
      t.post({ type: 'init', module, memories, control: pool.ctrl.buffer as SharedArrayBuffer, tid });
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw e;
    }
    // Idle workers must not keep a finished program alive.
    for (const t of pool.threads) t.keepAlive(false);
    return pool;
  }

  /**
   * Runs kernel over [0, total) in shares of whole grains: thread 0 here, the others in the workers
   * (on their instance of the same arena). Without `parallel`, the caller does it all.
   */
  dispatch(arena: number, op: number, kernel: Kernel, total: number, grain: number, parallel: boolean): void {
    const c = this.ctrl;
    const a = this.args;
    if (!parallel || this.size === 1 || this.closed) {
      callKernel(kernel, 0, 0, total, a);
      return;
    }
    c[OPCODE] = op;
    c[ARENA] = arena;
    c[TOTAL] = total;
    c[GRAIN] = grain;
    c[NEXT] = 0;
    this.start();
    try {
      runShare(kernel, 0, c, a);
    } finally {
      this.finish();
    }
    if (c[FAILED]) {
      c[FAILED] = 0;
      throw new Error(`wasm kernel ${op} failed in a worker thread`);
    }
  }

  /** Hands a new arena's memory to every worker (they take it between ops). */
  attach(memory: WebAssembly.Memory): void {
    if (this.size === 1 || this.closed) return;
    for (const t of this.threads) t.post({ type: 'arena', memory });
    this.ctrl[OPCODE] = OP_YIELD;
    this.start();
    this.finish();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ctrl[OPCODE] = OP_EXIT;
    Atomics.store(this.ctrl, DONE, 0);
    Atomics.add(this.ctrl, SEQ, 1);
    Atomics.notify(this.ctrl, SEQ);
    await Promise.all(this.threads.map((t) => t.terminate()));
    this.threads.length = 0;
  }

  private start(): void {
    Atomics.store(this.ctrl, DONE, 0);
    Atomics.add(this.ctrl, SEQ, 1);
    if (Atomics.load(this.ctrl, WAITING)) Atomics.notify(this.ctrl, SEQ);
  }

  private finish(): void {
    const c = this.ctrl;
    const workers = this.size - 1;
    for (let i = this.spin; i > 0 && Atomics.load(c, DONE) < workers; i--);
    if (!this.canBlock) while (Atomics.load(c, DONE) < workers);
    else if (Atomics.load(c, DONE) < workers) {
      Atomics.store(c, CALLER_WAITING, 1);
      for (let d = Atomics.load(c, DONE); d < workers; d = Atomics.load(c, DONE)) Atomics.wait(c, DONE, d);
      Atomics.store(c, CALLER_WAITING, 0);
    }
  }
}
