/**
 * GGUF v3 encoding: the header (magic, version, counts, metadata, tensor infos) padded to the alignment,
 * and the offset of each tensor in the data section (each tensor padded to the alignment, as gguf-py does).
 * File output lives in node/gguf-file.ts.
 */
import { GGML_MAX_DIMS, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgufType, type GgmlTypeInfo } from './constants.js';
import { GgufError, type GgufArray, type GgufKv, type GgufValue } from './reader.js';

export interface TensorToEncode {
  name: string;
  /** ggml order (ne[0] innermost). */
  ne: number[];
  type: GgmlTypeInfo;
}

export interface EncodedHeader {
  header: Uint8Array;
  /** Per tensor, its byte length and its offset relative to the data section. */
  layout: Array<{ byteLength: number; offset: number }>;
  alignment: number;
}

export const kv = {
  u32: (key: string, value: number): GgufKv => ({ key, type: GgufType.UINT32, value }),
  i32: (key: string, value: number): GgufKv => ({ key, type: GgufType.INT32, value }),
  f32: (key: string, value: number): GgufKv => ({ key, type: GgufType.FLOAT32, value }),
  bool: (key: string, value: boolean): GgufKv => ({ key, type: GgufType.BOOL, value }),
  str: (key: string, value: string): GgufKv => ({ key, type: GgufType.STRING, value }),
  arr: (key: string, itemType: GgufType, items: GgufValue[]): GgufKv => ({ key, type: GgufType.ARRAY, value: { itemType, items } }),
};

export function tensorByteLength(ne: readonly number[], type: GgmlTypeInfo): number {
  if (ne[0]! % type.blockElements !== 0) throw new GgufError(`ne[0] = ${ne[0]} is not a multiple of the ${type.name} block size`);
  return (ne.reduce((a, b) => a * b, 1) / type.blockElements) * type.blockBytes;
}

/** A growable little-endian byte buffer. */
class Out {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  len = 0;

  private room(n: number): number {
    if (this.len + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.len + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.len;
    this.len += n;
    return at;
  }
  u8(v: number) { const at = this.room(1); this.view.setUint8(at, v); }
  i8(v: number) { const at = this.room(1); this.view.setInt8(at, v); }
  u16(v: number) { const at = this.room(2); this.view.setUint16(at, v, true); }
  i16(v: number) { const at = this.room(2); this.view.setInt16(at, v, true); }
  u32(v: number) { const at = this.room(4); this.view.setUint32(at, v, true); }
  i32(v: number) { const at = this.room(4); this.view.setInt32(at, v, true); }
  f32(v: number) { const at = this.room(4); this.view.setFloat32(at, v, true); }
  f64(v: number) { const at = this.room(8); this.view.setFloat64(at, v, true); }
  u64(v: number | bigint) { const at = this.room(8); this.view.setBigUint64(at, BigInt(v), true); }
  i64(v: number | bigint) { const at = this.room(8); this.view.setBigInt64(at, BigInt(v), true); }
  bytes(b: Uint8Array) {
    const at = this.room(b.length); // room() may replace buf: index it afterwards
    this.buf.set(b, at);
  }
  string(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  pad(alignment: number) {
    const n = (alignment - (this.len % alignment)) % alignment;
    this.room(n); // zeros: fresh buffer space is zero-filled
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function writeValue(out: Out, type: GgufType, v: GgufValue, key: string): void {
  const num = () => {
    if (typeof v !== 'number' && typeof v !== 'bigint') throw new GgufError(`metadata "${key}": expected a number, got ${typeof v}`);
    return v;
  };
  switch (type) {
    case GgufType.UINT8: return out.u8(Number(num()));
    case GgufType.INT8: return out.i8(Number(num()));
    case GgufType.UINT16: return out.u16(Number(num()));
    case GgufType.INT16: return out.i16(Number(num()));
    case GgufType.UINT32: return out.u32(Number(num()));
    case GgufType.INT32: return out.i32(Number(num()));
    case GgufType.FLOAT32: return out.f32(Number(num()));
    case GgufType.FLOAT64: return out.f64(Number(num()));
    case GgufType.UINT64: return out.u64(num());
    case GgufType.INT64: return out.i64(num());
    case GgufType.BOOL: return out.u8(v ? 1 : 0);
    case GgufType.STRING:
      if (typeof v !== 'string') throw new GgufError(`metadata "${key}": expected a string`);
      return out.string(v);
    case GgufType.ARRAY: {
      const a = v as GgufArray;
      out.u32(a.itemType);
      out.u64(a.items.length);
      for (const item of a.items) writeValue(out, a.itemType, item, key);
      return;
    }
  }
}

/** Encode the header for these metadata entries and tensors (in this order). */
export function encodeGgufHeader(kvs: GgufKv[], tensors: TensorToEncode[], alignment = GGUF_DEFAULT_ALIGNMENT): EncodedHeader {
  const keys = new Set<string>();
  for (const e of kvs) {
    if (keys.has(e.key)) throw new GgufError(`metadata key "${e.key}" given twice`);
    keys.add(e.key);
  }
  const names = new Set<string>();
  const out = new Out();
  out.u32(GGUF_MAGIC);
  out.u32(GGUF_VERSION);
  out.u64(tensors.length);
  out.u64(kvs.length);
  for (const e of kvs) {
    out.string(e.key);
    out.u32(e.type);
    writeValue(out, e.type, e.value, e.key);
  }
  const layout: EncodedHeader['layout'] = [];
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new GgufError(`tensor "${t.name}" given twice`);
    names.add(t.name);
    if (t.ne.length < 1 || t.ne.length > GGML_MAX_DIMS) throw new GgufError(`tensor "${t.name}": ${t.ne.length} dimensions`);
    out.string(t.name);
    out.u32(t.ne.length);
    for (const n of t.ne) out.u64(n);
    out.u32(t.type.id);
    out.u64(offset);
    const byteLength = tensorByteLength(t.ne, t.type);
    layout.push({ byteLength, offset });
    offset += Math.ceil(byteLength / alignment) * alignment;
  }
  out.pad(alignment);
  return { header: out.result(), layout, alignment };
}
