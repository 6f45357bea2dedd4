/** Architecture analysis computed from a ModelSpec: parameters, KV cache, FLOPs, context, MoE, checkpoint. Browser-safe. */
export * from './analyze.js';
export * from './claims.js';
export * from './checkpoint.js';
export * from './context.js';
export * from './flops.js';
export * from './kv-cache.js';
export * from './moe.js';
export * from './params.js';
export * from '../config/checkpoint-tensors.js';
