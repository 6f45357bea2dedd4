/**
 * What the wasm backend needs from its host environment: the core count, the compiled kernel module
 * and a way to start worker threads. The browser version lives here; Node's (worker_threads, files)
 * is src/node/wasm-platform.ts, loaded by a guarded dynamic import so this module stays browser-safe.
 */
import type { WorkerMessage, WorkerReply } from './worker-core.js';

export interface KernelThread {
  post(msg: WorkerMessage): void;
  onMessage(cb: (msg: WorkerReply) => void): void;
  onError(cb: (err: Error) => void): void;
  /** Whether the thread keeps the process alive (Node); a no-op in browsers. */
  keepAlive(on: boolean): void;
  terminate(): Promise<void>;
}

export interface WasmPlatform {
  cores(): number;
  /** The kernel module: the relaxed-SIMD build where `relaxed` allows it and the runtime accepts it. */
  loadKernels(relaxed: boolean): Promise<Kernels>;
  spawn(): KernelThread;
}

/** Where the build puts the compiled kernels: next to this module in dist/ (two builds, see scripts/build-wasm.mjs). */
export const KERNELS_URL = new URL('./kernels.wasm', import.meta.url);
export const KERNELS_RELAXED_URL = new URL('./kernels-relaxed.wasm', import.meta.url);

/** The relaxed-SIMD build where `relaxed` is set and this runtime accepts it, else the baseline one. */
export async function compileKernels(read: (url: URL) => Promise<BufferSource>, relaxed: boolean): Promise<Kernels> {
  if (relaxed) {
    try {
      const bytes = await read(KERNELS_RELAXED_URL);
      if (WebAssembly.validate(bytes)) return { module: await WebAssembly.compile(bytes), relaxed: true };
    } catch {
      // No relaxed build next to the baseline one: fall through.
    }
  }
  return { module: await WebAssembly.compile(await read(KERNELS_URL)), relaxed: false };
}

export interface Kernels {
  module: WebAssembly.Module;
  /** Whether this is the relaxed-SIMD build (fused multiply-add). */
  relaxed: boolean;
}

const browserPlatform: WasmPlatform = {
  cores: () => (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1,
  loadKernels: (relaxed) =>
    compileKernels(async (url) => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`cannot load ${url.href}: HTTP ${res.status}`);
      return res.arrayBuffer();
    }, relaxed),
  spawn() {
    const w = new Worker(new URL('./worker-browser.js', import.meta.url), { type: 'module' });
    return {
      post: (m) => w.postMessage(m),
      onMessage: (cb) => w.addEventListener('message', (e) => cb(e.data as WorkerReply)),
      onError: (cb) => w.addEventListener('error', (e) => cb(new Error(e.message))),
      keepAlive: () => {},
      terminate: async () => w.terminate(),
    };
  },
};

export async function hostPlatform(): Promise<WasmPlatform> {
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (!isNode) return browserPlatform;
  const mod: { nodePlatform: WasmPlatform } = await import('../../node/wasm-platform.js');
  return mod.nodePlatform;
}

/** Whether this runtime has what the backend needs: WebAssembly SIMD, shared memory and Atomics. */
export function wasmThreadsSupported(): boolean {
  try {
    if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') return false;
    // (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt))
    const simd = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
    if (!WebAssembly.validate(simd)) return false;
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return mem.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}
