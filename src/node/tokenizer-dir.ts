/** Node adapter: load a tokenizer from a model folder (tokenizer.json, tokenizer_config.json, chat_template.jinja). */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadTokenizer, TokenizerError } from '../tokenizer/tokenizer.js';
import type { Tokenizer } from '../tokenizer/types.js';

export function loadTokenizerFromDir(dir: string): Tokenizer {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new TokenizerError(`${dir}: not a folder`);
  const file = (name: string) => join(abs, name);
  if (!existsSync(file('tokenizer.json'))) throw new TokenizerError(`${dir}: folder has no tokenizer.json`);
  let tokenizerConfig: object | undefined;
  if (existsSync(file('tokenizer_config.json'))) {
    try {
      tokenizerConfig = JSON.parse(readFileSync(file('tokenizer_config.json'), 'utf8')) as object;
    } catch (e) {
      throw new TokenizerError(`${file('tokenizer_config.json')}: not valid JSON: ${(e as Error).message}`);
    }
  }
  let chatTemplate: string | undefined;
  if (existsSync(file('chat_template.jinja'))) chatTemplate = readFileSync(file('chat_template.jinja'), 'utf8');
  else if (existsSync(file('chat_template.json'))) {
    try {
      const t = (JSON.parse(readFileSync(file('chat_template.json'), 'utf8')) as { chat_template?: unknown }).chat_template;
      if (typeof t === 'string') chatTemplate = t;
    } catch (e) {
      throw new TokenizerError(`${file('chat_template.json')}: not valid JSON: ${(e as Error).message}`);
    }
  }
  return loadTokenizer({
    tokenizerJson: readFileSync(file('tokenizer.json'), 'utf8'),
    tokenizerConfig,
    chatTemplate,
    source: file('tokenizer.json'),
  });
}
