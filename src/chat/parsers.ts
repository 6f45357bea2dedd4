/** Picks the output parser for a syntax. */
import type { Tokenizer } from '../tokenizer/types.js';
import type { OutputSyntax } from './parse.js';
import { HarmonyParser } from './parse-harmony.js';
import { TaggedParser } from './parse-tagged.js';
import type { OutputParser } from './types.js';

/**
 * A parser for the reply to `promptText` (when given, it tells whether the template opened a think
 * block or a Harmony header). `stopTokens`: ids that end the output.
 */
export function outputParserFor(tokenizer: Tokenizer, syntax: OutputSyntax, stopTokens: readonly number[], promptText?: string): OutputParser {
  if (syntax.kind === 'harmony') {
    // <|return|> and <|call|> end the output, but the parser must see them as markers.
    const markerIds = new Set(['<|return|>', '<|call|>'].map((t) => tokenizer.tokenToId(t)));
    return new HarmonyParser(tokenizer, new Set(stopTokens.filter((id) => !markerIds.has(id))), promptText);
  }
  return new TaggedParser(tokenizer, syntax, new Set(stopTokens), promptText);
}
