/** Family -> model builder. Adding an architecture means adding one entry and one family file. */
import type { Backend } from '../backend/backend.js';
import type { Family, ModelSpec } from '../config/spec.js';
import { OwlError } from '../errors.js';
import type { TensorSource } from '../weights/source.js';
import type { CausalLM } from './decoder.js';
import { buildDeepSeekV3 } from './deepseek-v3.js';
import { buildGptOss } from './gpt-oss.js';
import { buildQwen3 } from './qwen3.js';
import { WeightStore } from './weight-store.js';

type Builder = (spec: ModelSpec, store: WeightStore, backend: Backend) => CausalLM;

const BUILDERS: Partial<Record<Family, Builder>> = {
  qwen3: buildQwen3,
  deepseek_v3: (spec, store, backend) => buildDeepSeekV3(spec, store, backend),
  gpt_oss: buildGptOss,
};

/** Tensors a checkpoint may carry that the model deliberately does not load. */
export type SkipRule = (name: string, spec: ModelSpec) => boolean;

const SKIPPED: SkipRule[] = [
  // DeepSeek-V3's multi-token-prediction layers come after the main layers (model.layers.61.* in V3).
  (name, spec) => {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    return spec.mtpLayers > 0 && m !== null && Number(m[1]) >= spec.numLayers;
  },
  (name) => name.endsWith('.rotary_emb.inv_freq'),
];

export interface LoadedModel {
  model: CausalLM;
  /** Checkpoint tensors that were not used (and not deliberately skipped): worth a warning. */
  unusedTensors: string[];
}

export function buildModel(spec: ModelSpec, source: TensorSource, backend: Backend, where: string): LoadedModel {
  const build = BUILDERS[spec.family];
  if (!build) throw new OwlError(`${where}: the ${spec.family} family (model_type ${spec.modelType}) is not implemented yet`);
  const store = new WeightStore(source, backend, spec.quant, where);
  const model = build(spec, store, backend);
  const unusedTensors = store.unused().filter((n) => !SKIPPED.some((rule) => rule(n, spec)));
  return { model, unusedTensors };
}
