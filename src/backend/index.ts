/**
 * Backend factory: the WebAssembly backend where the runtime supports it (SIMD, shared memory,
 * Atomics), the reference backend otherwise or on request.
 */
import type { Backend } from './backend.js';
import { RefBackend } from './ref/ref-backend.js';
import { WasmBackend, type WasmBackendOptions } from './wasm/wasm-backend.js';
import { wasmThreadsSupported } from './wasm/platform.js';

export type BackendKind = 'wasm' | 'ref';
export const BACKEND_KINDS: readonly BackendKind[] = ['wasm', 'ref'];

/** A backend that may hold threads: call dispose() when done with it. */
export type ManagedBackend = Backend & { dispose(): Promise<void> };

export async function createBackend(kind: BackendKind = 'wasm', opts: WasmBackendOptions = {}): Promise<ManagedBackend> {
  if (kind === 'wasm' && wasmThreadsSupported()) return WasmBackend.create(opts);
  return Object.assign(new RefBackend(), { dispose: async () => {} });
}

export { RefBackend, WasmBackend, wasmThreadsSupported };
export type { Backend, WasmBackendOptions };
