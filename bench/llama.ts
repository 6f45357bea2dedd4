/**
 * Owl vs llama.cpp (node-llama-cpp's prebuilt CPU build) on the same GGUF file with the same threads:
 * prefill of P tokens, then G one-token decode steps on the cache; runs alternate Owl / llama.cpp and
 * the medians and ratios are printed. Benchmark only: run it on an otherwise idle machine.
 *
 * Run: npm run bench:llama -- [FILE.gguf | MODEL_DIR] [--type f32|bf16|q8_0] [--threads N]
 *        [--backend wasm|ref] [--prompt P] [--gen G] [--rounds R]
 * A MODEL_DIR is converted first with owl convert (default: the qwen3-dense fixture, q8_0).
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getLlama } from 'node-llama-cpp';
import { createBackend, type BackendKind } from '../src/backend/index.js';
import { OUT_TYPES, type OutType } from '../src/gguf/convert.js';
import { convertToGguf } from '../src/node/gguf-file.js';
import { loadModelDir } from '../src/node/model-dir.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    type: { type: 'string', default: 'q8_0' },
    threads: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'wasm' },
    prompt: { type: 'string', default: '32' },
    gen: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
  },
});
const int = (name: string, v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${v}"`);
  return n;
};
const threads = int('threads', values.threads);
const P = int('prompt', values.prompt);
const G = int('gen', values.gen);
const rounds = int('rounds', values.rounds);
if (!OUT_TYPES.includes(values.type as OutType)) throw new Error(`--type must be one of ${OUT_TYPES.join(', ')}`);

const target = positionals[0] ?? join('test', 'fixtures', 'models', 'qwen3-dense');
const tmp = mkdtempSync(join(tmpdir(), 'owl-bench-'));
let file = target;
let typeLabel = 'as stored in the file';
if (existsSync(target) && statSync(target).isDirectory()) {
  typeLabel = values.type;
  file = join(tmp, 'model.gguf');
  convertToGguf(target, file, { type: values.type as OutType });
}

const backend = await createBackend(values.backend as BackendKind, { threads });
const owl = loadModelDir(file, { backend });
const V = owl.spec.vocabSize;
const ids = Array.from({ length: P + G }, (_, i) => (i * 7919 + 13) % V);

const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
const lmodel = await llama.loadModel({ modelPath: file });
const ctx = await lmodel.createContext({ contextSize: Math.max(256, P + G + 8), batchSize: Math.max(P, 32), threads });

const seq = ctx.getSequence();

async function runLlama(): Promise<[number, number]> {
  await seq.clearHistory();
  const t0 = performance.now();
  await seq.controlledEvaluate([...ids.slice(0, P - 1), [ids[P - 1]!, { generateNext: { token: true } }]] as never);
  const t1 = performance.now();
  for (let i = P; i < P + G; i++) await seq.controlledEvaluate([[ids[i]!, { generateNext: { token: true } }]] as never);
  const t2 = performance.now();
  return [t1 - t0, t2 - t1];
}

// One cache emptied before each run, as llama.cpp's sequence is (its KV cache is allocated once, with the context).
const owlCache = owl.model.newCache();
// One logits buffer for every decode step, as Owl's generation loop keeps it (ForwardOptions.out).
const owlLogits = new Float32Array(owl.spec.vocabSize);
function runOwl(): [number, number] {
  const cache = owlCache;
  cache.truncate(0);
  const t0 = performance.now();
  owl.model.forward(ids.slice(0, P), cache, { logits: 'last' });
  const t1 = performance.now();
  for (let i = P; i < P + G; i++) owl.model.forward([ids[i]!], cache, { logits: 'last', out: owlLogits });
  const t2 = performance.now();
  return [t1 - t0, t2 - t1];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const owlT: Array<[number, number]> = [];
const cppT: Array<[number, number]> = [];
runOwl(); // warm-up both (JIT, wasm compile, page cache)
await runLlama();
for (let r = 0; r < rounds; r++) {
  owlT.push(runOwl());
  cppT.push(await runLlama());
}
const rate = (n: number, ms: number) => (n * 1000) / ms;
const row = (name: string, t: Array<[number, number]>) => {
  const pre = rate(P, median(t.map((x) => x[0])));
  const dec = rate(G, median(t.map((x) => x[1])));
  console.log(`${name.padEnd(24)} prefill ${pre.toFixed(1).padStart(9)} tok/s   decode ${dec.toFixed(1).padStart(9)} tok/s`);
  return [pre, dec] as const;
};
console.log(`${file} (${owl.spec.name}, ${typeLabel}), ${threads} thread(s), prompt ${P}, ${G} decode steps, ${rounds} alternating rounds (medians)`);
const [op, od] = row(`Owl (${values.backend})`, owlT);
const [lp, ld] = row('llama.cpp', cppT);
console.log(`Owl / llama.cpp          prefill ${(op / lp).toFixed(3)}x          decode ${(od / ld).toFixed(3)}x`);

await ctx.dispose();
await lmodel.dispose();
await llama.dispose();
await backend.dispose();
rmSync(tmp, { recursive: true, force: true });
