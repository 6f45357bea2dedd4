/**
 * Tensor data of GGUF files: ggml type -> Owl weight format, decoding any supported type to f32
 * (the block decoders are tensor/weight.ts dequantRow), the encoders `owl convert` writes with
 * (f32, f16, bf16, Q8_0 and Q4_0 bit-exact with ggml's quantize_row_q{8,4}_0_ref), and MXFP4 repacking between the
 * Hugging Face layout (blocks + separate scales) and ggml's block_mxfp4 (scale byte + 16 code bytes).
 */
import { f32ToBf16, f32ToF16, type FileDtype } from '../tensor/dtype.js';
import { dequantRow, type Weight, type WeightFormat } from '../tensor/weight.js';
import type { GgmlTypeInfo } from './constants.js';
import { GgufError } from './reader.js';

/** ggml types that map to a file dtype unchanged (same bytes). */
export const PLAIN_DTYPE: Partial<Record<string, FileDtype>> = {
  F32: 'F32', F16: 'F16', BF16: 'BF16', F64: 'F64', I8: 'I8', I16: 'I16', I32: 'I32', I64: 'I64',
};

/** ggml block types with a reference decoder in tensor/weight.ts. */
export const BLOCK_FORMAT: Partial<Record<string, WeightFormat>> = {
  Q8_0: 'q8_0', Q4_0: 'q4_0', Q4_K: 'q4_k', Q5_K: 'q5_k', Q6_K: 'q6_k',
};

export const SUPPORTED_TYPES = [...Object.keys(PLAIN_DTYPE), ...Object.keys(BLOCK_FORMAT), 'MXFP4'];

export function checkDecodable(type: GgmlTypeInfo, where: string): void {
  if (!SUPPORTED_TYPES.includes(type.name))
    throw new GgufError(`${where}: tensor type ${type.name} is not supported yet (supported: ${SUPPORTED_TYPES.join(', ')})`);
}

/** Any supported tensor's bytes -> f32 values (row length = ne[0]). */
export function decodeToF32(type: GgmlTypeInfo, data: Uint8Array, rowLength: number, where: string): Float32Array {
  checkDecodable(type, where);
  const elements = (data.length / type.blockBytes) * type.blockElements;
  const rows = elements / rowLength;
  const out = new Float32Array(elements);
  const aligned = data.byteOffset % 8 === 0 ? data : data.slice();
  let w: Weight;
  if (type.name === 'MXFP4') {
    const { blocks, scales } = ggmlToHfMxfp4(aligned);
    w = { format: 'mxfp4', rows, cols: rowLength, data: blocks, scales };
  } else if (type.name === 'F64' || type.name.startsWith('I')) {
    const src = type.name === 'F64' ? new Float64Array(aligned.buffer, aligned.byteOffset, elements)
      : type.name === 'I8' ? new Int8Array(aligned.buffer, aligned.byteOffset, elements)
        : type.name === 'I16' ? new Int16Array(aligned.buffer, aligned.byteOffset, elements)
          : type.name === 'I32' ? new Int32Array(aligned.buffer, aligned.byteOffset, elements)
            : Array.from(new BigInt64Array(aligned.buffer, aligned.byteOffset, elements), Number);
    out.set(src as ArrayLike<number>);
    return out;
  } else {
    const format = type.name === 'F32' ? 'f32' : type.name === 'F16' ? 'f16' : type.name === 'BF16' ? 'bf16' : BLOCK_FORMAT[type.name]!;
    w = { format, rows, cols: rowLength, data: aligned };
  }
  for (let r = 0; r < rows; r++) dequantRow(w, r, out.subarray(r * rowLength, (r + 1) * rowLength));
  return out;
}

/** f32 values -> bytes of an F32, F16, BF16, Q8_0 or Q4_0 tensor (rows of rowLength). */
export function encodeFromF32(typeName: 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0', values: Float32Array, rowLength: number): Uint8Array {
  switch (typeName) {
    case 'F32':
      return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    case 'F16':
    case 'BF16': {
      const conv = typeName === 'F16' ? f32ToF16 : f32ToBf16;
      const u16 = Uint16Array.from(values, conv);
      return new Uint8Array(u16.buffer);
    }
    case 'Q8_0':
      return quantizeQ8_0(values, rowLength);
    case 'Q4_0':
      return quantizeQ4_0(values, rowLength);
  }
}

