// Entry point of the kernel module (compiled by scripts/build-wasm.mjs). Every export whose first
// three parameters are (tid, start, end) is a kernel the thread pool can split by rows or elements.
export * from './matvec';
export * from './matmul';
export * from './permute';
export * from './elementwise';
export * from './attention';
export * from './ggml';

/** memory.fill for the host: V8's TypedArray.fill on shared memory is several times slower. */
export function zero_bytes(ptr: usize, len: usize): void {
  memory.fill(ptr, 0, len);
}

/** First byte the host may allocate: static data ends here. */
export function heap_base(): usize {
  return __heap_base;
}
export * from './probe';
