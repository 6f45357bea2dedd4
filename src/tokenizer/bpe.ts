/**
 * Byte-pair encoding over token ids, as the Rust `tokenizers` BPE model does it: split a pre-token
 * into characters, then repeatedly merge the adjacent pair with the lowest merge rank (leftmost on
 * ties). Merges live in an open-addressing table keyed by id pairs: building it is much cheaper
 * than a Map of strings, which is what makes the 446k-merge o200k vocabulary load fast.
 */

import { BYTE_TO_CHAR } from './byte-level.js';

export interface BpeOptions {
  /** Emit a pre-token that is itself in the vocabulary as one token, without merging (o200k). */
  ignoreMerges: boolean;
  /** Characters missing from the vocabulary become `<0xNN>` byte tokens. */
  byteFallback: boolean;
  unkId: number | undefined;
  fuseUnk: boolean;
  /**
   * Words arrive as raw text and are mapped to the byte-level alphabet here, only on a cache miss
   * (the mapping is most of the cost of encoding when done for every word).
   */
  byteLevel?: boolean;
}

const SMALL_WORD = 48;
const utf8 = new TextEncoder();

function byteLevelString(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_TO_CHAR[b];
  return s;
}

export class BpeModel {
  private readonly vocab: Record<string, number>;
  private readonly mergeLeft: Int32Array;
  private readonly mergeRight: Int32Array;
  private readonly mergeRank: Int32Array;
  /** Id of the merged token, looked up on first use (-1 until then): saves a string concat per merge at load. */
  private readonly mergeResult: Int32Array;
  private readonly mask: number;
  /** id -> vocabulary token. */
  readonly tokens: Array<string | undefined> = [];
  /** BMP code unit -> id of the one-character token, -1 if none. */
  private readonly charIds = new Int32Array(65536).fill(-1);
  private readonly cache = new Map<string, number[]>();
  /** Byte value -> id of its byte-level character token (-1 if missing). */
  private readonly byteIds = new Int32Array(256).fill(-1);

  constructor(
    vocab: Record<string, number>,
    merges: ReadonlyArray<string | readonly string[]>,
    private readonly options: BpeOptions,
  ) {
    this.vocab = vocab;
    for (const token in vocab) {
      const id = vocab[token];
      this.tokens[id] = token;
      if (token.length === 1) this.charIds[token.charCodeAt(0)] = id;
    }
    BYTE_TO_CHAR.forEach((c, b) => (this.byteIds[b] = this.charIds[c.charCodeAt(0)]));
    let cap = 1024;
    while (cap < merges.length * 2) cap *= 2;
    this.mask = cap - 1;
    this.mergeLeft = new Int32Array(cap).fill(-1);
    this.mergeRight = new Int32Array(cap);
    this.mergeRank = new Int32Array(cap);
    this.mergeResult = new Int32Array(cap).fill(-1);
    for (let rank = 0; rank < merges.length; rank++) {
      const m = merges[rank];
      let a: string, b: string;
      if (typeof m === 'string') {
        const sp = m.indexOf(' ');
        a = m.slice(0, sp);
        b = m.slice(sp + 1);
      } else {
        a = m[0];
        b = m[1];
      }
      const ida = this.tokenId(a);
      const idb = this.tokenId(b);
      if (ida === undefined || idb === undefined) continue;
      let slot = this.slot(ida, idb);
      while (this.mergeLeft[slot] !== -1) {
        if (this.mergeLeft[slot] === ida && this.mergeRight[slot] === idb) break;
        slot = (slot + 1) & this.mask;
      }
      if (this.mergeLeft[slot] !== -1) continue; // duplicate merge: the first (lowest) rank wins
      this.mergeLeft[slot] = ida;
      this.mergeRight[slot] = idb;
      this.mergeRank[slot] = rank;
    }
  }

  /** The merged token of a table entry; a merge whose result is not in the vocabulary never applies. */
  private result(slot: number): number {
    let id = this.mergeResult[slot];
    if (id === -1) {
      id = this.tokenId(this.tokens[this.mergeLeft[slot]]! + this.tokens[this.mergeRight[slot]]!) ?? -2;
      this.mergeResult[slot] = id;
    }
    return id;
  }

  /** Id of a vocabulary token (not added tokens). */
  tokenId(token: string): number | undefined {
    const id = this.vocab[token];
    return typeof id === 'number' ? id : undefined;
  }

