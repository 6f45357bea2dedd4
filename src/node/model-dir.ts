/** Node adapter: load a model folder (config.json + safetensors) onto a backend. */
import type { Backend } from '../backend/backend.js';
import { RefBackend } from '../backend/ref/ref-backend.js';
import type { ModelSpec } from '../config/spec.js';
import type { CausalLM } from '../models/decoder.js';
import { buildModel } from '../models/registry.js';
import { readConfigFile } from './config-file.js';
import { TensorFiles, type LoadProgress } from './tensor-files.js';

export interface LoadOptions {
  backend?: Backend;
  onProgress?: LoadProgress;
}

export interface ModelDir {
  dir: string;
  spec: ModelSpec;
  model: CausalLM;
  unusedTensors: string[];
}

export function loadModelDir(dir: string, opts: LoadOptions = {}): ModelDir {
  const spec = readConfigFile(dir);
  const files = TensorFiles.open(dir);
  try {
    if (opts.onProgress) files.onProgress = opts.onProgress;
    const { model, unusedTensors } = buildModel(spec, files, opts.backend ?? new RefBackend(), dir);
    return { dir, spec, model, unusedTensors };
  } finally {
    files.close();
  }
}
