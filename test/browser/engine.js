// Loads the qwen3-dense fixture through Owl's browser entry, runs one forward on the ref and wasm
// backends and leaves the comparison with the reference logits in window.owlResult for the test.
// Plain JS served as is (never compiled): the test runner would execute anything in dist/test/.
import { MemoryTensorSource, buildModel, createBackend, parseConfig } from '/dist/src/index.js';

const FIXTURE = '/test/fixtures/models/qwen3-dense/';

async function fetchBytes(name) {
  const res = await fetch(FIXTURE + name);
  if (!res.ok) throw new Error(`${name}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

function maxAbsDiff(got, want) {
  if (got.length !== want.length) throw new Error(`logits: ${got.length} values, reference has ${want.length}`);
  let m = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= m)) m = d; // NaN wins, so a NaN logit fails the tolerance
  }
  return m;
}

async function run(kind, spec, source, ids, want) {
  const cores = navigator.hardwareConcurrency || 1;
  // At least two threads, so the Web Worker path runs even on a one-core machine; else the default (the core count).
  const backend = await createBackend(kind, cores >= 2 ? {} : { threads: 2 });
  try {
    const t0 = performance.now();
    const { model, unusedTensors } = buildModel(spec, source, backend, 'qwen3-dense');
    const t1 = performance.now();
    const logits = model.forward(ids, model.newCache());
    const t2 = performance.now();
    return {
      backend: backend.name,
      threads: backend.threads ?? 1,
      relaxedSimd: backend.relaxedSimd ?? false,
      unusedTensors,
      logitsLength: logits.length,
      maxAbsDiff: maxAbsDiff(logits, want),
      buildMs: t1 - t0,
      forwardMs: t2 - t1,
    };
  } finally {
    await backend.dispose();
  }
}

async function main() {
  // Count the Web Workers the wasm backend starts.
  let workers = 0;
  const BaseWorker = globalThis.Worker;
  globalThis.Worker = class extends BaseWorker {
    constructor(...args) {
      super(...args);
      workers++;
    }
  };
  const t0 = performance.now();
  const [config, model, reference] = await Promise.all([
    fetch(FIXTURE + 'config.json').then((r) => (r.ok ? r.json() : Promise.reject(new Error(`config.json: HTTP ${r.status}`)))),
    fetchBytes('model.safetensors'),
    fetchBytes('reference.safetensors'),
  ]);
  const spec = parseConfig(config, FIXTURE + 'config.json', 'qwen3-dense');
  const source = new MemoryTensorSource(model, 'model.safetensors');
  const refs = new MemoryTensorSource(reference, 'reference.safetensors');
  const ids = Array.from(new BigInt64Array(refs.read('input_ids_0').buffer), Number);
  const want = new Float32Array(refs.read('logits_0').buffer);
  const fetchMs = performance.now() - t0;
  const results = {};
  for (const kind of ['ref', 'wasm']) {
    const before = workers;
    results[kind] = { ...(await run(kind, spec, source, ids, want)), workersStarted: workers - before };
  }
  return {
    crossOriginIsolated: globalThis.crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    tokens: ids.length,
    vocab: spec.vocabSize,
    fetchMs,
    totalMs: performance.now() - t0,
    results,
  };
}

main().then(
  (r) => {
    window.owlResult = r;
    document.getElementById('out').textContent = JSON.stringify(r, null, 2);
  },
  (e) => {
    window.owlResult = { error: String(e?.stack ?? e) };
    document.getElementById('out').textContent = window.owlResult.error;
  },
);
