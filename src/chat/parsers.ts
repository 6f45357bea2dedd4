/** How a model writes its output (read from its template and vocabulary), its stop tokens, and the parser for it. */
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

/** How this template's model writes reasoning and tool calls, read from the template and vocabulary. */
export function outputSyntaxFor(tokenizer: Tokenizer, templateSource: string): OutputSyntax {
  const has = (t: string) => tokenizer.tokenToId(t) !== undefined;
  if (has('<|channel|>') && has('<|message|>') && templateSource.includes('<|channel|>')) return { kind: 'harmony' };
  const think = templateSource.includes('<think>') || templateSource.includes('</think>');
  const tools = templateSource.includes('<｜tool▁call▁begin｜>') || templateSource.includes('tool▁calls▁begin')
    ? 'deepseek'
    : templateSource.includes('<tool_call>')
      ? 'qwen'
      : null;
  return { kind: 'tagged', think, tools };
}

/** eos plus the end-of-turn tokens of the known formats that this vocabulary has. */
export function stopTokensFor(tokenizer: Tokenizer, syntax: OutputSyntax): number[] {
  const names = syntax.kind === 'harmony'
    ? ['<|return|>', '<|call|>', '<|endoftext|>']
    : ['<|im_end|>', '<|endoftext|>', '<｜end▁of▁sentence｜>', '<|eot_id|>', '<|end_of_text|>'];
  const ids = new Set<number>(tokenizer.eosIds);
  for (const n of names) {
    const id = tokenizer.tokenToId(n);
    if (id !== undefined && tokenizer.isAdded(id)) ids.add(id);
  }
  return [...ids];
}
