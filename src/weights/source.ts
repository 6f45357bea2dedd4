/**
 * Where model tensors come from: a safetensors folder (node/tensor-files.ts), later GGUF or a
 * browser File. Models read through this interface only.
 */
import type { TensorInfo } from './safetensors.js';

export interface TensorSource {
  has(name: string): boolean;
  info(name: string): TensorInfo;
  /** The tensor's bytes, read into dest when given (dest.byteLength must equal info.byteLength). */
  read(name: string, dest?: Uint8Array): Uint8Array;
  readonly tensors: ReadonlyMap<string, TensorInfo>;
}
