/**
 * Next-token choice: penalties (exact logit transforms), then temperature, top-k, top-p, min-p in
 * transformers' order, then a draw from a seeded PRNG. Temperature 0 is greedy (argmax after penalties).
 */
import { OwlError } from '../errors.js';
import { argmax } from './metrics.js';
import type { Rng } from './rng.js';

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature: number;
  /** Keep the k most likely tokens (ties with the k-th kept, as transformers does); 0 = off. */
  topK: number;
  /** Keep the most likely tokens until their probability reaches p; 1 = off. */
  topP: number;
  /** Drop tokens less likely than minP × the most likely one; 0 = off. */
  minP: number;
  /** CTRL / transformers: logits of tokens in the prompt or output divided (>0) or multiplied (<0) by it; 1 = off. */
  repetitionPenalty: number;
  /** OpenAI: subtracted once from the logit of every token already generated; 0 = off. */
  presencePenalty: number;
  /** OpenAI: subtracted per occurrence of a token already generated; 0 = off. */
  frequencyPenalty: number;
}

export const GREEDY: SamplingOptions = {
  temperature: 0,
  topK: 0,
  topP: 1,
  minP: 0,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
};

/** Check user-supplied values; the message names the option (as the library spells it). */
export function validateSampling(o: Partial<SamplingOptions>): void {
  const bad = (name: string, what: string, v: unknown) => new OwlError(`${name} must be ${what}, got ${String(v)}`);
  const num = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (o.temperature !== undefined && !(num(o.temperature) && o.temperature >= 0)) throw bad('temperature', 'a number >= 0', o.temperature);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw bad('topK', 'an integer >= 0', o.topK);
  if (o.topP !== undefined && !(num(o.topP) && o.topP > 0 && o.topP <= 1)) throw bad('topP', 'in (0, 1]', o.topP);
  if (o.minP !== undefined && !(num(o.minP) && o.minP >= 0 && o.minP <= 1)) throw bad('minP', 'in [0, 1]', o.minP);
  if (o.repetitionPenalty !== undefined && !(num(o.repetitionPenalty) && o.repetitionPenalty > 0))
    throw bad('repetitionPenalty', 'a number > 0', o.repetitionPenalty);
  if (o.presencePenalty !== undefined && !num(o.presencePenalty)) throw bad('presencePenalty', 'a finite number', o.presencePenalty);
  if (o.frequencyPenalty !== undefined && !num(o.frequencyPenalty)) throw bad('frequencyPenalty', 'a finite number', o.frequencyPenalty);
}

/** In place: logit / penalty when positive, × penalty otherwise, once per distinct token in `seen`. */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    const v = logits[id]!;
    logits[id] = v < 0 ? v * penalty : v / penalty;
  }
}

/** In place: logit − count × frequency − (count > 0) × presence (OpenAI's definition). */
export function applyPresenceFrequency(logits: Float32Array, counts: ReadonlyMap<number, number>, presence: number, frequency: number): void {
  if (presence === 0 && frequency === 0) return;
  for (const [id, c] of counts) if (c > 0) logits[id] = logits[id]! - c * frequency - presence;
}

/** Tokens that survive temperature/top-k/top-p/min-p, in id order, with their renormalised probabilities. */
export interface Candidates {
  ids: number[];
  probs: number[];
}

/**
 * The distribution a draw is made from (temperature > 0). Top-p works on the top-k renormalised
 * distribution and min-p on what is left, as transformers' warpers chain.
 */
export function candidates(logits: ArrayLike<number>, o: Pick<SamplingOptions, 'temperature' | 'topK' | 'topP' | 'minP'>): Candidates {
  const { weight, ids } = filtered(logits, o);
  const kept = ids ?? Int32Array.from({ length: logits.length }, (_, i) => i);
  let total = 0;
  for (const i of kept) total += weight(i);
  return { ids: Array.from(kept), probs: Array.from(kept, (i) => weight(i) / total) };
}

/**
 * weight(id) = exp((logit - max) / T), and the ids that survive the filters in id order (null: all).
 * Linear in the vocabulary except top-p, which sorts the values still in play (natively).
 */
