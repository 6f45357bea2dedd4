/**
 * GGUF container parsing (versions 2 and 3, little-endian): header, metadata key/values, tensor infos,
 * alignment and data offsets, every count, length and offset checked against the file size before it
 * is trusted. Browser-safe: bytes come from a RandomAccess (Node: positioned reads; browser: a buffer).
 */
import { OwlError } from '../errors.js';
import { GGML_MAX_DIMS, GGML_TYPE_BY_ID, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_SCALAR_BYTES, GgufType, type GgmlTypeInfo } from './constants.js';

/** A malformed or unsupported GGUF file; the message names the file and, where relevant, the key or tensor. */
export class GgufError extends OwlError {
  override name = 'GgufError';
}

export type GgufScalar = number | bigint | boolean | string;
export interface GgufArray {
  itemType: GgufType;
  items: GgufValue[];
}
export type GgufValue = GgufScalar | GgufArray;

export interface GgufKv {
  key: string;
  type: GgufType;
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  /** ggml order: ne[0] is the innermost (contiguous) dimension. */
  ne: number[];
  /** Row-major (PyTorch) order: ne reversed. */
  shape: number[];
  type: GgmlTypeInfo;
  /** Absolute offset in the file. */
  byteOffset: number;
  byteLength: number;
}

export interface GgufHeader {
  file: string;
  version: number;
  fileSize: number;
  alignment: number;
  /** Metadata in file order. */
  kv: Map<string, GgufKv>;
  /** Tensor infos in file order. */
  tensors: GgufTensorInfo[];
  dataStart: number;
}

/** Synchronous random access to a file's bytes. */
export interface RandomAccess {
  readonly size: number;
  /** Exactly `length` bytes from `offset` (callers never ask past `size`). */
  read(offset: number, length: number): Uint8Array;
}

export function bytesAccess(bytes: Uint8Array): RandomAccess {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

const WINDOW = 1 << 20;
const utf8 = new TextDecoder('utf-8');
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** A buffered little-endian reader that refuses to read past the end of the file. */
class Cursor {
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  private view = new DataView(this.buf.buffer);

  constructor(
    private readonly src: RandomAccess,
    private readonly file: string,
  ) {}

  fail(message: string): never {
    throw new GgufError(`${this.file}: ${message}`);
  }

  remaining(): number {
    return this.src.size - this.pos;
  }

  /** Make bytes [pos, pos + n) available; returns their offset in buf. */
  private need(n: number, what: string): number {
    if (n > this.remaining())
      this.fail(`truncated: ${what} needs ${n} bytes at offset ${this.pos} but the file has ${this.src.size} bytes`);
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      const len = Math.min(Math.max(n, WINDOW), this.src.size - this.pos);
      this.buf = this.src.read(this.pos, len);
      this.bufStart = this.pos;
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  u8(what: string) { const at = this.need(1, what); return this.buf[at]!; }
  i8(what: string) { const at = this.need(1, what); return this.view.getInt8(at); }
  u16(what: string) { const at = this.need(2, what); return this.view.getUint16(at, true); }
  i16(what: string) { const at = this.need(2, what); return this.view.getInt16(at, true); }
  u32(what: string) { const at = this.need(4, what); return this.view.getUint32(at, true); }
  i32(what: string) { const at = this.need(4, what); return this.view.getInt32(at, true); }
  f32(what: string) { const at = this.need(4, what); return this.view.getFloat32(at, true); }
  f64(what: string) { const at = this.need(8, what); return this.view.getFloat64(at, true); }
  u64(what: string): number | bigint {
    const at = this.need(8, what); // need() may move the window: read the view after it
    const v = this.view.getBigUint64(at, true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }
  i64(what: string): number | bigint {
    const at = this.need(8, what);
    const v = this.view.getBigInt64(at, true);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
  }

  /** A u64 count or length that must fit in what is left of the file at `minBytes` each. */
  count(what: string, minBytes: number): number {
    const n = this.u64(what);
    if (typeof n === 'bigint' || n * minBytes > this.remaining())
      this.fail(`${what} ${n} cannot fit in the ${this.remaining()} bytes left after offset ${this.pos} (corrupt count or truncated file)`);
    return n;
  }

  string(what: string, strict = false): string {
    const n = this.count(`${what} length`, 1);
    const at = this.need(n, what);
    const bytes = this.buf.subarray(at, at + n);
    if (!strict) return utf8.decode(bytes);
    try {
      return utf8Strict.decode(bytes);
    } catch {
      return this.fail(`${what} at offset ${this.pos - n} is not valid UTF-8`);
    }
  }
}

const TYPE_NAMES = new Map(Object.entries(GgufType).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]));

/**
 * The shortest decimal that rounds to this float32 (how Python prints np.float32): GGUF stores config
 * values such as rms_norm_eps = 1e-5 as float32, and this recovers the number the config said.
 */
export function shortestF32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  for (let p = 1; p <= 9; p++) {
    const d = Number(x.toPrecision(p));
    if (Math.fround(d) === x) return d;
  }
  return x;
}

