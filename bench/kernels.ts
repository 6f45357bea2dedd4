/**
 * Matrix-vector speed of the wasm backend on bf16 weights with Qwen3-0.6B shapes, 1 and 2 threads,
 * against RefBackend and against a memory-read probe run in the same process.
 * Run: npx tsx bench/kernels.ts   (about half a minute; run it on an otherwise idle machine)
 *
 * "streamed": the matrix is one of many copies filling STREAM_BYTES, visited in turn, so weights
 * come from DRAM as in decoding a real model. "hot": the same matrix again and again (cache-resident).
 */
import { cpus, loadavg } from 'node:os';
import { WasmBackend } from '../src/backend/wasm/wasm-backend.js';
import { RefBackend } from '../src/backend/ref/ref-backend.js';
import type { Weight } from '../src/tensor/weight.js';
import { f32ToBf16 } from '../src/tensor/dtype.js';

const SHAPES: [number, number][] = [[1024, 1024], [2048, 1024], [3072, 1024], [1024, 3072]];
const STREAM_BYTES = 256 * 2 ** 20;
const REPS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Median seconds of REPS runs of fn, each repeated until it has taken at least minSeconds. */
function time(fn: () => void, minSeconds = 0.05): number {
  const per: number[] = [];
  for (let r = 0; r < REPS; r++) {
    let iters = 0;
    const t0 = performance.now();
    let dt = 0;
    do {
      fn();
      iters++;
      dt = (performance.now() - t0) / 1000;
    } while (dt < minSeconds);
    per.push(dt / iters);
  }
  return median(per);
}

function fillBf16(bytes: Uint8Array): void {
  const u16 = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  let s = 12345;
  for (let i = 0; i < u16.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    u16[i] = f32ToBf16((s / 2 ** 32) * 2 - 1);
  }
}

const fmt = (x: number, d = 2) => x.toFixed(d).padStart(7);

/** Share of all cores busy over the next `ms` milliseconds (this process is idle meanwhile). */
async function busyShare(ms = 500): Promise<number> {
  const total = () => cpus().reduce((a, c) => {
    const t = c.times;
    return { busy: a.busy + t.user + t.nice + t.sys + t.irq, all: a.all + t.user + t.nice + t.sys + t.irq + t.idle };
  }, { busy: 0, all: 0 });
  const a = total();
  await new Promise((r) => setTimeout(r, ms));
  const b = total();
  return (b.busy - a.busy) / Math.max(1, b.all - a.all);
}

async function main(): Promise<void> {
  const busy = await busyShare();
  console.log(`other processes keep ${(busy * 100).toFixed(0)}% of the CPUs busy; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (busy > 0.1) console.log('WARNING: the machine is busy; these numbers understate the kernels (run again when idle)');
  const ref = new RefBackend();
  const rows: string[] = [];
  const bandwidth: Record<number, number> = {};
  const refSpeed: Record<string, number> = {};
  const prefill: Record<number, number> = {};
  for (const threads of [1, 2]) {
    const b = await WasmBackend.create({ threads });
    try {
      const pool = b.allocWeightBytes(STREAM_BYTES);
      fillBf16(pool);
      const secs = time(() => b.probeRead(pool), 0.1);
      bandwidth[threads] = STREAM_BYTES / secs / 1e9;
      console.log(`${threads} thread(s): memory read probe ${fmt(bandwidth[threads]!)} GB/s`);
      for (const [r, c] of SHAPES) {
        const bytes = r * c * 2;
        const copies = Math.floor(STREAM_BYTES / bytes);
        const ws: Weight[] = Array.from({ length: copies }, (_, i) =>
          b.prepareWeight({ format: 'bf16', rows: r, cols: c, data: pool.subarray(i * bytes, (i + 1) * bytes) }),
        );
        const x = b.alloc(c).map((_, i) => Math.sin(i));
        const out = b.alloc(r);
        let next = 0;
        const streamed = time(() => {
          for (let k = 0; k < 16; k++) b.matmul(out, x, ws[next++ % copies]!, 1);
        }) / 16;
        const hot = time(() => b.matmul(out, x, ws[0]!, 1));
        const key = `${r}x${c}`;
        if (r === 1024 && c === 1024) {
          // Prefill: one weight block reused across 64 tokens.
          const xs = b.alloc(64 * c).map((_, i) => Math.cos(i));
          const outs = b.alloc(64 * r);
          prefill[threads] = (64 * r * c) / time(() => b.matmul(outs, xs, ws[0]!, 64)) / 1e9;
        }
        if (threads === 1) refSpeed[key] = (r * c) / time(() => ref.matmul(out, x, ws[0]!, 1), 0.2) / 1e9;
        const gws = (r * c) / streamed / 1e9;
        const ghot = (r * c) / hot / 1e9;
        rows.push(
          `${key.padEnd(10)} ${String(threads).padStart(7)} ${fmt(gws)} ${fmt(ghot)} ${fmt((gws * 2) / bandwidth[threads]!, 3)} ${fmt(gws / refSpeed[key]!, 1)}`,
        );
      }
    } finally {
      await b.dispose();
    }
  }
  console.log('\nbf16 matvec (decode), G weights/s, median of 5');
  console.log(`${'shape'.padEnd(10)} threads streamed     hot  of-bw  vs-ref`);
  for (const r of rows) console.log(r);
  console.log(`\nRefBackend: ${Object.entries(refSpeed).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')} G weights/s`);
  console.log(`of-bw: streamed bytes/s over the probe's GB/s with the same thread count (1 thread ${bandwidth[1]!.toFixed(1)}, 2 threads ${bandwidth[2]!.toFixed(1)} GB/s)`);
  console.log(`bf16 matmul, 64 tokens x 1024x1024 (prefill), G multiply-adds/s: 1 thread ${prefill[1]!.toFixed(2)}, 2 threads ${prefill[2]!.toFixed(2)}`);
  // Round trip of a tiny op on both threads (wake the worker, run 64 KiB each, wait for it).
  for (const spin of [0, 2000]) {
    const b = await WasmBackend.create({ threads: 2, spin });
    const buf = b.allocWeightBytes(2 * 65536);
    const us = time(() => b.probeRead(buf)) * 1e6;
    console.log(`dispatch round trip, 2 threads, spin ${spin}: ${us.toFixed(1)} µs per op`);
    await b.dispose();
  }
  console.log(`afterwards, other processes keep ${((await busyShare()) * 100).toFixed(0)}% of the CPUs busy`);
}

await main();
