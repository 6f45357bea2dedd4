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
  const scaled = new Float64Array(n);
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
    let z = 0;
    for (let j = 0; j < inPlay.length; j++) z += Math.exp(inPlay[j]! - max);
    const { threshold, m } = topPCut(inPlay, z, max, o.topP);
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
  const w = new Float64Array(m);
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
 * rounding keeps the sum below p), and the m-th largest value. Only the top k values are sorted,
 * k growing 8x until the cut falls inside them: the nucleus is usually a few hundred tokens of a
 * 150K vocabulary (sorting all of it cost ~20 ms a token).
 */
function topPCut(values: Float64Array, z: number, max: number, p: number): { threshold: number; m: number } {
  for (let k = Math.min(256, values.length); ; k = Math.min(values.length, k * 8)) {
    const top = largest(values, k).sort().reverse();
    let cum = 0;
    let m = 0;
    while (m < k && cum < p) cum += Math.exp(top[m++]! - max) / z;
    if (cum >= p || k === values.length) return { threshold: top[m - 1]!, m };
  }
}

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