/** ggml's reference Q4_0: per 32 values d = (the value of largest magnitude) / -8, q = min(15, trunc(x / d + 8.5)). */
export function quantizeQ4_0(values: Float32Array, rowLength: number): Uint8Array {
  if (rowLength % 32 !== 0 || values.length % 32 !== 0) throw new GgufError(`Q4_0 needs rows that are a multiple of 32, got ${rowLength}`);
  const nb = values.length / 32;
  const out = new Uint8Array(nb * 18);
  const f = Math.fround;
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = values[b * 32 + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = f(max / -8);
    const id = d !== 0 ? f(1 / d) : 0;
    const h = f32ToF16(d);
    out[b * 18] = h & 0xff;
    out[b * 18 + 1] = h >> 8;
    const q = (v: number) => Math.min(15, Math.trunc(f(f(v * id) + 8.5)));
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = q(values[b * 32 + j]!) | (q(values[b * 32 + 16 + j]!) << 4);
  }
  return out;
}

/** ggml's reference Q8_0: per 32 values d = amax/127 (stored f16), q = roundf(x / d) (half away from zero). */
export function quantizeQ8_0(values: Float32Array, rowLength: number): Uint8Array {
  if (rowLength % 32 !== 0 || values.length % 32 !== 0) throw new GgufError(`Q8_0 needs rows that are a multiple of 32, got ${rowLength}`);
  const nb = values.length / 32;
  const out = new Uint8Array(nb * 34);
  const f = Math.fround;
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(values[b * 32 + j]!));
    const d = f(amax / 127);
    const id = d !== 0 ? f(1 / d) : 0;
    const h = f32ToF16(d);
    out[b * 34] = h & 0xff;
    out[b * 34 + 1] = h >> 8;
    for (let j = 0; j < 32; j++) {
      const x = f(values[b * 32 + j]! * id);
      const q = Math.sign(x) * Math.floor(Math.abs(x) + 0.5);
      out[b * 34 + 2 + j] = q & 0xff;
    }
  }
  return out;
}

/** HF MXFP4 (blocks: 16 bytes per 32 values, element 2j low nibble / 2j+1 high; scales: one byte each) -> ggml block_mxfp4. */
export function hfToGgmlMxfp4(blocks: Uint8Array, scales: Uint8Array): Uint8Array {
  const nb = scales.length;
  if (blocks.length !== nb * 16) throw new GgufError(`MXFP4: ${blocks.length} block bytes for ${nb} scales`);
  const out = new Uint8Array(nb * 17);
  const nibble = (b: number, k: number) => (blocks[b * 16 + (k >> 1)]! >> ((k & 1) * 4)) & 15;
  for (let b = 0; b < nb; b++) {
    out[b * 17] = scales[b]!;
    for (let j = 0; j < 16; j++) out[b * 17 + 1 + j] = nibble(b, j) | (nibble(b, j + 16) << 4);
  }
  return out;
}

/** ggml block_mxfp4 bytes -> HF layout (blocks + scales); the inverse of hfToGgmlMxfp4. */
export function ggmlToHfMxfp4(data: Uint8Array): { blocks: Uint8Array; scales: Uint8Array } {
  const nb = data.length / 17;
  const blocks = new Uint8Array(nb * 16);
  const scales = new Uint8Array(nb);
  for (let b = 0; b < nb; b++) {
    scales[b] = data[b * 17]!;
    const q = (k: number) => (data[b * 17 + 1 + (k & 15)]! >> (k >> 4 ? 4 : 0)) & 15;
    for (let j = 0; j < 16; j++) blocks[b * 16 + j] = q(2 * j) | (q(2 * j + 1) << 4);
  }
  return { blocks, scales };
}