function readValue(c: Cursor, type: GgufType, what: string, depth: number): GgufValue {
  switch (type) {
    case GgufType.UINT8: return c.u8(what);
    case GgufType.INT8: return c.i8(what);
    case GgufType.UINT16: return c.u16(what);
    case GgufType.INT16: return c.i16(what);
    case GgufType.UINT32: return c.u32(what);
    case GgufType.INT32: return c.i32(what);
    case GgufType.FLOAT32: return shortestF32(c.f32(what));
    case GgufType.FLOAT64: return c.f64(what);
    case GgufType.UINT64: return c.u64(what);
    case GgufType.INT64: return c.i64(what);
    case GgufType.BOOL: {
      const b = c.u8(what);
      if (b > 1) c.fail(`${what}: bool value ${b} is neither 0 nor 1`);
      return b === 1;
    }
    case GgufType.STRING: return c.string(what);
    case GgufType.ARRAY: {
      if (depth > 2) c.fail(`${what}: arrays nested too deeply`);
      const itemType = c.u32(`${what} array type`);
      if (!TYPE_NAMES.has(itemType)) c.fail(`${what}: unknown array element type ${itemType}`);
      const minBytes = GGUF_SCALAR_BYTES[itemType as GgufType] ?? (itemType === GgufType.STRING ? 8 : 12);
      const n = c.count(`${what} array length`, minBytes);
      const items: GgufValue[] = new Array(n);
      for (let i = 0; i < n; i++) items[i] = readValue(c, itemType, what, depth + 1);
      return { itemType, items };
    }
    default:
      return c.fail(`${what}: unknown value type ${type}`);
  }
}

/** Parse and validate everything before the tensor data. */
export function parseGguf(src: RandomAccess, file: string): GgufHeader {
  const c: Cursor = new Cursor(src, file);
  if (src.size < 4) c.fail(`too short to be a GGUF file (${src.size} bytes)`);
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const shown = [...src.read(0, 4)].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
    c.fail(`bad magic "${shown}": not a GGUF file (expected "GGUF")`);
  }
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    if (version > 0xffff && (version & 0xffff) === 0) c.fail('big-endian GGUF files are not supported');
    c.fail(`GGUF version ${version} is not supported (versions 2 and 3 are)`);
  }
  // A tensor info is at least 8 (name) + 4 + 8 (one dim) + 4 + 8 bytes; a key/value at least 8 + 4 + 1.
  const tensorCount = c.count('tensor count', 32);
  const kvCount = c.count('metadata key/value count', 13);

  const kv = new Map<string, GgufKv>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`, true);
    if (kv.has(key)) c.fail(`metadata key "${key}" appears twice`);
    const type = c.u32(`type of metadata "${key}"`) as GgufType;
    if (!TYPE_NAMES.has(type)) c.fail(`metadata "${key}": unknown value type ${type}`);
    kv.set(key, { key, type, value: readValue(c, type, `metadata "${key}"`, 0) });
  }

  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const al = kv.get('general.alignment');
  if (al) {
    const v = al.value;
    if (al.type !== GgufType.UINT32 || typeof v !== 'number' || v === 0 || (v & (v - 1)) !== 0)
      c.fail(`metadata "general.alignment" must be a power-of-two u32, got ${String(v)}`);
    alignment = v;
  }

  const raw: Array<{ name: string; ne: number[]; type: GgmlTypeInfo; offset: number }> = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor #${i} name`, true);
    const where = `tensor "${name}"`;
    if (names.has(name)) c.fail(`${where} appears twice`);
    names.add(name);
    const nDims = c.u32(`${where} dimension count`);
    if (nDims < 1 || nDims > GGML_MAX_DIMS) c.fail(`${where}: ${nDims} dimensions (ggml allows 1 to ${GGML_MAX_DIMS})`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const n = c.u64(`${where} ne[${d}]`);
      if (typeof n === 'bigint') c.fail(`${where}: ne[${d}] = ${n} is absurdly large`);
      ne.push(n);
    }
    const typeId = c.u32(`${where} type`);
    const type = GGML_TYPE_BY_ID.get(typeId);
    if (!type) c.fail(`${where}: unknown tensor type ${typeId}`);
    const offset = c.u64(`${where} offset`);
    if (typeof offset === 'bigint') c.fail(`${where}: data offset ${offset} is absurdly large`);
    if (offset % alignment !== 0) c.fail(`${where}: data offset ${offset} is not a multiple of the alignment ${alignment}`);
    raw.push({ name, ne, type, offset });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  if (tensorCount > 0 && dataStart > src.size) c.fail(`truncated: the data section would start at ${dataStart}, past the end (${src.size} bytes)`);

  const tensors = raw.map(({ name, ne, type, offset }) => {
    const where = `tensor "${name}"`;
    if (ne[0]! % type.blockElements !== 0)
      c.fail(`${where}: ne[0] = ${ne[0]} is not a multiple of the ${type.name} block size ${type.blockElements}`);
    const elements = ne.reduce((a, b) => a * b, 1);
    const byteLength = (elements / type.blockElements) * type.blockBytes;
    if (!Number.isSafeInteger(byteLength)) c.fail(`${where}: ${ne.join(' x ')} elements is absurdly large`);
    const byteOffset = dataStart + offset;
    if (byteOffset + byteLength > src.size)
      c.fail(`${where}: data [${byteOffset}, ${byteOffset + byteLength}) lies outside the file (${src.size} bytes); truncated or corrupt offset`);
    return { name, ne, shape: [...ne].reverse(), type, byteOffset, byteLength };
  });
  const sorted = [...tensors].sort((a, b) => a.byteOffset - b.byteOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const t = sorted[i]!;
    if (t.byteLength > 0 && prev.byteLength > 0 && t.byteOffset < prev.byteOffset + prev.byteLength)
      c.fail(`tensor "${t.name}" overlaps tensor "${prev.name}" in the data section`);
  }
  return { file, version, fileSize: src.size, alignment, kv, tensors, dataStart };
}

/** Plain JS value of a metadata entry (arrays as plain arrays), or undefined when absent. */
export function metaValue(h: GgufHeader, key: string): unknown {
  const e = h.kv.get(key);
  return e === undefined ? undefined : plain(e.value);
}

function plain(v: GgufValue): unknown {
  return typeof v === 'object' && v !== null && 'items' in v ? v.items.map(plain) : v;
}

export function typeName(t: GgufType): string {
  return TYPE_NAMES.get(t) ?? String(t);
}
