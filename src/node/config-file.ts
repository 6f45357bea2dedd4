/** Node adapter: read a ModelSpec from a config.json file, a model folder, or a preset name. */
import { readFileSync, statSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError, type ModelSpec } from '../config/spec.js';
import { parseConfig } from '../config/parse.js';
import { findPreset, presetSpec, PRESETS } from '../config/presets/index.js';

/** Read and parse `config.json` from a file path or a model folder. */
export function readConfigFile(pathOrDir: string): ModelSpec {
  const abs = resolve(pathOrDir);
  if (!existsSync(abs)) throw new ConfigError(pathOrDir, null, 'no such file or folder');
  const file = statSync(abs).isDirectory() ? join(abs, 'config.json') : abs;
  if (!existsSync(file)) throw new ConfigError(file, null, 'model folder has no config.json');
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(file, null, `not valid JSON: ${(e as Error).message}`);
  }
  const name = basename(file) === 'config.json' ? basename(dirname(file)) : basename(file).replace(/\.json$/, '');
  return parseConfig(raw, file, name);
}

/** A preset name (e.g. "gpt-oss-20b"), or else a path to a config file or model folder. */
export function resolveModelSpec(ref: string): ModelSpec {
  const preset = findPreset(ref);
  if (preset) return presetSpec(preset);
  if (existsSync(resolve(ref))) return readConfigFile(ref);
  throw new ConfigError(
    ref,
    null,
    `not a preset and not a file or folder. Presets: ${PRESETS.map((p) => p.name).join(', ')}`,
  );
}
