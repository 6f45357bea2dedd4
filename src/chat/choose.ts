/** Which chat format a tokenizer gets. */
import type { Tokenizer } from '../tokenizer/types.js';
import { TemplateError } from './errors.js';
import { HarmonyChatFormat } from './harmony.js';
import { JinjaChatFormat } from './jinja.js';
import type { ChatFormat, RenderOptions } from './types.js';

export interface ChatFormatChoice extends RenderOptions {
  /** A Jinja chat template to use instead of the tokenizer's own. */
  template?: string;
  /** 'harmony' forces Harmony; 'jinja' requires a template; 'auto' (default) decides as below. */
  format?: 'auto' | 'harmony' | 'jinja';
}

/** Does the vocabulary have Harmony's control tokens? */
export function hasHarmonyTokens(tokenizer: Tokenizer): boolean {
  return ['<|start|>', '<|channel|>', '<|message|>', '<|end|>', '<|return|>', '<|call|>'].every((t) => tokenizer.tokenToId(t) !== undefined);
}

/**
 * The chat format for a tokenizer: its (or the given) Jinja template; or Harmony, when asked for
 * or when the vocabulary has Harmony's tokens and there is no template (the gpt-oss tokenizer).
 */
export function chatFormatFor(tokenizer: Tokenizer, choice: ChatFormatChoice = {}): ChatFormat {
  const { template, format = 'auto', ...defaults } = choice;
  if (format === 'harmony') return new HarmonyChatFormat(tokenizer, defaults);
  const templates = template !== undefined ? { default: template } : tokenizer.chatTemplates;
  if (Object.keys(templates).length > 0) return new JinjaChatFormat(tokenizer, templates, defaults);
  if (format === 'auto' && hasHarmonyTokens(tokenizer)) return new HarmonyChatFormat(tokenizer, defaults);
  throw new TemplateError(
    'the tokenizer has no chat template (no chat_template in tokenizer_config.json, no chat_template.jinja); give one, or use the Harmony format',
  );
}
