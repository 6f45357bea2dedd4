/** Tokenizers from Hugging Face tokenizer.json files, and streaming detokenization. */
export type { AddedTokenInfo, DecodeOptions, EncodeOptions, NamedToken, Tokenizer } from './types.js';
export { loadTokenizer, TokenizerError, type TokenizerFiles } from './tokenizer.js';
export { IncrementalDecoder } from './incremental.js';
