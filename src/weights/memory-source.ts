/**
 * A TensorSource over a whole safetensors file held in memory: a browser File or fetch() response
 * read with arrayBuffer(), or any bytes. Browser-safe; the Node folder reader is node/tensor-files.ts.
 */
import { SafetensorsError, headerByteLength, parseSafetensorsHeader, type TensorInfo } from './safetensors.js';
import type { TensorSource } from './source.js';

export class MemoryTensorSource implements TensorSource {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  private readonly bytes: Uint8Array;

  /** `name` is the file name shown in errors (e.g. "model.safetensors"). */
  constructor(buffer: ArrayBuffer | Uint8Array, readonly name = 'model.safetensors') {
    this.bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
    const n = headerByteLength(this.bytes.subarray(0, 8), this.bytes.length, name);
    const header = parseSafetensorsHeader(this.bytes.subarray(8, 8 + n), this.bytes.length, name);
    this.tensors = new Map(header.tensors.map((t) => [t.name, t]));
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError('no such tensor in the file', { file: this.name, tensor: name });
    return t;
  }

  read(name: string, dest?: Uint8Array): Uint8Array {
    const t = this.info(name);
    if (dest && dest.byteLength !== t.byteLength) {
      throw new SafetensorsError(`destination holds ${dest.byteLength} bytes, the tensor ${t.byteLength}`, { file: this.name, tensor: name });
    }
    // A copy, never a view: the caller may keep it after the file's buffer is dropped.
    const out = dest ?? new Uint8Array(t.byteLength);
    out.set(this.bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength));
    return out;
  }
}