function filtered(logits: ArrayLike<number>, o: Pick<SamplingOptions, 'temperature' | 'topK' | 'topP' | 'minP'>) {
  if (!(o.temperature > 0)) throw new OwlError('sampling: temperature must be > 0 (0 means greedy)');
  const n = logits.length;
  const inv = 1 / o.temperature;
  const scaled = scratch(0, n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    scaled[i] = logits[i]! * inv;
    if (scaled[i]! > max) max = scaled[i]!;
  }
  const weight = (i: number) => Math.exp(scaled[i]! - max);
  let ids: Int32Array | null = null;
  const keep = (test: (i: number) => boolean) => {
    const out = new Int32Array(ids ? ids.length : n);
    let m = 0;
    if (ids) for (const i of ids) test(i) && (out[m++] = i);
    else for (let i = 0; i < n; i++) test(i) && (out[m++] = i);
    ids = out.subarray(0, m);
  };
  if (o.topK > 0 && o.topK < n) {
    const kth = kthLargest(scaled, o.topK);
    keep((i) => scaled[i]! >= kth);
  }
  if (o.topP < 1) {
    // A token stays while the probability of the tokens before it (most likely first, ties by id) is < p.
    const inPlay: Float64Array = ids ? Float64Array.from(ids as Int32Array, (i) => scaled[i]!) : scaled;
    const { threshold, m } = topPCut(inPlay, max, o.topP);
    let ties = m - countAbove(inPlay, threshold);
    keep((i) => scaled[i]! > threshold || (scaled[i] === threshold && ties-- > 0));
  }
  // min-p: p_i / p_max = exp(s_i - s_max) whatever the normalisation.
  if (o.minP > 0) keep((i) => weight(i) >= o.minP);
  return { weight, ids: ids as Int32Array | null };
}

/** Draw with u ∈ [0, 1) from the kept ids (null: all ids) in proportion to their weights. */
function draw(weight: (i: number) => number, ids: Int32Array | null, n: number, u: number): number {
  const m = ids ? ids.length : n;
  const w = scratch(1, m);
  let total = 0;
  for (let j = 0; j < m; j++) total += w[j] = weight(ids ? ids[j]! : j);
  const target = u * total;
  let cum = 0;
  let last = 0;
  for (let j = 0; j < m; j++) {
    cum += w[j]!;
    if (w[j]! > 0) last = j;
    if (target < cum) return ids ? ids[j]! : j;
  }
  return ids ? ids[last]! : last;
}

/**
 * Top-p's cut: m, the fewest most likely values whose probabilities reach p (all of them when
 * rounding keeps the sum below p), and the m-th largest value. The values are summed most likely
 * first. Only a candidate set is sorted: the top 256 values (a peaked distribution's nucleus), else
 * the values above the bucket where bucketed probabilities reach p (one pass over the vocabulary),
 * the next bucket included for rounding; if its exact sum still falls short, the top k values, k
 * growing 8x. (Sorting all 150K values cost ~20 ms a token; the growing top-k ~17-20 ms on a flat
 * distribution, the buckets ~8.)
 */
function topPCut(values: Float64Array, max: number, p: number): { threshold: number; m: number } {
  let z = 0;
  for (let j = 0; j < values.length; j++) z += Math.exp(values[j]! - max);
  const cut = (top: Float64Array) => {
    let cum = 0;
    let m = 0;
    while (m < top.length && cum < p) cum += Math.exp(top[m++]! - max) / z;
    return { threshold: top[m - 1]!, m, reached: cum >= p };
  };
  // Most nuclei (a peaked distribution) lie within the top 256.
  const first = cut(largest(values, Math.min(256, values.length)).sort().reverse());
  if (first.reached || values.length <= 256) return first;
  const floor = nucleusFloor(values, z, max, p);
  if (floor !== null) {
    let k = 0;
    for (let j = 0; j < values.length; j++) if (values[j]! >= floor) k++;
    const top = new Float64Array(k);
    k = 0;
    for (let j = 0; j < values.length; j++) if (values[j]! >= floor) top[k++] = values[j]!;
    const r = cut(top.sort().reverse());
    if (r.reached || k === values.length) return r;
  }
  for (let k = 2048; ; k = Math.min(values.length, k * 8)) {
    const r = cut(largest(values, Math.min(k, values.length)).sort().reverse());
    if (r.reached || k >= values.length) return r;
  }
}

