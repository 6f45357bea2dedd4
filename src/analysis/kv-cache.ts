/**
 * KV-cache size from the spec. GQA caches K and V for each KV head; MLA caches the compressed latent
 * plus the shared RoPE key (kv_lora_rank + qk_rope_head_dim values per layer). Sliding-window layers
 * hold at most `window` tokens, so only full-attention layers keep growing with the context.
 */
import type { ModelSpec } from '../config/spec.js';
import { OwlError } from '../errors.js';

export const KV_DTYPES = ['bf16', 'f16', 'f32', 'fp8'] as const;
export type KvDtype = (typeof KV_DTYPES)[number];

export const KV_DTYPE_BYTES: Record<KvDtype, number> = { bf16: 2, f16: 2, f32: 4, fp8: 1 };

export function parseKvDtype(s: string): KvDtype {
  if ((KV_DTYPES as readonly string[]).includes(s)) return s as KvDtype;
  throw new OwlError(`unknown KV-cache dtype "${s}" (expected ${KV_DTYPES.join(', ')})`);
}

/** Values one layer caches per token. */
export function kvValuesPerLayer(spec: ModelSpec): number {
  const a = spec.attention;
  return a.kind === 'gqa' ? 2 * a.numKvHeads * a.headDim : a.kvLoraRank + a.qkRopeHeadDim;
}

/** What plain multi-head attention with the same query heads would cache per layer and token (K and V for every head). */
export function mhaValuesPerLayer(spec: ModelSpec): number {
  const a = spec.attention;
  return a.kind === 'gqa'
    ? 2 * a.numHeads * a.headDim
    : a.numHeads * (a.qkNopeHeadDim + a.qkRopeHeadDim + a.vHeadDim);
}

function layerCounts(spec: ModelSpec): { full: number; sliding: number } {
  const sliding = spec.layers.filter((l) => l.attention === 'sliding').length;
  return { full: spec.layers.length - sliding, sliding };
}

/** The numbers that fix a model's cache size at any length. */
export interface KvShape {
  /** Values one layer caches per token (2 x kv_heads x head_dim; MLA: kv_lora_rank + qk_rope_head_dim). */
  values_per_layer: number;
  bytes_per_value: number;
  full_layers: number;
  sliding_layers: number;
  sliding_window: number | null;
}

export function kvShape(spec: ModelSpec, dtype: KvDtype = 'bf16'): KvShape {
  const { full, sliding } = layerCounts(spec);
  return {
    values_per_layer: kvValuesPerLayer(spec),
    bytes_per_value: KV_DTYPE_BYTES[dtype],
    full_layers: full,
    sliding_layers: sliding,
    sliding_window: sliding > 0 ? spec.slidingWindow : null,
  };
}

/** Whole cache for `tokens` tokens: full layers hold them all, sliding layers min(tokens, window). */
export function kvBytesAt(k: KvShape, tokens: number): number {
  const slidingTokens = Math.min(tokens, k.sliding_window ?? tokens);
  return (k.full_layers * tokens + k.sliding_layers * slidingTokens) * k.values_per_layer * k.bytes_per_value;
}

/**
 * Bytes each further token adds to the cache at long context: full-attention layers only, since
 * sliding-window layers stop growing once the window is full. MTP layers are not counted.
 */
export function kvCacheBytesPerToken(spec: ModelSpec, dtype: KvDtype = 'bf16'): number {
  const k = kvShape(spec, dtype);
  return k.full_layers * k.values_per_layer * k.bytes_per_value;
}

export function kvCacheBytes(spec: ModelSpec, tokens: number, dtype: KvDtype = 'bf16'): number {
  return kvBytesAt(kvShape(spec, dtype), tokens);
}

/** Long-context growth per token if the same layers cached K and V for every query head (plain MHA). */
export function mhaCacheBytesPerToken(spec: ModelSpec, dtype: KvDtype = 'bf16'): number {
  return layerCounts(spec).full * mhaValuesPerLayer(spec) * KV_DTYPE_BYTES[dtype];
}

export interface KvCacheReport extends KvShape {
  dtype: KvDtype;
  /** Long-context growth per token (full-attention layers). */
  bytes_per_token: number;
  /** Per token while the context is within the sliding window (every layer caches it). */
  bytes_per_token_within_window: number;
  /** Whole cache for n tokens, keyed by n. */
  bytes_at: Record<string, number>;
  /** Plain multi-head attention with the same query heads and layer pattern. */
  mha_values_per_layer: number;
  mha_bytes_per_token: number;
  /** mha_bytes_per_token / bytes_per_token (null when no layer grows). */
  reduction_vs_mha: number | null;
  /** MLA only: the cache equals GQA with this many KV groups of the nope head dim (DeepSeek-V2's "2.25 groups"). */
  gqa_equivalent_groups: number | null;
}

export function kvCacheReport(spec: ModelSpec, dtype: KvDtype, contexts: number[]): KvCacheReport {
  const shape = kvShape(spec, dtype);
  const perToken = kvCacheBytesPerToken(spec, dtype);
  const mha = mhaCacheBytesPerToken(spec, dtype);
  const a = spec.attention;
  return {
    dtype,
    bytes_per_token: perToken,
    bytes_at: Object.fromEntries(contexts.map((n) => [String(n), kvBytesAt(shape, n)])),
    ...shape,
    bytes_per_token_within_window: spec.layers.length * shape.values_per_layer * shape.bytes_per_value,
    mha_values_per_layer: mhaValuesPerLayer(spec),
    mha_bytes_per_token: mha,
    reduction_vs_mha: perToken > 0 ? mha / perToken : null,
    gqa_equivalent_groups: a.kind === 'mla' ? (a.kvLoraRank + a.qkRopeHeadDim) / (2 * a.qkNopeHeadDim) : null,
  };
}
