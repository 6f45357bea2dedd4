/**
 * Published config.json files of the real models, copied verbatim (see PROVENANCE.md beside this file).
 * Preset names are the Hugging Face repo names without the organisation, e.g. "gpt-oss-20b".
 */
import type { ModelSpec } from '../spec.js';
import { parseConfig } from '../parse.js';
import c0 from './Qwen__Qwen3-0.6B.json' with { type: 'json' };
import c1 from './Qwen__Qwen3-1.7B.json' with { type: 'json' };
import c2 from './Qwen__Qwen3-14B.json' with { type: 'json' };
import c3 from './Qwen__Qwen3-235B-A22B.json' with { type: 'json' };
import c4 from './Qwen__Qwen3-30B-A3B.json' with { type: 'json' };
import c5 from './Qwen__Qwen3-32B.json' with { type: 'json' };
import c6 from './Qwen__Qwen3-4B.json' with { type: 'json' };
import c7 from './Qwen__Qwen3-8B.json' with { type: 'json' };
import c8 from './deepseek-ai__DeepSeek-V3.1.json' with { type: 'json' };
import c9 from './deepseek-ai__DeepSeek-V3.json' with { type: 'json' };
import c10 from './moonshotai__Kimi-K2-Instruct.json' with { type: 'json' };
import c11 from './moonshotai__Moonlight-16B-A3B-Instruct.json' with { type: 'json' };
import c12 from './openai__gpt-oss-120b.json' with { type: 'json' };
import c13 from './openai__gpt-oss-20b.json' with { type: 'json' };

export interface Preset { name: string; repo: string; file: string; config: Record<string, unknown>; }

export const PRESETS: readonly Preset[] = [
  { name: 'Qwen3-0.6B', repo: 'Qwen/Qwen3-0.6B', file: 'Qwen__Qwen3-0.6B.json', config: c0 },
  { name: 'Qwen3-1.7B', repo: 'Qwen/Qwen3-1.7B', file: 'Qwen__Qwen3-1.7B.json', config: c1 },
  { name: 'Qwen3-14B', repo: 'Qwen/Qwen3-14B', file: 'Qwen__Qwen3-14B.json', config: c2 },
  { name: 'Qwen3-235B-A22B', repo: 'Qwen/Qwen3-235B-A22B', file: 'Qwen__Qwen3-235B-A22B.json', config: c3 },
  { name: 'Qwen3-30B-A3B', repo: 'Qwen/Qwen3-30B-A3B', file: 'Qwen__Qwen3-30B-A3B.json', config: c4 },
  { name: 'Qwen3-32B', repo: 'Qwen/Qwen3-32B', file: 'Qwen__Qwen3-32B.json', config: c5 },
  { name: 'Qwen3-4B', repo: 'Qwen/Qwen3-4B', file: 'Qwen__Qwen3-4B.json', config: c6 },
  { name: 'Qwen3-8B', repo: 'Qwen/Qwen3-8B', file: 'Qwen__Qwen3-8B.json', config: c7 },
  { name: 'DeepSeek-V3.1', repo: 'deepseek-ai/DeepSeek-V3.1', file: 'deepseek-ai__DeepSeek-V3.1.json', config: c8 },
  { name: 'DeepSeek-V3', repo: 'deepseek-ai/DeepSeek-V3', file: 'deepseek-ai__DeepSeek-V3.json', config: c9 },
  { name: 'Kimi-K2-Instruct', repo: 'moonshotai/Kimi-K2-Instruct', file: 'moonshotai__Kimi-K2-Instruct.json', config: c10 },
  { name: 'Moonlight-16B-A3B-Instruct', repo: 'moonshotai/Moonlight-16B-A3B-Instruct', file: 'moonshotai__Moonlight-16B-A3B-Instruct.json', config: c11 },
  { name: 'gpt-oss-120b', repo: 'openai/gpt-oss-120b', file: 'openai__gpt-oss-120b.json', config: c12 },
  { name: 'gpt-oss-20b', repo: 'openai/gpt-oss-20b', file: 'openai__gpt-oss-20b.json', config: c13 },
];

/** The flagship of each family, compared by `owl compare` with no argument. */
export const FLAGSHIPS = ['gpt-oss-120b', 'Qwen3-235B-A22B', 'DeepSeek-V3'] as const;

/** Find a preset by name, case-insensitively, with or without the organisation prefix. */
export function findPreset(name: string): Preset | undefined {
  const key = name.toLowerCase();
  return PRESETS.find((p) => p.name.toLowerCase() === key || p.repo.toLowerCase() === key);
}

export function presetSpec(preset: Preset): ModelSpec {
  return parseConfig(preset.config, `preset:${preset.repo}`, preset.name);
}
