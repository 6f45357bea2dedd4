/**
 * Multi-head latent attention (DeepSeek-V2/V3, Kimi-K2). Each token's keys and values are derived
 * from one normalised latent (kv_lora_rank) plus one RoPE key shared by all heads, and the cache
 * stores only those: kv_lora_rank + qk_rope_head_dim values per token per layer.
 *
 * Two ways to attend over that cache, equal up to rounding:
 *   naive     expand the cached latents with kv_b_proj into per-head keys and values, then attend
 *             (the transformers formulation; cheapest for a prefill)
 *   absorbed  fold kv_b_proj's key half into the query and its value half after attention, so the
 *             heads attend straight over the latent as one shared KV head (cheapest for decoding)
 */
import type { Backend, RopeTable } from '../../backend/backend.js';
import type { MlaAttentionSpec, RopeSpec } from '../../config/spec.js';
import { dequantRow, type Weight } from '../../tensor/weight.js';
import type { AttentionBlock } from './attention.js';
import { FullCache, type KvView, type LayerCache } from './kv-cache.js';
import { yarnMscale } from './rope.js';

/** 'auto' picks, per forward, whichever of the two needs fewer multiply-adds. */
export type MlaPath = 'naive' | 'absorbed' | 'auto';

export interface MlaWeights {
  /** Direct query projection [H·(nope+rope), hidden], when q_lora_rank is null. */
  q?: Weight;
  /** Query LoRA: qA [qLoraRank, hidden] -> RMSNorm(qANorm) -> qB [H·(nope+rope), qLoraRank]. */
  qA?: Weight;
  qANorm?: Float32Array;
  qB?: Weight;
  /** kv_a_proj_with_mqa [kvLoraRank + rope, hidden]: latent then the shared RoPE key. */
  kvA: Weight;
  kvANorm: Float32Array;
  /** kv_b_proj [H·(nope+v), kvLoraRank]: per head, key (nope) rows then value rows. */
  kvB: Weight;
  o: Weight; // [hidden, H·v]
}

export interface MlaOptions {
  spec: MlaAttentionSpec;
  rope: RopeTable;
  /** Softmax scale, see mlaSoftmaxScale. */
  scale: number;
  path: MlaPath;
}

/** (nope + rope)^-0.5, times mscale(factor, mscale_all_dim)² under YaRN (transformers DeepseekV3Attention). */
export function mlaSoftmaxScale(spec: MlaAttentionSpec, rope: RopeSpec): number {
  const base = 1 / Math.sqrt(spec.qkNopeHeadDim + spec.qkRopeHeadDim);
  const s = rope.scaling;
  if (s.kind !== 'yarn' || !s.mscaleAllDim) return base;
  const m = yarnMscale(s.factor, s.mscaleAllDim);
  return base * m * m;
}

/** dst[r, dstOff + c] = src[r, srcOff + c] for r < rows, c < width (row strides given). */
function copyCols(
  dst: Float32Array, dstStride: number, dstOff: number,
  src: Float32Array, srcStride: number, srcOff: number,
  rows: number, width: number,
): void {
  for (let r = 0; r < rows; r++) {
    const s = r * srcStride + srcOff;
    dst.set(src.subarray(s, s + width), r * dstStride + dstOff);
  }
}

export class MlaAttention implements AttentionBlock {
  /** Per head: W_uk[h]ᵀ [kvLoraRank, nope] (absorbed into the query) and W_uv[h] [v, kvLoraRank]. */
  private readonly ukT: Weight[] = [];
  private readonly uv: Weight[] = [];
  /** The path the last forward took (tests, statistics). */
  lastPath: 'naive' | 'absorbed' | null = null;

  constructor(
    private readonly backend: Backend,
    private readonly w: MlaWeights,
    private readonly opt: MlaOptions,
  ) {
    this.splitKvB();
  }

