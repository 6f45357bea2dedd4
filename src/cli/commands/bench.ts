/** `owl bench`: prefill and decode speed of a model folder, against this machine's memory bandwidth. */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { activeWeightBytesPerToken } from '../../analysis/checkpoint.js';
import type { ManagedBackend } from '../../backend/index.js';
import { WasmBackend } from '../../backend/wasm/wasm-backend.js';
import { rng } from '../../models/random-weights.js';
import { UsageError, type Command } from '../command.js';
import { MODEL_OPTIONS, MODEL_OPTIONS_HELP, withModel } from '../model-options.js';

const help = `owl bench — prefill and decode speed of a model, against the memory-bandwidth ceiling

Usage: owl bench MODEL_DIR [--repeat N] [--json] [--backend wasm|ref] [--threads N]

Measures, each repeated N times (median and spread reported):
  prefill tokens/s for 128- and 512-token prompts (random ids; a fresh cache each time, on the memory
  the last one released; after one unmeasured warm-up prefill)
  decode tokens/s for 64 tokens after a 128-token prompt
  the machine's memory read bandwidth with the same threads (wasm backend), probed right after
  each decode run (best of 3 passes), and decode as a fraction of that run's ceiling:
  bandwidth ÷ weight bytes read per token (active weights, file formats)
Also: time to load, peak RSS. A benchmark, not a test: run it on an otherwise idle machine
(a warning is printed when the load average says other work is running).

  --repeat N        repetitions (default 3)
  --decode N        tokens to decode (default 64)
  --json            one JSON object: {"prefill_tps": {"128": x, "512": x}, "decode_tps": x,
                    "load_s": x, "peak_rss_bytes": n, "bandwidth_gbps": x,
                    "decode_fraction_of_ceiling": x, "threads": n, "backend": "...", ...spreads}
${MODEL_OPTIONS_HELP}`;

interface Stat {
  median: number;
  min: number;
  max: number;
}

function stat(xs: number[]): Stat {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s[s.length - 1]! };
}

/**
 * A memory-read probe with the backend's own threads (wasm), or one JS loop (ref): each call
 * measures the GB/s of one pass over a 256 MiB buffer (after a warm-up pass on the first call).
 */
function bandwidthProbe(backend: ManagedBackend): () => number {
  const bytes = 256 << 20;
  let pass: () => void;
  if (backend instanceof WasmBackend) {
    const buf = backend.allocWeightBytes(bytes);
    pass = () => backend.probeRead(buf);
  } else {
    const buf = new Float64Array(bytes / 8);
    pass = () => {
      let s = 0;
      for (let i = 0; i < buf.length; i += 8) s += buf[i]!;
      if (s !== 0) throw new Error('unreachable');
    };
  }
  pass();
  return () => {
    const t0 = performance.now();
    pass();
    return bytes / ((performance.now() - t0) / 1000) / 1e9;
  };
}

function warnIfBusy(threads: number): void {
  const load = loadavg()[0]!;
  if (load > threads + 0.5) console.error(`warning: load average ${load.toFixed(1)} > ${threads} threads: other work is running, figures will be low`);
}

