/** The comparison table as data (sections of labelled rows, one cell per model), shared by every format. */
import type { ClaimCheck, ModelAnalysis } from '../analysis/index.js';
import * as f from './format.js';

export interface Row {
  label: string;
  cells: string[];
}

export interface Section {
  title: string;
  rows: Row[];
}

/** A model as the report shows it: its analysis and, when asked for, its claim checks. */
export type ComparedModel = ModelAnalysis & { claims?: ClaimCheck[] };

type Cell = (m: ModelAnalysis) => string;

function layersCell(m: ModelAnalysis): string {
  if (!m.moe) return `${m.layers} dense`;
  return m.moe.dense_layers ? `${m.layers} (${m.moe.dense_layers} dense, ${m.moe.moe_layers} MoE)` : `${m.layers} MoE`;
}

export function comparisonSections(models: ModelAnalysis[]): Section[] {
  const kv = models[0]?.kv_cache;
  const contexts = kv ? Object.keys(kv.bytes_at).map(Number) : [];
  const flopsContext = models[0]?.flops.context ?? 0;
  const section = (title: string, rows: Array<[string, Cell]>): Section => ({
    title,
    rows: rows.map(([label, cell]) => ({ label, cells: models.map(cell) })),
  });
  const dash = '-';
  return [
    section('Architecture', [
      ['model_type', (m) => m.model_type],
      ['layers', layersCell],
      ['hidden / vocab', (m) => `${f.integer(m.hidden_size)} / ${f.integer(m.vocab_size)}${m.tied_embeddings ? ' (tied)' : ''}`],
      ['attention', (m) => m.attention.summary],
      ['sliding window', (m) => (m.attention.sliding_window ? `${m.attention.sliding_window} on ${m.attention.sliding_layers}/${m.layers} layers` : dash)],
    ]),
    section('Parameters', [
      ['total', (m) => f.params(m.params.total)],
      ['active (incl. emb. + head)', (m) => f.params(m.params.active)],
      ['active excl. embedding', (m) => f.params(m.params.active_no_embedding)],
      ['active non-embedding', (m) => f.params(m.params.active_non_embedding)],
      ['non-embedding', (m) => f.params(m.params.non_embedding)],
      ['active share', (m) => (m.moe ? `1 in ${f.ratio(m.params.total / m.params.active)}` : 'all (dense)')],
      ['MTP module (unique)', (m) => (m.params.mtp ? f.params(m.params.mtp) : dash)],
    ]),
    section(`KV cache (${kv?.dtype ?? 'bf16'})`, [
      ['values / layer / token', (m) => `${f.integer(m.kv_cache.values_per_layer)} (MHA ${f.integer(m.kv_cache.mha_values_per_layer)})`],
      ['per token (long context)', (m) => f.bytes(m.kv_cache.bytes_per_token)],
      ...contexts.map((n): [string, Cell] => [`at ${f.tokens(n)} tokens`, (m) => f.bytes(m.kv_cache.bytes_at[String(n)]!)]),
      ['MHA, same heads, per token', (m) => f.bytes(m.kv_cache.mha_bytes_per_token)],
      ['reduction vs MHA', (m) => (m.kv_cache.reduction_vs_mha ? `${f.ratio(m.kv_cache.reduction_vs_mha)}x` : dash)],
    ]),
    section('Compute', [
      [`FLOPs/token at ${f.tokens(flopsContext)}`, (m) => f.flops(m.flops.per_token)],
      ['  of which attention', (m) => f.flops(m.flops.attention)],
    ]),
    section('Long context', [
      ['native', (m) => f.integer(m.long_context.native)],
      ['YaRN', (m) => (m.long_context.yarn ? `x${m.long_context.yarn.factor} from ${f.integer(m.long_context.yarn.original)}` : dash)],
      ['reachable', (m) => f.integer(m.long_context.reachable)],
      ['scaling applied to', (m) => m.long_context.applied_to],
    ]),
    section('Mixture of experts', [
      ['experts (active / shared)', (m) => (m.moe ? `${m.moe.experts} (${m.moe.active} / ${m.moe.shared})` : dash)],
      ['expert intermediate', (m) => (m.moe ? f.integer(m.moe.expert_intermediate) : dash)],
      ['routing', (m) => m.moe?.routing ?? dash],
    ]),
    section('Weights', [
      ['format', (m) => m.weights.format],
      ['checkpoint', (m) => `${f.bytes(m.weights.checkpoint_bytes)} (${f.gib(m.weights.checkpoint_bytes)})`],
    ]),
  ];
}

export const VERDICT_LABEL: Record<ClaimCheck['verdict'], string> = {
  agrees: 'agrees (within 0.5%)',
  rounded: 'agrees (rounded)',
  truncated: 'only if truncated',
  disagrees: 'DISAGREES',
  info: '',
};

export function claimCells(c: ClaimCheck): string[] {
  const diff = c.diff_pct === null ? '' : c.diff_pct === 0 ? '0%' : f.percent(c.diff_pct, Math.abs(c.diff_pct) < 0.1 ? 3 : 1);
  return [c.topic, c.claimed, c.computed, diff, VERDICT_LABEL[c.verdict], c.note];
}

export const CLAIM_HEADERS = ['claim', 'stated', 'Owl computes', 'diff', 'verdict', 'note'];
