/**
 * Owl's public API, browser-safe (the package's "browser" entry). Node adds file loaders on top:
 * src/node/index.ts, the package's default entry.
 */
export * from './config/index.js';
export { OwlError } from './errors.js';

// Engine
export { type Backend, type BackendKind, type ManagedBackend, BACKEND_KINDS, createBackend, RefBackend, WasmBackend } from './backend/index.js';
export { type CausalLM, type ForwardOptions, DecoderModel, ModelCache } from './models/decoder.js';
export { buildModel } from './models/registry.js';
export { MemoryTensorSource } from './weights/memory-source.js';

// Tokenizers and chat formats
export * from './tokenizer/index.js';
export * from './chat/index.js';

// Generation
export { ChatSession, type ChatFeatures, type ChatOptions, type GenerateOptions, type SessionParts } from './generate/session.js';
export { GenerationStream, type FinishReason, type GenerationSummary, type StreamDelta } from './generate/stream.js';
export { GREEDY, Sampler, candidates, validateSampling, type Candidates, type SamplingOptions } from './generate/sampling.js';
export { StopStringMatcher } from './generate/stop.js';
export { CachedModel, commonPrefix, type PrefillResult } from './generate/cached-model.js';
export { createRng, type Rng } from './generate/rng.js';
export { defaultSampling, parseGenerationConfig, QWEN3_RECOMMENDED, type GenerationConfig } from './generate/defaults.js';
export { argmax, logProb, meanNextTokenNll } from './generate/metrics.js';