export default {
  name: 'bench',
  summary: 'prefill/decode tokens per second vs the memory-bandwidth ceiling',
  help,
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { repeat: { type: 'string', default: '3' }, decode: { type: 'string', default: '64' }, json: { type: 'boolean', default: false }, ...MODEL_OPTIONS },
    });
    const repeat = Number(values.repeat);
    const decodeTokens = Number(values.decode);
    if (!Number.isInteger(repeat) || repeat < 1) throw new UsageError(`--repeat must be a positive integer`);
    if (!Number.isInteger(decodeTokens) || decodeTokens < 1) throw new UsageError(`--decode must be a positive integer`);
    const t0 = performance.now();
    const result = await withModel(positionals[0], values, ({ model, spec }) => {
      const loadS = (performance.now() - t0) / 1000;
      const backend = model.backend as ManagedBackend;
      const threads = backend instanceof WasmBackend ? backend.threads : 1;
      const next = rng(1);
      const ids = (n: number) => Array.from({ length: n }, () => Math.floor(next() * spec.vocabSize));
      const prefill: Record<string, Stat> = {};
      // Warm-up (not measured): the kernels' optimising compile and the activations' first touch
      // otherwise land in the first prefill (~half its speed).
      const warm = model.newCache();
      model.forward(ids(Math.min(128, spec.maxPositions)), warm, { logits: 'last' });
      warm.release();
      for (const n of [128, 512].filter((n) => n <= spec.maxPositions)) {
        const runs: number[] = [];
        for (let r = 0; r < repeat; r++) {
          warnIfBusy(threads);
          const prompt = ids(n);
          const cache = model.newCache();
          const s = performance.now();
          model.forward(prompt, cache, { logits: 'last' });
          runs.push(n / ((performance.now() - s) / 1000));
          cache.release();
        }
        prefill[n] = stat(runs);
      }
      const decodeRuns: number[] = [];
      const bwRuns: number[] = [];
      const fractions: number[] = [];
      const promptLen = Math.min(128, spec.maxPositions - decodeTokens - 1);
      if (promptLen < 1) throw new UsageError(`the model's context (${spec.maxPositions}) is too short for --decode ${decodeTokens}`);
      const probe = bandwidthProbe(backend);
      const bytesPerToken = activeWeightBytesPerToken(spec);
      for (let r = 0; r < repeat; r++) {
        warnIfBusy(threads);
        const cache = model.newCache();
        model.forward(ids(promptLen), cache, { logits: 'last' });
        const s = performance.now();
        // One logits buffer for every step, as a generation loop keeps it (see ForwardOptions.out).
        const out = new Float32Array(spec.vocabSize);
        for (let i = 0; i < decodeTokens; i++) model.forward([Math.floor(next() * spec.vocabSize)], cache, { logits: 'last', out });
        const tps = decodeTokens / ((performance.now() - s) / 1000);
        cache.release();
        // The probe runs right after each decode run: shared machines' bandwidth drifts, and a
        // fraction of a ceiling measured minutes apart would mix two different machines. The best
        // of three passes is the ceiling (as STREAM reports it), so the fraction errs low.
        const bw = Math.max(probe(), probe(), probe());
        decodeRuns.push(tps);
        bwRuns.push(bw);
        fractions.push((tps * bytesPerToken) / (bw * 1e9));
      }
      const decode = stat(decodeRuns);
      const bw = stat(bwRuns);
      const fraction = stat(fractions);
      return {
        model: spec.name,
        prefill_tps: Object.fromEntries(Object.entries(prefill).map(([k, v]) => [k, v.median])),
        prefill_spread: prefill,
        decode_tps: decode.median,
        decode_spread: decode,
        load_s: loadS,
        peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
        bandwidth_gbps: bw.median,
        bandwidth_spread: bw,
        weight_bytes_per_token: bytesPerToken,
        decode_ceiling_tps: (bw.median * 1e9) / bytesPerToken,
        decode_fraction_of_ceiling: fraction.median,
        decode_fraction_spread: fraction,
        threads,
        backend: backend.name,
        repeat,
      };
    });
    if (values.json) console.log(JSON.stringify(result));
    else {
      const f = (x: number) => x.toFixed(2);
      const bwSpread = result.bandwidth_spread;
      const fracSpread = result.decode_fraction_spread;
      const sp = (s: Stat) => `${f(s.median)} tok/s (min ${f(s.min)}, max ${f(s.max)})`;
      console.log(`owl bench ${result.model} — ${result.backend} backend, ${result.threads} thread(s), median of ${repeat}`);
      for (const [n, s] of Object.entries(result.prefill_spread)) console.log(`  prefill ${n.padStart(3)} tokens   ${sp(s)}`);
      console.log(`  decode ${decodeTokens} tokens    ${sp(result.decode_spread)}`);
      console.log(`  load ${f(result.load_s)} s, peak RSS ${(result.peak_rss_bytes / 2 ** 30).toFixed(2)} GiB`);
      const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
      console.log(`  memory read ${f(result.bandwidth_gbps)} GB/s (min ${f(bwSpread.min)}, max ${f(bwSpread.max)}), measured after each decode run; ${(result.weight_bytes_per_token / 1e6).toFixed(1)} MB of weights per token`);
      console.log(`  ceiling ${f(result.decode_ceiling_tps)} tok/s; decode reaches ${pct(result.decode_fraction_of_ceiling)} of it (min ${pct(fracSpread.min)}, max ${pct(fracSpread.max)}; each run against its own probe)`);
    }
    return 0;
  },
} satisfies Command;
