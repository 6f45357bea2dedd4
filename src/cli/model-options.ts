/** Options shared by the commands that run a model: which folder, which backend, which token ids. */
import { existsSync, readFileSync } from 'node:fs';
import { BACKEND_KINDS, createBackend, type BackendKind, type ManagedBackend } from '../backend/index.js';
import { loadModelDir, type ModelDir } from '../node/model-dir.js';
import { UsageError } from './command.js';
import { progressBar } from './progress.js';

export const MODEL_OPTIONS = {
  backend: { type: 'string', default: 'wasm' },
  threads: { type: 'string' },
} as const;

export const MODEL_OPTIONS_HELP = `  --backend B     wasm (WebAssembly SIMD on all cores; default where supported, else ref)
                  or ref (the plain TypeScript reference: slow, the spec the fast one is tested against)
  --threads N     threads for the wasm backend (default: number of cores)`;

export async function makeBackend(values: { backend?: string; threads?: string }): Promise<ManagedBackend> {
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0))
    throw new UsageError(`--threads must be a positive integer, got "${values.threads}"`);
  const kind = (values.backend ?? 'wasm') as BackendKind;
  if (!BACKEND_KINDS.includes(kind)) throw new UsageError(`unknown --backend "${values.backend}" (available: ${BACKEND_KINDS.join(', ')})`);
  return createBackend(kind, { threads });
}

export async function loadModelArg(dir: string | undefined, values: { backend?: string; threads?: string }): Promise<ModelDir> {
  if (!dir) throw new UsageError('a MODEL_DIR argument is required');
  if (!existsSync(dir)) throw new UsageError(`model folder "${dir}" does not exist`);
  const backend = await makeBackend(values);
  const bar = progressBar('loading weights');
  let loaded: ModelDir;
  try {
    loaded = loadModelDir(dir, { backend, onProgress: bar.update });
  } catch (e) {
    await backend.dispose();
    throw e;
  } finally {
    bar.done();
  }
  if (loaded.unusedTensors.length)
    console.error(`warning: ${loaded.unusedTensors.length} tensors in ${dir} were not used (e.g. ${loaded.unusedTensors[0]})`);
  return loaded;
}

/** Run `fn` on a loaded model, releasing the backend's threads afterwards. */
export async function withModel<T>(dir: string | undefined, values: { backend?: string; threads?: string }, fn: (m: ModelDir) => T | Promise<T>): Promise<T> {
  const loaded = await loadModelArg(dir, values);
  try {
    return await fn(loaded);
  } finally {
    await (loaded.model.backend as ManagedBackend).dispose?.();
  }
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