  /** Append the ids of one pre-token to `out`. */
  encodeWord(word: string, out: number[]): void {
    if (word.length === 0) return;
    const cached = this.cache.get(word);
    if (cached) {
      for (const id of cached) out.push(id);
      return;
    }
    let ids: number[];
    const bytes = this.options.byteLevel ? utf8.encode(word) : null;
    const whole = this.options.ignoreMerges ? this.tokenId(bytes ? byteLevelString(bytes) : word) : undefined;
    if (whole !== undefined) ids = [whole];
    else {
      ids = bytes ? this.byteSymbols(bytes) : this.initialSymbols(word);
      if (ids.length > 1) ids = ids.length <= SMALL_WORD ? this.mergeSmall(ids) : this.mergeLarge(ids);
    }
    if (word.length < 256) {
      if (this.cache.size >= 65536) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }

  private slot(a: number, b: number): number {
    return (Math.imul(a ^ Math.imul(b, 0x85ebca6b), 0x9e3779b1) >>> 7) & this.mask;
  }

  /** Index into the merge table for the pair (a, b), or -1. */
  private find(a: number, b: number): number {
    let slot = this.slot(a, b);
    for (;;) {
      const left = this.mergeLeft[slot];
      if (left === -1) return -1;
      if (left === a && this.mergeRight[slot] === b) return this.result(slot) >= 0 ? slot : -1;
      slot = (slot + 1) & this.mask;
    }
  }

  private byteSymbols(bytes: Uint8Array): number[] {
    const ids: number[] = [];
    for (const b of bytes) {
      const id = this.byteIds[b];
      if (id >= 0) ids.push(id);
      else if (this.options.unkId !== undefined) ids.push(this.options.unkId);
    }
    return ids;
  }

  private initialSymbols(word: string): number[] {
    const ids: number[] = [];
    let lastUnk = false;
    for (const ch of word) {
      let id = ch.length === 1 ? this.charIds[ch.charCodeAt(0)] : (this.tokenId(ch) ?? -1);
      if (id >= 0) {
        ids.push(id);
        lastUnk = false;
        continue;
      }
      if (this.options.byteFallback) {
        const bytes = new TextEncoder().encode(ch);
        const byteIds = Array.from(bytes, (b) => this.tokenId(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
        if (byteIds.every((x) => x !== undefined)) {
          ids.push(...(byteIds as number[]));
          lastUnk = false;
          continue;
        }
      }
      const unk = this.options.unkId;
      if (unk === undefined) continue; // no unk token: the character is dropped
      if (!(this.options.fuseUnk && lastUnk)) ids.push(unk);
      lastUnk = true;
    }
    return ids;
  }

  /** Quadratic scan: cheapest for the short words that make up almost all text. */
  private mergeSmall(ids: number[]): number[] {
    for (;;) {
      let best = -1;
      let bestRank = 0x7fffffff;
      for (let i = 0; i + 1 < ids.length; i++) {
        const s = this.find(ids[i], ids[i + 1]);
        if (s >= 0 && this.mergeRank[s] < bestRank) {
          bestRank = this.mergeRank[s];
          best = i;
        }
      }
      if (best < 0) return ids;
      ids.splice(best, 2, this.mergeResult[this.find(ids[best], ids[best + 1])]);
    }
  }

  /** Heap of candidate merges keyed by (rank, position), with stale entries skipped on pop. */
  private mergeLarge(initial: number[]): number[] {
    const n = initial.length;
    const id = Int32Array.from(initial);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const POS = 4194304; // positions < 2^22, ranks < 2^30: keys stay exact doubles
    const heap: number[] = [];
    const push = (key: number) => {
      let i = heap.length;
      heap.push(key);
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (heap[p] <= key) break;
        heap[i] = heap[p];
        i = p;
      }
      heap[i] = key;
    };
    const pop = (): number => {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length > 0) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= heap.length) break;
          const c = l + 1 < heap.length && heap[l + 1] < heap[l] ? l + 1 : l;
          if (heap[c] >= last) break;
          heap[i] = heap[c];
          i = c;
        }
        heap[i] = last;
      }
      return top;
    };
    const consider = (i: number) => {
      const j = next[i];
      if (j < 0) return;
      const s = this.find(id[i], id[j]);
      if (s >= 0) push(this.mergeRank[s] * POS + i);
    };
    if (n >= POS) throw new RangeError('BPE word too long');
    for (let i = 0; i + 1 < n; i++) consider(i);
    while (heap.length > 0) {
      const key = pop();
      const rank = Math.floor(key / POS);
      const i = key - rank * POS;
      const j = next[i];
      if (!alive[i] || j < 0) continue;
      const s = this.find(id[i], id[j]);
      if (s < 0 || this.mergeRank[s] !== rank) continue;
      id[i] = this.mergeResult[s];
      alive[j] = 0;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      if (prev[i] >= 0) consider(prev[i]);
      consider(i);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(id[i]);
    return out;
  }
}