/** Buckets of max - value this wide (in scaled logits), down to BUCKETS × BUCKET_WIDTH below the max. */
const BUCKETS = 1024;
const BUCKET_WIDTH = 1 / 16;

/**
 * A value at or above which the nucleus lies: the lower edge of the bucket after the one where the
 * buckets' probabilities, most likely first, reach p; null when they do not within the buckets.
 */
function nucleusFloor(values: Float64Array, z: number, max: number, p: number): number | null {
  const mass = new Float64Array(BUCKETS);
  for (let j = 0; j < values.length; j++) {
    const d = max - values[j]!;
    const b = Math.floor(d / BUCKET_WIDTH);
    if (b < BUCKETS) mass[b]! += Math.exp(-d);
  }
  let cum = 0;
  for (let b = 0; b < BUCKETS; b++) {
    cum += mass[b]! / z;
    if (cum >= p) return max - Math.min(BUCKETS, b + 2) * BUCKET_WIDTH;
  }
  return null;
}

/**
 * A reusable Float64Array of at least `length` (slot 0: scaled logits, 1: draw weights): a fresh 1.2 MB
 * array per token cost its page faults (~1.5 ms). Valid until the next sampling call.
 */
function scratch(slot: 0 | 1, length: number): Float64Array {
  let buf = scratchBuffers[slot];
  if (!buf || buf.length < length) scratchBuffers[slot] = buf = new Float64Array(length);
  return buf.subarray(0, length);
}
const scratchBuffers: [Float64Array | null, Float64Array | null] = [null, null];

function countAbove(values: Float64Array, t: number): number {
  let c = 0;
  for (let j = 0; j < values.length; j++) if (values[j]! > t) c++;
  return c;
}

/** The k-th largest value. */
function kthLargest(v: Float64Array, k: number): number {
  return largest(v, k)[0]!;
}

/** The k largest values as a min-heap (heap[0] the smallest of them): one comparison for most elements. */
function largest(v: Float64Array, k: number): Float64Array {
  const heap = new Float64Array(k);
  let size = 0;
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let s = i;
      if (l < size && heap[l]! < heap[s]!) s = l;
      if (r < size && heap[r]! < heap[s]!) s = r;
      if (s === i) return;
      [heap[i], heap[s]] = [heap[s]!, heap[i]!];
      i = s;
    }
  };
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (size < k) {
      let j = size++;
      heap[j] = x;
      while (j > 0 && heap[(j - 1) >> 1]! > heap[j]!) {
        const p = (j - 1) >> 1;
        [heap[p], heap[j]] = [heap[j]!, heap[p]!];
        j = p;
      }
    } else if (x > heap[0]!) {
      heap[0] = x;
      down(0);
    }
  }
  return heap;
}

/**
 * Stateful chooser for one generation: remembers the prompt (repetition penalty) and what it has
 * generated (presence/frequency penalties).
 */
export class Sampler {
  private readonly seen = new Set<number>();
  private readonly counts = new Map<number, number>();

  constructor(
    readonly options: SamplingOptions,
    private readonly rng: Rng,
  ) {
    validateSampling(options);
  }

  /** Tokens of the prompt: they count for the repetition penalty only. */
  observePrompt(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) this.seen.add(ids[i]!);
  }

  /** A generated token: counts for every penalty. */
  accept(id: number): void {
    this.seen.add(id);
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
  }

  /** The penalised logits (a copy when a penalty applies). */
  penalise(logits: Float32Array): Float32Array {
    const o = this.options;
    if (o.repetitionPenalty === 1 && o.presencePenalty === 0 && o.frequencyPenalty === 0) return logits;
    const out = logits.slice();
    applyRepetitionPenalty(out, this.seen, o.repetitionPenalty);
    applyPresenceFrequency(out, this.counts, o.presencePenalty, o.frequencyPenalty);
    return out;
  }

  /** Choose the next token from one row of logits (does not accept it). */
  pick(logits: Float32Array): number {
    const o = this.options;
    const row = this.penalise(logits);
    if (o.temperature === 0) return argmax(row);
    const { weight, ids } = filtered(row, o);
    return draw(weight, ids, row.length, this.rng.next());
  }
}
