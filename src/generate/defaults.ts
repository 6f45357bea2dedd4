/**
 * Where sampling settings come from when the caller does not choose: the model card's
 * recommendations per mode (Qwen3 thinking / non-thinking), then generation_config.json, then
 * plain sampling at temperature 1.
 */
import type { Family } from '../config/spec.js';
import { OwlError } from '../errors.js';
import { GREEDY, type SamplingOptions } from './sampling.js';

/** The parts of generation_config.json generation uses. */
export interface GenerationConfig {
  /** do_sample: false means greedy (transformers' default when the file is absent is also greedy). */
  doSample: boolean | undefined;
  sampling: Partial<SamplingOptions>;
  eosTokenIds: number[];
  /** max_new_tokens, when the file sets it. */
  maxNewTokens: number | undefined;
}

export const EMPTY_GENERATION_CONFIG: GenerationConfig = { doSample: undefined, sampling: {}, eosTokenIds: [], maxNewTokens: undefined };

/** Parse a generation_config.json object; `source` names the file in errors. */
export function parseGenerationConfig(raw: unknown, source: string): GenerationConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new OwlError(`${source}: not a JSON object`);
  const r = raw as Record<string, unknown>;
  const num = (key: string): number | undefined => {
    const v = r[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new OwlError(`${source}: ${key} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const eos = r['eos_token_id'];
  const eosTokenIds = eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  if (!eosTokenIds.every((id) => Number.isInteger(id) && id >= 0))
    throw new OwlError(`${source}: eos_token_id must be a token id or a list of them, got ${JSON.stringify(eos)}`);
  if (r['do_sample'] !== undefined && typeof r['do_sample'] !== 'boolean') throw new OwlError(`${source}: do_sample must be true or false`);
  const sampling: Partial<SamplingOptions> = {};
  const map: Array<[keyof SamplingOptions, string]> = [
    ['temperature', 'temperature'],
    ['topK', 'top_k'],
    ['topP', 'top_p'],
    ['minP', 'min_p'],
    ['repetitionPenalty', 'repetition_penalty'],
  ];
  for (const [key, file] of map) {
    const v = num(file);
    if (v !== undefined) sampling[key] = v;
  }
  const maxNewTokens = num('max_new_tokens');
  return { doSample: r['do_sample'] as boolean | undefined, sampling, eosTokenIds: eosTokenIds as number[], maxNewTokens };
}

/** Qwen3 model card: "Best Practices" for the hybrid thinking models. */
export const QWEN3_RECOMMENDED = {
  thinking: { temperature: 0.6, topP: 0.95, topK: 20, minP: 0 },
  nonThinking: { temperature: 0.7, topP: 0.8, topK: 20, minP: 0 },
} as const;

export interface DefaultsContext {
  family: Family;
  generationConfig: GenerationConfig;
  /** Chat with a template that has a thinking switch: true/false per the current mode. Undefined otherwise. */
  thinking?: boolean;
}

/** The sampling settings to use when the caller gives none (each caller field still wins). */
export function defaultSampling(ctx: DefaultsContext): SamplingOptions {
  const base: SamplingOptions = { ...GREEDY, temperature: 1 };
  const g = ctx.generationConfig;
  if (ctx.family === 'qwen3' && ctx.thinking !== undefined)
    return { ...base, ...g.sampling, ...(ctx.thinking ? QWEN3_RECOMMENDED.thinking : QWEN3_RECOMMENDED.nonThinking) };
  if (g.doSample === false) return { ...GREEDY, repetitionPenalty: g.sampling.repetitionPenalty ?? 1 };
  return { ...base, ...g.sampling };
}