  /**
   * Checkpoint surgery, done once at load: decode kv_b_proj (any format, FP8 included) into the
   * absorbed path's per-head f32 matrices. The naive path keeps using kv_b_proj as stored.
   */
  private splitKvB(): void {
    const { numHeads, kvLoraRank: r, qkNopeHeadDim: nope, vHeadDim: dv } = this.opt.spec;
    const row = new Float32Array(r);
    for (let h = 0; h < numHeads; h++) {
      const ukT = new Float32Array(r * nope);
      const uv = new Float32Array(dv * r);
      const base = h * (nope + dv);
      for (let d = 0; d < nope; d++) {
        dequantRow(this.w.kvB, base + d, row);
        for (let c = 0; c < r; c++) ukT[c * nope + d] = row[c]!;
      }
      for (let d = 0; d < dv; d++) {
        dequantRow(this.w.kvB, base + nope + d, row);
        uv.set(row, d * r);
      }
      this.ukT.push(this.computedWeight(ukT, r, nope));
      this.uv.push(this.computedWeight(uv, dv, r));
    }
  }

  private computedWeight(values: Float32Array, rows: number, cols: number): Weight {
    const data = this.backend.allocWeightBytes(values.byteLength);
    data.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return this.backend.prepareWeight({ format: 'f32', rows, cols, data });
  }

  /** Only the latent and the shared RoPE key; values alias the latent (vWidth 0). */
  newCache(): LayerCache {
    const { kvLoraRank, qkRopeHeadDim } = this.opt.spec;
    return new FullCache(this.backend, kvLoraRank + qkRopeHeadDim, 0);
  }

  forward(x: Float32Array, out: Float32Array, n: number, positions: Int32Array, cache: LayerCache, outRows = n): void {
    const b = this.backend;
    const { numHeads: H, kvLoraRank: r, qkNopeHeadDim: nope, qkRopeHeadDim: rope, vHeadDim: dv, latentNormEps } = this.opt.spec;
    const { w } = this;
    const dq = nope + rope;
    // 1. Queries [m, H, nope | rope] of the last m tokens (the ones whose outputs are wanted)
    const m = outRows;
    const xq = x.subarray((n - m) * w.kvA.cols);
    const qPos = positions.subarray(n - m);
    const q = b.alloc(m * H * dq);
    if (w.q) b.matmul(q, xq, w.q, m);
    else {
      const qa = b.alloc(m * w.qA!.rows);
      b.matmul(qa, xq, w.qA!, m);
      b.rmsNorm(qa, qa, w.qANorm!, m, w.qA!.rows, latentNormEps);
      b.matmul(q, qa, w.qB!, m);
      b.free(qa);
    }
    b.rope({ x: q, n: m, heads: H, stride: dq, offset: nope, positions: qPos, table: this.opt.rope });
    // 2. Cache rows [n, latent | k_pe]: normalised latent, roped shared key
    const row = r + rope;
    const ckv = b.alloc(n * row);
    b.matmul(ckv, x, w.kvA, n);
    const lat = b.alloc(n * r);
    copyCols(lat, r, 0, ckv, row, 0, n, r);
    b.rmsNorm(lat, lat, w.kvANorm, n, r, latentNormEps);
    copyCols(ckv, row, 0, lat, r, 0, n, r);
    b.rope({ x: ckv, n, heads: 1, stride: row, offset: r, positions, table: this.opt.rope });
    const kv = cache.append(ckv, null, n, positions);
    b.free(lat);
    b.free(ckv);
    // 3. Attention -> [m, H, v]
    const attn = b.alloc(m * H * dv);
    this.lastPath = this.choosePath(m, kv.nk);
    if (this.lastPath === 'naive') this.attendNaive(q, kv, attn, m, qPos);
    else this.attendAbsorbed(q, kv, attn, m, qPos);
    b.matmul(out, attn, w.o, m);
    b.free(q);
    b.free(attn);
  }

