/**
 * The views of tensor-map.ts, reading direction: GGUF tensors presented under Hugging Face names and
 * layouts, produced lazily from the file. Plain types (F32/F16/BF16) keep their bytes, so a round trip
 * is exact. Block-quantised types (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) stay packed where the view moves whole
 * rows (renames, per-expert slices, GPT-OSS experts: rows are whole blocks); MLA's kv_b, a per-head
 * transpose, decodes them to f32 with the reference decoders.
 */
import type { FileDtype } from '../tensor/dtype.js';
import { FILE_DTYPE_BYTES } from '../tensor/dtype.js';
import type { GgmlBlockFormat } from '../tensor/weight.js';
import { fill, perLayer, TENSOR_TABLES, type GgufArch, type TensorRule } from './tensor-map.js';
import { GgufError, type GgufHeader, type GgufTensorInfo } from './reader.js';
import { BLOCK_FORMAT, checkDecodable, decodeToF32, ggmlToHfMxfp4, PLAIN_DTYPE } from './quants.js';

export interface PresentedTensor {
  name: string;
  dtype: FileDtype;
  shape: number[];
  byteLength: number;
  /** Set when the bytes are packed ggml blocks (dtype U8, shape still in elements): see TensorInfo.format. */
  format?: GgmlBlockFormat;
  /** The GGUF tensors it is made from. */
  sources: GgufTensorInfo[];
  produce(): Uint8Array;
}

/** Bytes [start, start + length) of a tensor's data. */
export type ReadTensor = (t: GgufTensorInfo, start?: number, length?: number) => Uint8Array;

type Elems = Uint8Array | Uint16Array | Uint32Array;

/** Element values of a tensor (or a byte range of it): plain 1/2/4-byte types as they are, anything else as f32 bits. */
function elements(t: GgufTensorInfo, read: ReadTensor, forceF32: boolean, where: string, start = 0, length = t.byteLength) {
  const plain = PLAIN_DTYPE[t.type.name];
  const bytes = plain ? FILE_DTYPE_BYTES[plain] : 0;
  if (plain && !forceF32 && bytes <= 4) {
    const raw = read(t, start, length).slice();
    const arr: Elems = bytes === 1 ? raw : bytes === 2 ? new Uint16Array(raw.buffer) : new Uint32Array(raw.buffer);
    return { dtype: plain, arr };
  }
  const f = decodeToF32(t.type, read(t, start, length), t.ne[0]!, where);
  return { dtype: 'F32' as FileDtype, arr: new Uint32Array(f.buffer) };
}

function asBytes(a: Elems): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function alike(len: number, like: Elems): Elems {
  return like instanceof Uint8Array ? new Uint8Array(len) : like instanceof Uint16Array ? new Uint16Array(len) : new Uint32Array(len);
}

/** dtype a tensor is presented in: its own for plain types, F32 for block types. */
function presentedDtype(ts: GgufTensorInfo[]): FileDtype {
  const plain = ts.map((t) => PLAIN_DTYPE[t.type.name]);
  const first = plain[0];
  return first && plain.every((p) => p === first) && FILE_DTYPE_BYTES[first] <= 4 ? first : 'F32';
}

function expectDims(t: GgufTensorInfo, n: number, file: string): void {
  if (t.shape.length !== n) throw new GgufError(`${file}: tensor "${t.name}" has shape [${t.shape.join(', ')}], expected ${n} dimensions`);
}

/** Present every tensor of a GGUF file under the names and layouts the Hugging Face checkpoint uses. */
export function presentTensors(arch: GgufArch, h: GgufHeader, blockCount: number, read: ReadTensor): Map<string, PresentedTensor> {
  const byName = new Map(h.tensors.map((t) => [t.name, t]));
  const used = new Set<string>();
  const out = new Map<string, PresentedTensor>();
  const add = (p: PresentedTensor) => {
    if (out.has(p.name)) throw new GgufError(`${h.file}: two GGUF tensors map to "${p.name}" (${out.get(p.name)!.sources[0]!.name}, ${p.sources[0]!.name})`);
    out.set(p.name, p);
  };
  for (const rule of TENSOR_TABLES[arch]) {
    const layers = perLayer(rule.gguf[0]!) ? Array.from({ length: blockCount }, (_, i) => i) : [0];
    for (const i of layers) {
      const srcs = rule.gguf.map((g) => byName.get(fill(g, i)));
      if (srcs.some((s) => !s || used.has(s.name))) continue;
      const ts = srcs as GgufTensorInfo[];
      // GPT-OSS experts: MXFP4 ones stay packed (_blocks/_scales); others become dense x @ W tensors.
      const isMxfp4 = ts[0]!.type.name === 'MXFP4';
      if ((rule.kind === 'gate_up_mxfp4' || rule.kind === 'down_mxfp4') && !isMxfp4) continue;
      if ((rule.kind === 'gate_up_xw' || rule.kind === 'down_xw') && isMxfp4) continue;
      for (const p of presentRule(rule, i, ts, h.file, read)) add(p);
      for (const t of ts) used.add(t.name);
    }
  }
  // Tensors no rule knows keep their GGUF name, so loaders report them as unused.
  for (const t of h.tensors) if (!used.has(t.name)) add(renamed(t.name, t, h.file, read));
  return out;
}

