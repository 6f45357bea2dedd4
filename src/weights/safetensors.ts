/**
 * The safetensors container: 8-byte little-endian header length N, N bytes of JSON
 * ({name: {dtype, shape, data_offsets}, __metadata__?}), then the data section (offsets relative to 8 + N).
 * Pure parsing/encoding; file access lives in node/tensor-files.ts (or a browser fetch/File reader).
 */
import { OwlError } from '../errors.js';
import { FILE_DTYPE_BYTES, type FileDtype } from '../tensor/dtype.js';
import type { GgmlBlockFormat } from '../tensor/weight.js';

/** A bad or inconsistent tensor file; the message names the file and, where relevant, the tensor. */
export class SafetensorsError extends OwlError {
  override name = 'SafetensorsError';
  readonly file?: string;
  readonly tensor?: string;
  constructor(message: string, where?: { file: string; tensor?: string }) {
    super(where ? `${where.file}: ${where.tensor !== undefined ? `tensor "${where.tensor}": ` : ''}${message}` : message);
    this.file = where?.file;
    this.tensor = where?.tensor;
  }
}

export interface TensorInfo {
  name: string;
  dtype: FileDtype;
  shape: number[];
  /** File path/name it lives in. */
  file: string;
  /** Absolute offset in that file. */
  byteOffset: number;
  byteLength: number;
  /**
   * Set by sources whose tensor is packed ggml blocks (GGUF Q8_0, Q4_K, ...): dtype is then U8, shape is in
   * elements, and WeightStore makes Weights of this format from the bytes as they are (no decode).
   */
  format?: GgmlBlockFormat;
}

export interface SafetensorsHeader {
  /** In file order (ascending byteOffset). */
  tensors: TensorInfo[];
  metadata: Record<string, string>;
  /** 8 + N: where the data section starts. */
  dataStart: number;
}

export interface TensorToWrite {
  name: string;
  dtype: FileDtype;
  shape: number[];
  data: Uint8Array;
}

/** The reference implementation refuses headers above 100 MB; so do we (a corrupt length is usually huge). */
export const MAX_HEADER_BYTES = 100_000_000;

const SUPPORTED = Object.keys(FILE_DTYPE_BYTES).join(', ');

/** Elements in a tensor of this shape (1 for a scalar []). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * N, the JSON header length, from the first 8 bytes (`prefix` may be longer). Read 8 + N bytes in all;
 * the N bytes after the first 8 go to parseSafetensorsHeader.
 */
export function headerByteLength(prefix: Uint8Array, fileSize: number, fileName: string): number {
  const where = { file: fileName };
  if (fileSize < 8 || prefix.length < 8) {
    throw new SafetensorsError(`too short to be a safetensors file (${Math.min(fileSize, prefix.length)} bytes, need at least 8)`, where);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(fileSize - 8)) {
    throw new SafetensorsError(`header length ${n} runs past the end of the file (${fileSize} bytes); truncated or not a safetensors file`, where);
  }
  if (n > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`header length ${n} is absurdly large (limit ${MAX_HEADER_BYTES})`, where);
  return Number(n);
}

const isNonNegInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** Parse and validate the N JSON bytes of a file of `fileSize` bytes; nothing in it is trusted before checking. */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, fileName: string): SafetensorsHeader {
  const file = fileName;
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON: ${(e as Error).message}`, { file });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new SafetensorsError('header is not a JSON object', { file });
  }
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TensorInfo[] = [];
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new SafetensorsError('__metadata__ must be an object of string to string', { file });
      }
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new SafetensorsError(`__metadata__ key "${k}" is not a string`, { file });
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true }); // "__proto__" too
      }
      continue;
    }
    const where = { file, tensor: name };
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new SafetensorsError('entry is not an object', where);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (dtype === undefined || shape === undefined || offsets === undefined) {
      throw new SafetensorsError('entry needs dtype, shape and data_offsets', where);
    }
    if (typeof dtype !== 'string') throw new SafetensorsError('dtype is not a string', where);
    if (!Object.hasOwn(FILE_DTYPE_BYTES, dtype)) throw new SafetensorsError(`unknown dtype "${dtype}" (supported: ${SUPPORTED})`, where);
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
      throw new SafetensorsError(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`, where);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt) || offsets[0] > offsets[1]) {
      throw new SafetensorsError(`data_offsets ${JSON.stringify(offsets)} is not two non-decreasing non-negative integers`, where);
    }
    const [begin, end] = offsets as [number, number];
    const byteLength = end - begin;
    const expected = shapeSize(shape) * FILE_DTYPE_BYTES[dtype as FileDtype];
    if (expected !== byteLength) {
      throw new SafetensorsError(`${dtype} ${JSON.stringify(shape)} needs ${expected} bytes but data_offsets span ${byteLength}`, where);
    }
    if (end > dataSize) {
      throw new SafetensorsError(`data_offsets [${begin}, ${end}] lie outside the data section (${dataSize} bytes)`, where);
    }
    tensors.push({ name, dtype: dtype as FileDtype, shape: [...shape], file, byteOffset: dataStart + begin, byteLength });
  }
  tensors.sort((a, b) => a.byteOffset - b.byteOffset || a.byteLength - b.byteLength);
  let prev: TensorInfo | undefined;
  for (const t of tensors) {
    if (t.byteLength === 0) continue; // empty tensors occupy no bytes and cannot overlap
    if (prev && t.byteOffset < prev.byteOffset + prev.byteLength) {
      throw new SafetensorsError(`overlaps tensor "${prev.name}" in the data section`, { file, tensor: t.name });
    }
    prev = t;
  }
  return { tensors, metadata, dataStart };
}

/** Header bytes (8-byte length + JSON padded with spaces to a multiple of 8) for these tensors, laid out in order. */
export function encodeSafetensorsHeader(
  tensors: Array<Omit<TensorToWrite, 'data'> & { byteLength: number }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const json: Record<string, unknown> = Object.create(null); // a tensor may be called "__proto__"
  if (metadata && Object.keys(metadata).length > 0) json.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const where = { file: '(writing safetensors)', tensor: t.name };
    if (t.name === '__metadata__' || Object.hasOwn(json, t.name)) throw new SafetensorsError('duplicate or reserved tensor name', where);
    if (!Object.hasOwn(FILE_DTYPE_BYTES, t.dtype)) throw new SafetensorsError(`unknown dtype "${t.dtype}" (supported: ${SUPPORTED})`, where);
    if (!t.shape.every(isNonNegInt)) throw new SafetensorsError(`shape ${JSON.stringify(t.shape)} is not a list of non-negative integers`, where);
    const expected = shapeSize(t.shape) * FILE_DTYPE_BYTES[t.dtype];
    if (t.byteLength !== expected) {
      throw new SafetensorsError(`${t.dtype} ${JSON.stringify(t.shape)} needs ${expected} bytes, got ${t.byteLength}`, where);
    }
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.byteLength] };
    offset += t.byteLength;
  }
  const body = new TextEncoder().encode(JSON.stringify(json));
  const n = Math.ceil(body.length / 8) * 8; // keeps the data section 8-byte aligned
  const out = new Uint8Array(8 + n).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(body, 8);
  return out;
}