  /** Multiply-adds per head: naive expands nk latents and attends at nope+rope+v per pair; absorbed at 2r+rope. */
  private choosePath(n: number, nk: number): 'naive' | 'absorbed' {
    if (this.opt.path !== 'auto') return this.opt.path;
    const { kvLoraRank: r, qkNopeHeadDim: nope, qkRopeHeadDim: rope, vHeadDim: dv } = this.opt.spec;
    const naive = nk * r * (nope + dv) + n * nk * (nope + rope + dv);
    const absorbed = n * r * (nope + dv) + n * nk * (2 * r + rope);
    return naive <= absorbed ? 'naive' : 'absorbed';
  }

  private attendNaive(q: Float32Array, kv: KvView, attn: Float32Array, n: number, positions: Int32Array): void {
    const b = this.backend;
    const { numHeads: H, kvLoraRank: r, qkNopeHeadDim: nope, qkRopeHeadDim: rope, vHeadDim: dv } = this.opt.spec;
    const { nk } = kv;
    const dq = nope + rope;
    const lat = b.alloc(nk * r);
    copyCols(lat, r, 0, kv.k, kv.kStride, 0, nk, r);
    const kvb = b.alloc(nk * H * (nope + dv));
    b.matmul(kvb, lat, this.w.kvB, nk);
    const k = b.alloc(nk * H * dq);
    const v = b.alloc(nk * H * dv);
    for (let h = 0; h < H; h++) {
      copyCols(k, H * dq, h * dq, kvb, H * (nope + dv), h * (nope + dv), nk, nope);
      copyCols(k, H * dq, h * dq + nope, kv.k, kv.kStride, r, nk, rope);
      copyCols(v, H * dv, h * dv, kvb, H * (nope + dv), h * (nope + dv) + nope, nk, dv);
    }
    b.attention({
      q, k, v, out: attn, nq: n, nk, numHeads: H, numKvHeads: H, dk: dq, dv,
      scale: this.opt.scale, qPos: positions, kPos: kv.kPos, window: null, sinks: null,
    });
    for (const buf of [lat, kvb, k, v]) b.free(buf);
  }

  private attendAbsorbed(q: Float32Array, kv: KvView, attn: Float32Array, n: number, positions: Int32Array): void {
    const b = this.backend;
    const { numHeads: H, kvLoraRank: r, qkNopeHeadDim: nope, qkRopeHeadDim: rope, vHeadDim: dv } = this.opt.spec;
    const dq = nope + rope;
    const dk = r + rope;
    // q_abs[h] = [W_uk[h]ᵀ q_nope[h] | q_pe[h]], against cache rows [latent | k_pe].
    const qAbs = b.alloc(n * H * dk);
    const qh = b.alloc(n * Math.max(nope, r));
    const lh = b.alloc(n * Math.max(r, dv));
    for (let h = 0; h < H; h++) {
      copyCols(qh, nope, 0, q, H * dq, h * dq, n, nope);
      b.matmul(lh, qh, this.ukT[h]!, n);
      copyCols(qAbs, H * dk, h * dk, lh, r, 0, n, r);
      copyCols(qAbs, H * dk, h * dk + r, q, H * dq, h * dq + nope, n, rope);
    }
    // One shared KV head (MQA); values are the latent prefix of each cache row.
    const oLat = b.alloc(n * H * r);
    b.attention({
      q: qAbs, k: kv.k, v: kv.v, kStride: kv.kStride, vStride: kv.vStride, out: oLat, nq: n, nk: kv.nk,
      numHeads: H, numKvHeads: 1, dk, dv: r, scale: this.opt.scale, qPos: positions, kPos: kv.kPos,
      window: null, sinks: null,
    });
    // out[h] = W_uv[h] · o_lat[h]
    for (let h = 0; h < H; h++) {
      copyCols(qh, r, 0, oLat, H * r, h * r, n, r);
      b.matmul(lh, qh, this.uv[h]!, n);
      copyCols(attn, H * dv, h * dv, lh, dv, 0, n, dv);
    }
    for (const buf of [qAbs, qh, lh, oLat]) b.free(buf);
  }
}
