// Compiles the AssemblyScript kernels (src/backend/wasm/assembly) to dist/src/backend/wasm/kernels.wasm,
// where the wasm backend loads them from. Run by `npm run build` (and so by `npm ci` via prepare).
import asc from 'assemblyscript/asc';
import { mkdirSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src/backend/wasm/assembly');
const out = join(root, 'dist/src/backend/wasm/kernels.wasm');

const newest = Math.max(...readdirSync(srcDir).map((f) => statSync(join(srcDir, f)).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
if (existsSync(out) && statSync(out).mtimeMs >= newest && !process.argv.includes('--force')) {
  console.log(`build-wasm: ${out} is up to date`);
  process.exit(0);
}
mkdirSync(dirname(out), { recursive: true });

const { error, stderr } = await asc.main([
  join(srcDir, 'index.ts'),
  '--outFile', out,
  '-O3', '--noAssert', '--runtime', 'stub',
  '--enable', 'simd', '--enable', 'threads',
  // One shared memory per arena, imported; the host allocates everything above heap_base().
  '--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536',
  '--use', 'abort=',
]);
if (error) {
  console.error(stderr.toString());
  console.error(`build-wasm: ${error.message}`);
  process.exit(1);
}
console.log(`build-wasm: wrote ${out}`);
