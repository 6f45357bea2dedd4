/**
 * The publishers' claims (config/presets/claims.json) lined up against the computed numbers, each
 * under the counting convention the claim uses, with a verdict. Claims are read field by field, so a
 * new entry in claims.json with the same keys is checked without code changes.
 */
import type { ModelSpec } from '../config/spec.js';
import claimsData from '../config/presets/claims.json' with { type: 'json' };
import type { ModelAnalysis } from './analyze.js';
import { kvCacheBytesPerToken } from './kv-cache.js';
import { trainingFlopsPerToken } from './flops.js';

export type ClaimsEntry = Record<string, unknown>;

/**
 * agrees: within 0.5%; rounded: equal once the computed value is rounded to the claim's digits;
 * truncated: equal only if the claim cut digits off; disagrees: none of these; info: no verdict.
 */
export type Verdict = 'agrees' | 'rounded' | 'truncated' | 'disagrees' | 'info';

export interface ClaimCheck {
  topic: string;
  /** As the publisher states it (units as stated: B = 10^9 parameters). */
  claimed: string;
  computed: string;
  claimed_value: number | null;
  computed_value: number | null;
  /** (computed - claimed) / claimed, in percent. */
  diff_pct: number | null;
  verdict: Verdict;
  /** Which count the claim is compared with, and anything a reader should know. */
  note: string;
}

const CLAIMS = claimsData as unknown as Record<string, ClaimsEntry>;

/** The claims.json entry of a preset (matched through spec.source "preset:ORG/NAME"), or null. */
export function claimsEntryFor(source: string): ClaimsEntry | null {
  if (!source.startsWith('preset:')) return null;
  const e = CLAIMS[source.slice('preset:'.length)];
  return e && typeof e === 'object' ? e : null;
}

function decimals(x: number): number {
  const s = String(x);
  return s.includes('.') ? s.length - s.indexOf('.') - 1 : 0;
}

/** Verdict for a claimed number against the computed one, in the claim's own unit. */
export function judge(claimed: number, computed: number): { verdict: Verdict; diff_pct: number } {
  const diff = ((computed - claimed) / claimed) * 100;
  const d = decimals(claimed);
  const scale = 10 ** d;
  const eq = (x: number) => Math.abs(x - claimed) < 0.5 / scale / 1000;
  let verdict: Verdict = 'disagrees';
  if (Math.abs(diff) <= 0.5) verdict = 'agrees';
  else if (eq(Math.round(computed * scale) / scale)) verdict = 'rounded';
  else if (eq(Math.floor(computed * scale) / scale)) verdict = 'truncated';
  return { verdict, diff_pct: diff };
}

const fmt = (x: number, digits = 3) => x.toLocaleString('en-US', { maximumFractionDigits: digits });
const B = (n: number) => n / 1e9;

function numberCheck(topic: string, claimed: number, unit: string, computed: number, note: string, digits = 3): ClaimCheck {
  const { verdict, diff_pct } = judge(claimed, computed);
  return {
    topic,
    claimed: `${fmt(claimed, 6)}${unit}`,
    computed: `${fmt(computed, digits)}${unit}`,
    claimed_value: claimed,
    computed_value: computed,
    diff_pct,
    verdict,
    note,
  };
}

function info(topic: string, claimed: string, computed: string, note: string): ClaimCheck {
  return { topic, claimed, computed, claimed_value: null, computed_value: null, diff_pct: null, verdict: 'info', note };
}

const num = (e: ClaimsEntry, k: string): number | null => (typeof e[k] === 'number' ? (e[k] as number) : null);
const str = (e: ClaimsEntry, k: string): string | null => (typeof e[k] === 'string' ? (e[k] as string) : null);

/** Which active count a claim uses, from claims.json's active_counts wording ("embedding not" = gpt-oss's). */
function activeConvention(e: ClaimsEntry, a: ModelAnalysis): { value: number; name: string } {
  const words = str(e, 'active_counts') ?? '';
  if (/embedding not/i.test(words))
    return { value: a.params.active_no_embedding, name: 'active excl. embedding (LM head counted)' };
  return { value: a.params.active, name: 'active incl. embedding and LM head' };
}

/** Largest token count in a stated context ("131,072", "128K", "32,768 natively and 131,072 with YaRN"). */
export function parseContext(s: string): number | null {
  const values = [...s.matchAll(/(\d[\d,]*)\s*([Kk])?/g)].map((m) => Number(m[1]!.replace(/,/g, '')) * (m[2] ? 1024 : 1));
  return values.length ? Math.max(...values) : null;
}