/** The block format a GGUF tensor keeps when presented packed, if it is block-quantised. */
function packedFormat(t: GgufTensorInfo): GgmlBlockFormat | undefined {
  return BLOCK_FORMAT[t.type.name] as GgmlBlockFormat | undefined;
}

function renamed(name: string, t: GgufTensorInfo, file: string, read: ReadTensor): PresentedTensor {
  const format = packedFormat(t);
  if (format) return { name, dtype: 'U8', shape: t.shape, byteLength: t.byteLength, format, sources: [t], produce: () => read(t) };
  const dtype = presentedDtype([t]);
  const elems = t.shape.reduce((a, b) => a * b, 1);
  return {
    name,
    dtype,
    shape: t.shape,
    byteLength: elems * FILE_DTYPE_BYTES[dtype],
    sources: [t],
    produce: () => {
      if (PLAIN_DTYPE[t.type.name] === dtype) return read(t);
      checkDecodable(t.type, `${file}: tensor "${t.name}"`);
      return asBytes(elements(t, read, true, `${file}: tensor "${t.name}"`).arr);
    },
  };
}

function presentRule(rule: TensorRule, i: number, ts: GgufTensorInfo[], file: string, read: ReadTensor): PresentedTensor[] {
  const hf = (k = 0, e?: number) => fill(rule.hf[k]!, i, e);
  const where = (t: GgufTensorInfo) => `${file}: tensor "${t.name}"`;
  const dtype = presentedDtype(ts);
  const size = FILE_DTYPE_BYTES[dtype];
  const t0 = ts[0]!;
  const force = dtype === 'F32' && ts.some((t) => PLAIN_DTYPE[t.type.name] !== 'F32');
  switch (rule.kind) {
    case 'rename':
      return [renamed(hf(), t0, file, read)];
    case 'experts': {
      expectDims(t0, 3, file);
      const [E, rows, cols] = t0.shape as [number, number, number];
      const per = t0.byteLength / E;
      const format = packedFormat(t0);
      // Expert e is rows [e·rows, (e+1)·rows) of the stack: whole blocks, so a packed slice.
      if (format)
        return Array.from({ length: E }, (_, e) => ({
          name: hf(0, e), dtype: 'U8' as FileDtype, shape: [rows, cols], byteLength: per, format, sources: [t0], produce: () => read(t0, e * per, per),
        }));
      return Array.from({ length: E }, (_, e) => ({
        name: hf(0, e),
        dtype,
        shape: [rows, cols],
        byteLength: rows * cols * size,
        sources: [t0],
        produce: () => asBytes(elements(t0, read, force, where(t0), e * per, per).arr),
      }));
    }
    case 'kv_b': {
      const [kb, vb] = ts as [GgufTensorInfo, GgufTensorInfo];
      expectDims(kb, 3, file);
      expectDims(vb, 3, file);
      const [H, kvl, nope] = kb.shape as [number, number, number];
      const dv = vb.shape[1]!;
      if (vb.shape[0] !== H || vb.shape[2] !== kvl)
        throw new GgufError(`${file}: "${vb.name}" [${vb.shape.join(', ')}] does not match "${kb.name}" [${kb.shape.join(', ')}]`);
      return [{
        name: hf(),
        dtype,
        shape: [H * (nope + dv), kvl],
        byteLength: H * (nope + dv) * kvl * size,
        sources: ts,
        produce: () => {
          const k = elements(kb, read, force, where(kb)).arr;
          const v = elements(vb, read, force, where(vb)).arr;
          const o = alike(H * (nope + dv) * kvl, k);
          for (let h = 0; h < H; h++) {
            const base = h * (nope + dv);
            for (let n = 0; n < nope; n++) for (let c = 0; c < kvl; c++) o[(base + n) * kvl + c] = k[(h * kvl + c) * nope + n]!;
            o.set(v.subarray(h * dv * kvl, (h + 1) * dv * kvl), (base + nope) * kvl);
          }
          return asBytes(o);
        },
      }];
    }
    case 'gate_up_xw': {
      const [g, u] = ts as [GgufTensorInfo, GgufTensorInfo];
      expectDims(g, 3, file);
      const [E, I, D] = g.shape as [number, number, number];
      const format = packedFormat(g);
      // Packed: nn.Linear rows [E, 2·I, D] (not x @ W), gate/up rows interleaved like the MXFP4 view.
      if (format && packedFormat(u) === format) {
        const row = g.byteLength / (E * I);
        return [{
          name: hf(), dtype: 'U8', shape: [E, 2 * I, D], byteLength: 2 * g.byteLength, format, sources: ts,
          produce: () => {
            const parts = [read(g), read(u)];
            const o = new Uint8Array(2 * g.byteLength);
            for (let r = 0; r < E * I; r++) parts.forEach((p, k) => o.set(p.subarray(r * row, (r + 1) * row), (2 * r + k) * row));
            return o;
          },
        }];
      }
      return [{
        name: hf(),
        dtype,
        shape: [E, D, 2 * I],
        byteLength: E * D * 2 * I * size,
        sources: ts,
        produce: () => {
          const a = elements(g, read, force, where(g)).arr;
          const b = elements(u, read, force, where(u)).arr;
          const o = alike(E * D * 2 * I, a);
          for (let e = 0; e < E; e++)
            for (let r = 0; r < I; r++)
              for (let k = 0; k < D; k++) {
                const at = (e * D + k) * 2 * I + 2 * r;
                o[at] = a[(e * I + r) * D + k]!;
                o[at + 1] = b[(e * I + r) * D + k]!;
              }
          return asBytes(o);
        },
      }];
    }
    case 'down_xw': {
      expectDims(t0, 3, file);
      const [E, D, I] = t0.shape as [number, number, number];
      const format = packedFormat(t0);
      // Packed: nn.Linear rows [E, D, I] as in the file (not x @ W).
      if (format) return [{ name: hf(), dtype: 'U8', shape: [E, D, I], byteLength: t0.byteLength, format, sources: ts, produce: () => read(t0) }];
      return [{
        name: hf(),
        dtype,
        shape: [E, I, D],
        byteLength: E * I * D * size,
        sources: ts,
        produce: () => {
          const a = elements(t0, read, force, where(t0)).arr;
          const o = alike(E * I * D, a);
          for (let e = 0; e < E; e++) for (let k = 0; k < D; k++) for (let r = 0; r < I; r++) o[(e * I + r) * D + k] = a[(e * D + k) * I + r]!;
          return asBytes(o);
        },
      }];
    }
    case 'gate_up_bias': {
      const [g, u] = ts as [GgufTensorInfo, GgufTensorInfo];
      expectDims(g, 2, file);
      const [E, I] = g.shape as [number, number];
      return [{
        name: hf(),
        dtype,
        shape: [E, 2 * I],
        byteLength: E * 2 * I * size,
        sources: ts,
        produce: () => {
          const a = elements(g, read, force, where(g)).arr;
          const b = elements(u, read, force, where(u)).arr;
          const o = alike(E * 2 * I, a);
          for (let j = 0; j < E * I; j++) {
            o[2 * j] = a[j]!;
            o[2 * j + 1] = b[j]!;
          }
          return asBytes(o);
        },
      }];
    }
    case 'gate_up_mxfp4':
    case 'down_mxfp4': {
      for (const t of ts) expectDims(t, 3, file);
      const [E, R, K] = t0.shape as [number, number, number];
      const nb = K / 32;
      const split = rule.kind === 'gate_up_mxfp4';
      const rows = split ? 2 * R : R;
      let cache: { blocks: Uint8Array; scales: Uint8Array } | null = null;
      const both = () => {
        if (cache) return cache;
        const parts = ts.map((t) => ggmlToHfMxfp4(read(t)));
        const blocks = new Uint8Array(E * rows * nb * 16);
        const scales = new Uint8Array(E * rows * nb);
        for (let e = 0; e < E; e++)
          for (let r = 0; r < R; r++)
            parts.forEach((p, k) => {
              const from = e * R + r;
              const to = e * rows + (split ? 2 * r + k : r);
              blocks.set(p.blocks.subarray(from * nb * 16, (from + 1) * nb * 16), to * nb * 16);
              scales.set(p.scales.subarray(from * nb, (from + 1) * nb), to * nb);
            });
        return (cache = { blocks, scales });
      };
      return [
        { name: hf(0), dtype: 'U8', shape: [E, rows, nb, 16], byteLength: E * rows * nb * 16, sources: ts, produce: () => both().blocks },
        {
          name: hf(1),
          dtype: 'U8',
          shape: [E, rows, nb],
          byteLength: E * rows * nb,
          sources: ts,
          produce: () => {
            const s = both().scales;
            cache = null; // the loader reads blocks then scales; drop the pair after
            return s;
          },
        },
      ];
    }
  }
}
