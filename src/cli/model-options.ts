/** Options shared by the commands that run a model: which folder, which backend, which token ids. */
import { existsSync, readFileSync } from 'node:fs';
import type { Backend } from '../backend/backend.js';
import { RefBackend } from '../backend/ref/ref-backend.js';
import { loadModelDir, type ModelDir } from '../node/model-dir.js';
import { UsageError } from './command.js';
import { progressBar } from './progress.js';

export const MODEL_OPTIONS = {
  backend: { type: 'string', default: 'ref' },
  threads: { type: 'string' },
} as const;

export const MODEL_OPTIONS_HELP = `  --backend B     ref (plain TypeScript reference, default for now)
  --threads N     worker threads for fast backends (default: number of cores)`;

export async function makeBackend(values: { backend?: string; threads?: string }): Promise<Backend> {
  if (values.threads !== undefined && !(Number.isInteger(Number(values.threads)) && Number(values.threads) > 0))
    throw new UsageError(`--threads must be a positive integer, got "${values.threads}"`);
  if (values.backend === 'ref' || values.backend === undefined) return new RefBackend();
  throw new UsageError(`unknown --backend "${values.backend}" (available: ref)`);
}

export async function loadModelArg(dir: string | undefined, values: { backend?: string; threads?: string }): Promise<ModelDir> {
  if (!dir) throw new UsageError('a MODEL_DIR argument is required');
  if (!existsSync(dir)) throw new UsageError(`model folder "${dir}" does not exist`);
  const backend = await makeBackend(values);
  const bar = progressBar('loading weights');
  const loaded = loadModelDir(dir, { backend, onProgress: bar.update });
  bar.done();
  if (loaded.unusedTensors.length)
    console.error(`warning: ${loaded.unusedTensors.length} tensors in ${dir} were not used (e.g. ${loaded.unusedTensors[0]})`);
  return loaded;
}

/** Token ids from --ids "1,2,3" or --ids-file (a JSON array or ids separated by commas/whitespace). */
export function parseIds(values: { ids?: string; 'ids-file'?: string }, vocabSize: number): number[] {
  let text: string;
  let where: string;
  if (values.ids !== undefined) [text, where] = [values.ids, '--ids'];
  else if (values['ids-file'] !== undefined) {
    if (!existsSync(values['ids-file'])) throw new UsageError(`--ids-file ${values['ids-file']} does not exist`);
    [text, where] = [readFileSync(values['ids-file'], 'utf8'), values['ids-file']];
  } else throw new UsageError('token ids are required: --ids 1,2,3 or --ids-file FILE');
  const trimmed = text.trim();
  const parts = trimmed.startsWith('[') ? safeJsonArray(trimmed, where) : trimmed.split(/[\s,]+/).filter(Boolean);
  const ids = parts.map((p) => Number(p));
  const bad = ids.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
  if (bad >= 0) throw new UsageError(`${where}: "${parts[bad]}" is not a token id in 0..${vocabSize - 1}`);
  if (ids.length === 0) throw new UsageError(`${where}: no token ids`);
  return ids;
}

function safeJsonArray(text: string, where: string): unknown[] {
  try {
    const v = JSON.parse(text);
    if (Array.isArray(v)) return v;
  } catch {
    /* fall through */
  }
  throw new UsageError(`${where}: not a JSON array of token ids`);
}
