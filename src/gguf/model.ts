/**
 * A GGUF file as a model: its ModelSpec (from the metadata) and a TensorSource that presents its
 * tensors under Hugging Face names, so the family loaders read it exactly like a safetensors folder.
 */
import { parseConfig } from '../config/parse.js';
import type { ModelSpec } from '../config/spec.js';
import type { TensorInfo } from '../weights/safetensors.js';
import type { TensorSource } from '../weights/source.js';
import { ggufToHfConfig } from './metadata.js';
import { GgufError, parseGguf, type GgufHeader, type RandomAccess } from './reader.js';
import { presentTensors, type PresentedTensor } from './tensor-views.js';

/** The ModelSpec a GGUF file describes. */
export function ggufSpec(h: GgufHeader, name: string): ModelSpec {
  return parseConfig(ggufToHfConfig(h).config, `${h.file} (GGUF metadata)`, name);
}

export class GgufTensorSource implements TensorSource {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly totalBytes: number;
  onProgress?: (bytesRead: number, bytesTotal: number) => void;
  private readonly presented: Map<string, PresentedTensor>;
  private bytesRead = 0;

  constructor(
    readonly header: GgufHeader,
    private readonly access: RandomAccess,
  ) {
    const { arch, numLayers } = ggufToHfConfig(header);
    const read = (t: { byteOffset: number; byteLength: number }, start = 0, length = t.byteLength) => {
      const out = this.access.read(t.byteOffset + start, length);
      this.bytesRead += length;
      this.onProgress?.(Math.min(this.bytesRead, this.totalBytes), this.totalBytes);
      return out;
    };
    this.presented = presentTensors(arch, header, numLayers, read);
    const infos = new Map<string, TensorInfo>();
    for (const p of this.presented.values())
      infos.set(p.name, {
        name: p.name, dtype: p.dtype, shape: p.shape, file: header.file, byteOffset: p.sources[0]!.byteOffset, byteLength: p.byteLength,
        ...(p.format && { format: p.format }),
      });
    this.tensors = infos;
    this.totalBytes = header.tensors.reduce((a, t) => a + t.byteLength, 0);
  }

  has(name: string): boolean {
    return this.presented.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new GgufError(`${this.header.file}: no tensor maps to "${name}"`);
    return t;
  }

  read(name: string, dest?: Uint8Array): Uint8Array {
    const p = this.presented.get(name);
    if (!p) throw new GgufError(`${this.header.file}: no tensor maps to "${name}"`);
    if (dest && dest.length !== p.byteLength)
      throw new GgufError(`${this.header.file}: tensor "${name}": destination holds ${dest.length} bytes, tensor has ${p.byteLength}`);
    const bytes = p.produce();
    if (bytes.length !== p.byteLength) throw new GgufError(`${this.header.file}: tensor "${name}": produced ${bytes.length} bytes, expected ${p.byteLength}`);
    if (!dest) return bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
    dest.set(bytes);
    return dest;
  }
}

/** Parse a GGUF file's header and present it as a model. */
export function openGguf(access: RandomAccess, file: string, name: string): { header: GgufHeader; spec: ModelSpec; source: GgufTensorSource } {
  const header = parseGguf(access, file);
  const spec = ggufSpec(header, name);
  return { header, spec, source: new GgufTensorSource(header, access) };
}
