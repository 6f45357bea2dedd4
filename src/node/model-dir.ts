/** Node adapter: load a model folder (config.json + safetensors) or a .gguf file onto a backend. */
import type { Backend } from '../backend/backend.js';
import { RefBackend } from '../backend/ref/ref-backend.js';
import type { ModelSpec } from '../config/spec.js';
import type { CausalLM } from '../models/decoder.js';
import { buildModel } from '../models/registry.js';
import { readConfigFile } from './config-file.js';
import { GgufFile } from './gguf-file.js';
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
  if (GgufFile.isGgufPath(dir)) return loadGguf(dir, opts);
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

/** A .gguf file: the spec comes from its metadata, tensors are presented under Hugging Face names. */
function loadGguf(path: string, opts: LoadOptions): ModelDir {
  const file = GgufFile.open(path);
  try {
    if (opts.onProgress) file.source.onProgress = opts.onProgress;
    const { model, unusedTensors } = buildModel(file.spec, file.source, opts.backend ?? new RefBackend(), path);
    return { dir: path, spec: file.spec, model, unusedTensors };
  } finally {
    file.close();
  }
}
