/**
 * Node adapter: open a model folder ready to chat — config.json + weights, tokenizer.json (+ its
 * config and chat template), generation_config.json — as one ChatSession.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chatFormatFor } from '../chat/choose.js';
import type { ChatFormat } from '../chat/types.js';
import { OwlError } from '../errors.js';
import { EMPTY_GENERATION_CONFIG, parseGenerationConfig, type GenerationConfig } from '../generate/defaults.js';
import { ChatSession, type SessionParts } from '../generate/session.js';
import type { Tokenizer } from '../tokenizer/types.js';
import { loadModelDir, type LoadOptions, type ModelDir } from './model-dir.js';
import { loadTokenizerFromDir } from './tokenizer-dir.js';

export interface SessionFileOptions {
  /** Take tokenizer.json etc. from this folder instead of the model's. */
  tokenizerDir?: string;
  /** A chat template file (.jinja) to use instead of the tokenizer's. */
  chatTemplateFile?: string;
}

/** The folder's non-weight parts: tokenizer, chat format and generation defaults (each absent when its files are). */
export interface SessionFiles {
  tokenizer: Tokenizer | undefined;
  chatFormat: ChatFormat | undefined;
  /** Why there is no chat format, when there is a tokenizer but no usable template. */
  chatFormatError: string | undefined;
  generationConfig: GenerationConfig;
  templateSource: string | undefined;
}

export function readSessionFiles(dir: string, opts: SessionFileOptions = {}): SessionFiles {
  const tokDir = opts.tokenizerDir ?? dir;
  const tokenizer = existsSync(join(tokDir, 'tokenizer.json')) ? loadTokenizerFromDir(tokDir) : undefined;
  if (opts.tokenizerDir && !tokenizer) throw new OwlError(`${opts.tokenizerDir} has no tokenizer.json`);
  let templateSource: string | undefined;
  if (opts.chatTemplateFile) {
    if (!existsSync(opts.chatTemplateFile)) throw new OwlError(`chat template ${opts.chatTemplateFile} does not exist`);
    templateSource = readFileSync(opts.chatTemplateFile, 'utf8');
  }
  let chatFormat: ChatFormat | undefined;
  let chatFormatError: string | undefined;
  if (tokenizer) {
    try {
      chatFormat = chatFormatFor(tokenizer, templateSource !== undefined ? { template: templateSource } : {});
    } catch (e) {
      if (!(e instanceof OwlError) || templateSource !== undefined) throw e;
      chatFormatError = e.message;
    }
  }
  return { tokenizer, chatFormat, chatFormatError, generationConfig: readGenerationConfig(dir), templateSource };
}

/** generation_config.json of a model folder (empty when the file is absent). */
export function readGenerationConfig(dir: string): GenerationConfig {
  const file = join(dir, 'generation_config.json');
  if (!existsSync(file)) return EMPTY_GENERATION_CONFIG;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new OwlError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  return parseGenerationConfig(raw, file);
}

export function sessionFrom(model: ModelDir, files: SessionFiles): ChatSession {
  const parts: SessionParts = { model: model.model, generationConfig: files.generationConfig };
  if (files.tokenizer) parts.tokenizer = files.tokenizer;
  if (files.chatFormat) parts.chatFormat = files.chatFormat;
  if (files.templateSource !== undefined) parts.templateSource = files.templateSource;
  if (files.tokenizer && files.tokenizer.vocabSize > model.spec.vocabSize)
    throw new OwlError(
      `the tokenizer has ${files.tokenizer.vocabSize} ids but ${model.dir}'s model has a vocabulary of ${model.spec.vocabSize} (vocab_size): they do not belong together`,
    );
  return new ChatSession(parts);
}

/**
 * Load a model folder once and talk to it:
 *   const session = await loadSession('models/qwen3-0.6b');
 *   for await (const d of session.chat([{ role: 'user', content: 'Hi' }])) process.stdout.write(d.content ?? '');
 */
export async function loadSession(dir: string, opts: LoadOptions & SessionFileOptions = {}): Promise<ChatSession> {
  if (!existsSync(dir)) throw new OwlError(`model folder "${dir}" does not exist`);
  // Tokenizer and template first: their errors are quick to find, the weights are slow to read.
  const files = readSessionFiles(dir, opts);
  return sessionFrom(loadModelDir(dir, opts), files);
}
