/**
 * One generation at a time (one model, one KV cache), the rest wait in a bounded FIFO. A full queue
 * refuses at once (429); a waiter whose client leaves is dropped from the queue.
 */

export class QueueFullError extends Error {
  override name = 'QueueFullError';
  constructor(readonly retryAfterSeconds: number) {
    super('queue full');
  }
}

interface Waiter {
  grant: (release: () => void) => void;
  fail: (e: unknown) => void;
}

export class Scheduler {
  private readonly waiters: Waiter[] = [];
  private active = 0;
  /** Moving average of how long a slot is held, for Retry-After. */
  private avgHoldMs = 1000;

  constructor(
    readonly maxQueue: number,
    readonly slots = 1,
  ) {}

  get running(): number {
    return this.active;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Resolves with a release function once a slot is ours; rejects if `signal` aborts while waiting. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.active < this.slots && this.waiters.length === 0) return Promise.resolve(this.take());
    if (this.waiters.length >= this.maxQueue) return Promise.reject(new QueueFullError(this.retryAfter()));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        grant: (release) => {
          signal.removeEventListener('abort', onAbort);
          resolve(release);
        },
        fail: (e) => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Refuse everyone still waiting (shutdown). */
  rejectWaiting(e: unknown): void {
    for (const w of this.waiters.splice(0)) w.fail(e);
  }

  /** Seconds until a slot is likely free for one more waiter. */
  retryAfter(): number {
    return Math.max(1, Math.ceil((this.avgHoldMs * (this.waiters.length + 1)) / this.slots / 1000));
  }

  private take(): () => void {
    this.active++;
    const start = Date.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.avgHoldMs = 0.8 * this.avgHoldMs + 0.2 * (Date.now() - start);
      const next = this.waiters.shift();
      if (next) next.grant(this.take());
    };
  }
}
