/** The package's Node entry: the browser-safe API plus loaders that read model and tokenizer folders. */
export * from '../index.js';
export { loadModelDir, type LoadOptions, type ModelDir } from './model-dir.js';
export { loadTokenizerFromDir } from './tokenizer-dir.js';
export { loadSession, readGenerationConfig, readSessionFiles, sessionFrom, type SessionFileOptions, type SessionFiles } from './session.js';
