/** The thread counts and kernel builds the wasm kernel tests run under, and the backend each suite uses. */
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { WasmBackend } from '../src/backend/wasm/wasm-backend.js';

/** Both kernel builds: relaxed SIMD (fused multiply-add, the default where the runtime has it) and baseline SIMD128. */
export const WASM_CONFIGS = [
  { threads: 1, relaxedSimd: true },
  { threads: 2, relaxedSimd: true },
  { threads: 2, relaxedSimd: false },
] as const;

export type WasmConfig = (typeof WASM_CONFIGS)[number];

export function configName({ threads, relaxedSimd }: WasmConfig): string {
  return `${threads} thread(s), ${relaxedSimd ? 'relaxed SIMD' : 'baseline SIMD128'}`;
}

/** A backend that splits every op across its threads, however small (the default keeps small ops on one thread). */
export async function kernelTestBackend(c: WasmConfig): Promise<WasmBackend> {
  const b = await WasmBackend.create({ ...c, minParallelWork: 1 });
  assert.equal(b.relaxedSimd, c.relaxedSimd, 'the kernel build asked for');
  return b;
}

/**
 * One describe() per configuration, named `${title}, ${configName}`, with its kernel-test backend
 * created before the suite's tests and disposed after; tests get the backend from `backend()`.
 */
export function describeWasmConfigs(title: string, body: (config: WasmConfig, backend: () => WasmBackend) => void): void {
  for (const config of WASM_CONFIGS) {
    describe(`${title}, ${configName(config)}`, () => {
      let b: WasmBackend | undefined;
      before(async () => {
        b = await kernelTestBackend(config);
      });
      after(() => b?.dispose());
      body(config, () => b!);
    });
  }
}
