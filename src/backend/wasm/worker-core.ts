/**
 * The body of a kernel worker, independent of the thread API (Node worker_threads or Web Workers):
 * it instantiates the kernel module once per arena, then blocks in Atomics.wait on the control block
 * and runs its share of each op.
 */
import { ARGS_BYTE, CALLER_WAITING, DONE, FAILED, type Kernel, kernelImports, kernelTable, MAX_ARGS, NTHREADS, OPCODE, OP_EXIT, OP_YIELD, ARENA, SEQ, SPIN, runShare, WAITING } from './control.js';

export type WorkerMessage =
  | { type: 'init'; module: WebAssembly.Module; memories: WebAssembly.Memory[]; control: SharedArrayBuffer; tid: number }
  | { type: 'arena'; memory: WebAssembly.Memory };

export type WorkerReply = { type: 'ready' } | { type: 'error'; message: string };

export class WorkerRuntime {
  private module: WebAssembly.Module | null = null;
  private tables: Kernel[][] = [];
  private ctrl: Int32Array = new Int32Array(0);
  private args: Float64Array = new Float64Array(0);
  private tid = 0;
  private seen = 0;

  constructor(private readonly post: (m: WorkerReply) => void) {}

  handle(msg: WorkerMessage): void {
    if (msg.type === 'init') {
      try {
        this.module = msg.module;
        this.tid = msg.tid;
        this.ctrl = new Int32Array(msg.control);
        this.args = new Float64Array(msg.control, ARGS_BYTE, MAX_ARGS);
        this.seen = Atomics.load(this.ctrl, SEQ);
        for (const m of msg.memories) this.attach(m);
      } catch (e) {
        this.post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
        return;
      }
      this.post({ type: 'ready' });
    } else {
      // A failed attach leaves the arena's slot empty: its ops then fail through the FAILED flag.
      try {
        this.attach(msg.memory);
      } catch {
        this.tables.push([]);
      }
    }
    this.loop();
  }

  private attach(memory: WebAssembly.Memory): void {
    const instance = new WebAssembly.Instance(this.module!, kernelImports(memory));
    this.tables.push(kernelTable(instance));
  }

  /** Runs ops until told to exit or to yield (returning to the event loop to take a message). */
  private loop(): void {
    const c = this.ctrl;
    for (;;) {
      for (let i = c[SPIN]!; i > 0 && Atomics.load(c, SEQ) === this.seen; i--);
      if (Atomics.load(c, SEQ) === this.seen) {
        Atomics.add(c, WAITING, 1);
        Atomics.wait(c, SEQ, this.seen);
        Atomics.sub(c, WAITING, 1);
      }
      const seq = Atomics.load(c, SEQ);
      if (seq === this.seen) continue;
      this.seen = seq;
      const op = c[OPCODE]!;
      if (op === OP_EXIT) return;
      if (op >= 0) {
        try {
          runShare(this.tables[c[ARENA]!]![op]!, this.tid, c, this.args);
        } catch {
          Atomics.store(c, FAILED, 1);
        }
      }
      // The last worker to finish wakes the caller (the caller is thread 0 and not counted here).
      if (Atomics.add(c, DONE, 1) === c[NTHREADS]! - 2 && Atomics.load(c, CALLER_WAITING)) Atomics.notify(c, DONE);
      if (op === OP_YIELD) return;
    }
  }
}
