// Compiles the AssemblyScript kernels (src/backend/wasm/assembly) into dist/src/backend/wasm/, where
// the wasm backend loads them from: kernels.wasm (SIMD128 + threads) and kernels-relaxed.wasm (also
// relaxed SIMD: fused multiply-add, plain table lookups), used where the runtime validates it.
// Run by `npm run build` (and so by `npm ci` via prepare); `--force` rebuilds when up to date.
import asc from 'assemblyscript/asc';
import { mkdirSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src/backend/wasm/assembly');
const outDir = join(root, 'dist/src/backend/wasm');
const VARIANTS = [
  { file: 'kernels.wasm', features: ['simd', 'threads'] },
  { file: 'kernels-relaxed.wasm', features: ['simd', 'threads', 'relaxed-simd'] },
];

const newest = Math.max(...readdirSync(srcDir).map((f) => statSync(join(srcDir, f)).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
const stale = (file) => !existsSync(file) || statSync(file).mtimeMs < newest;
mkdirSync(outDir, { recursive: true });

for (const { file, features } of VARIANTS) {
  const out = join(outDir, file);
  if (!stale(out) && !process.argv.includes('--force')) {
    console.log(`build-wasm: ${out} is up to date`);
    continue;
  }
  const { error, stderr } = await asc.main([
    join(srcDir, 'index.ts'),
    '--outFile', out,
    '-O3', '--noAssert', '--runtime', 'stub',
    ...features.flatMap((f) => ['--enable', f]),
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
}
