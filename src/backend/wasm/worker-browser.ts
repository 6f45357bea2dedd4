/** Web Worker entry of a kernel thread (the Node entry is src/node/wasm-worker.ts). */
import { WorkerRuntime, type WorkerMessage, type WorkerReply } from './worker-core.js';

const scope = globalThis as unknown as { onmessage: ((e: MessageEvent<WorkerMessage>) => void) | null; postMessage(m: WorkerReply): void };
const runtime = new WorkerRuntime((m) => scope.postMessage(m));
scope.onmessage = (e) => runtime.handle(e.data);
