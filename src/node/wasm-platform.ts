/** Node side of the wasm backend's platform: kernels from disk, worker_threads, the core count. */
import { Worker } from 'node:worker_threads';
import { readFile, access } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { fileURLToPath } from 'node:url';
import { compileKernels, type WasmPlatform } from '../backend/wasm/platform.js';

/** Running from sources (tsx), the kernels are still read from the build output in dist/. */
async function kernelsPath(url: URL): Promise<string> {
  const next = fileURLToPath(url);
  const candidates = [next, next.replace(/([\\/])src([\\/]backend[\\/]wasm[\\/][^\\/]+\.wasm)$/, '$1dist$1src$2')];
  for (const p of candidates) {
    try {
      await access(p);
      return p;
    } catch {}
  }
  throw new Error(`${next.slice(next.lastIndexOf('/') + 1)} not found (looked at ${[...new Set(candidates)].join(', ')}); run \`npm run build:wasm\``);
}

const fromSource = import.meta.url.endsWith('.ts');
const workerUrl = new URL(fromSource ? './wasm-worker.ts' : './wasm-worker.js', import.meta.url);

/** Running from sources (tsx), a worker does not inherit tsx's hooks: it registers them before loading its entry. */
function startWorker(): Worker {
  if (!fromSource) return new Worker(workerUrl);
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); });`;
  return new Worker(code, { eval: true });
}

/**
 * Node 20 (V8 11.3) has relaxed SIMD behind a flag (on by default from Node 22). Wasm features are
 * checked when a module is validated, so turning the flag on before compiling is enough; the fused
 * multiply-add it brings is worth ~40% on the matvec kernels (bench/kernels.ts).
 */
function allowRelaxedSimd(): void {
  if (Number(process.versions.node.split('.')[0]) >= 22) return;
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // A runtime that refuses the flag keeps the baseline kernels.
  }
}

export const nodePlatform: WasmPlatform = {
  cores: () => availableParallelism(),
  loadKernels: (relaxed) => {
    if (relaxed) allowRelaxedSimd();
    return compileKernels(async (url) => readFile(await kernelsPath(url)), relaxed);
  },
  spawn() {
    const w = startWorker();
    return {
      post: (m) => w.postMessage(m),
      onMessage: (cb) => w.on('message', cb),
      onError: (cb) => w.on('error', cb),
      keepAlive: (on) => (on ? w.ref() : w.unref()),
      terminate: async () => {
        await w.terminate();
      },
    };
  },
};