export function checkClaims(spec: ModelSpec, a: ModelAnalysis, e: ClaimsEntry | null): ClaimCheck[] {
  const out: ClaimCheck[] = [];
  const p = a.params;
  const mtpNote = p.mtp > 0 ? 'main model, MTP module apart' : 'every stored weight';
  const conventions = `incl. all ${fmt(B(p.active))}B / excl. emb. ${fmt(B(p.active_no_embedding))}B / non-emb. ${fmt(B(p.active_non_embedding))}B`;
  if (e) {
    const total = num(e, 'total_b');
    if (total !== null) out.push(numberCheck('total parameters', total, 'B', B(p.total), mtpNote));
    const active = num(e, 'active_b');
    if (active !== null) {
      const c = activeConvention(e, a);
      const stated = str(e, 'active_counts');
      out.push(
        numberCheck('active parameters', active, 'B', B(c.value), `${c.name}${stated ? '' : ' (the source does not say)'}; ${conventions}`),
      );
    }
    const nonEmb = num(e, 'non_embedding_b');
    if (nonEmb !== null)
      out.push(numberCheck('non-embedding parameters', nonEmb, 'B', B(p.non_embedding), 'total without embedding and untied LM head'));
    const activeNonEmb = num(e, 'active_non_embedding_b');
    if (activeNonEmb !== null)
      out.push(numberCheck('active non-embedding', activeNonEmb, 'B', B(p.active_non_embedding), 'active without embedding and LM head'));
    const bd = e['breakdown_b'] as Record<string, number> | undefined;
    if (bd && typeof bd === 'object') {
      const b = p.breakdown;
      const parts: Record<string, [number, string]> = {
        mlp: [b.routed_experts + b.shared_experts + b.dense_mlp + b.router, 'experts + routers + dense MLPs'],
        attention: [b.attention, 'attention projections, biases, sinks, q/k norms'],
        embed_plus_unembed: [b.embedding + b.lm_head, 'embedding + LM head'],
      };
      for (const [k, v] of Object.entries(bd))
        if (parts[k] && typeof v === 'number') out.push(numberCheck(`breakdown: ${k}`, v, 'B', B(parts[k][0]), parts[k][1]));
    }
    const hub = num(e, 'hub_total_b');
    if (hub !== null)
      out.push(
        numberCheck('stored on the Hub', hub, 'B', B(p.stored), 'main + MTP module + the MTP layer\'s own embedding and head copies (block scales not counted)'),
      );
    const rw = e['readme_weights'] as ClaimsEntry | undefined;
    if (rw && typeof rw === 'object') {
      const mainActive = num(rw, 'main_active_b');
      if (mainActive !== null)
        out.push(
          numberCheck('active (README_WEIGHTS)', mainActive, 'B', B(p.active), `stated as including embedding and head; ${conventions}`),
        );
      const mtpUnique = num(rw, 'mtp_unique_b');
      if (mtpUnique !== null) out.push(numberCheck('MTP module, unique', mtpUnique, 'B', B(p.mtp), 'MTP layer + enorm/hnorm/eh_proj/head norm'));
      const mtpActive = num(rw, 'mtp_active_b');
      if (mtpActive !== null)
        out.push(
          numberCheck('MTP module, active', mtpActive, 'B', B(p.mtp_active + p.breakdown.embedding + p.breakdown.lm_head), 'active MTP weights + the shared embedding and head'),
        );
    }
    const gib = num(e, 'checkpoint_gib');
    if (gib !== null)
      out.push(numberCheck('checkpoint size', gib, ' GiB', a.weights.checkpoint_bytes / 2 ** 30, a.weights.format, 2));
    const kv = num(e, 'kv_cache_bytes_per_token_bf16');
    if (kv !== null)
      out.push(numberCheck('KV cache per token (bf16)', kv, ' B', kvCacheBytesPerToken(spec, 'bf16'), str(e, 'kv_cache_source') ?? '', 0));
    const gflops = num(e, 'train_gflops_per_token_at_4096');
    if (gflops !== null)
      out.push(
        numberCheck('training GFLOPs/token at 4096', gflops, '', trainingFlopsPerToken(spec, 4096) / 1e9, '3 x forward, attending 2048 on average', 1),
      );
    const ctx = str(e, 'context_stated');
    if (ctx !== null) {
      const stated = parseContext(ctx);
      const lc = a.long_context;
      const method = str(e, 'context_method') ?? '';
      const computed = `${lc.reachable.toLocaleString('en-US')}${lc.yarn ? ` (YaRN ${lc.yarn.factor} x ${lc.yarn.original})` : ' (config)'}`;
      if (stated === null) out.push(info('context length', ctx, computed, method));
      else
        out.push({
          ...numberCheck('context length', stated, '', lc.reachable, method, 0),
          claimed: ctx,
          computed,
        });
    }
  }
  if (a.moe) {
    // Same convention as the active claim, so the stated and computed shares compare like with like.
    const c = e ? activeConvention(e, a) : { value: p.active, name: 'active incl. embedding and LM head' };
    const statedActive = e ? num(e, 'active_b') : null;
    const statedTotal = e ? num(e, 'total_b') : null;
    const stated = statedActive !== null && statedTotal !== null ? statedTotal / statedActive : null;
    out.push(
      info(
        'share of weights active per token',
        stated === null ? '-' : `1 in ${fmt(stated, 1)} (from the stated counts)`,
        `1 in ${fmt(p.total / c.value, 1)} (${fmt((100 * c.value) / p.total, 1)}%)`,
        `${c.name} / total`,
      ),
    );
  }
  if (a.attention.kind === 'mla') {
    const kv = a.kv_cache;
    out.push(
      info(
        'MLA cache vs MHA with the same heads',
        '-',
        `${fmt(kv.reduction_vs_mha ?? 0, 1)}x smaller (${fmt((1 - 1 / (kv.reduction_vs_mha ?? 1)) * 100, 1)}% less)`,
        `${kv.values_per_layer} values/layer (latent + rope key) vs ${kv.mha_values_per_layer} (K and V of ${a.attention.heads} heads); equals GQA with ${kv.gqa_equivalent_groups} groups of the nope head dim`,
      ),
    );
  }
  return out;
}
