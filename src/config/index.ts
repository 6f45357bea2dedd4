export * from './spec.js';
export { parseConfig, SUPPORTED_MODEL_TYPES } from './parse.js';
export { PRESETS, FLAGSHIPS, findPreset, presetSpec, type Preset } from './presets/index.js';
