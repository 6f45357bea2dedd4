/** Node worker_threads entry of a kernel thread (the browser entry is backend/wasm/worker-browser.ts). */
import { parentPort } from 'node:worker_threads';
import { WorkerRuntime, type WorkerMessage } from '../backend/wasm/worker-core.js';

const port = parentPort!;
const runtime = new WorkerRuntime((m) => port.postMessage(m));
port.on('message', (m: WorkerMessage) => runtime.handle(m));
