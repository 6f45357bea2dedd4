/**
 * Tensor data of GGUF files: ggml type -> Owl weight format, decoding any supported type to f32
 * (the block decoders are tensor/weight.ts dequantRow), the encoders `owl convert` writes with
 * (f32, f16, bf16, Q8_0 and Q4_0 bit-exact with ggml's quantize_row_q{8,4}_0_ref, Q4_K its search), and MXFP4 repacking between the
 * Hugging Face layout (blocks + separate scales) and ggml's block_mxfp4 (scale byte + 16 code bytes).
 */
import { f16ToF32, f32ToBf16, f32ToF16, type FileDtype } from '../tensor/dtype.js';
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

/** f32 values -> bytes of an F32, F16, BF16, Q8_0, Q4_0 or Q4_K tensor (rows of rowLength). */
export function encodeFromF32(typeName: 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_K', values: Float32Array, rowLength: number): Uint8Array {
  switch (typeName) {
    case 'F32':
      return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    case 'F16':
    case 'BF16': {
      const conv = typeName === 'F16' ? f32ToF16 : f32ToBf16;
      // A plain loop: TypedArray.from with a map function builds a JS list first (fails past ~134M values).
      const u16 = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) u16[i] = conv(values[i]!);
      return new Uint8Array(u16.buffer);
    }
    case 'Q8_0':
      return quantizeQ8_0(values, rowLength);
    case 'Q4_0':
      return quantizeQ4_0(values, rowLength);
    case 'Q4_K':
      return quantizeQ4_K(values, rowLength);
  }
}

const f = Math.fround;

/** ggml's nearest_int: round half to even through the 1.5·2^23 magic number, in f32. */
function nearestInt(v: number): number {
  return f(v + 12582912) - 12582912;
}

/**
 * ggml's quantize_row_q4_K_ref, operation by operation in f32: per 32 values an importance-weighted
 * search for scale and min (make_qkx2_quants), both then quantised to 6 bits against the block's
 * largest (d, dmin in f16), and the values requantised with the rounded scales. A C build that fuses
 * multiply-adds may differ in rare last-bit ties.
 */
export function quantizeQ4_K(values: Float32Array, rowLength: number): Uint8Array {
  if (rowLength % 256 !== 0 || values.length % 256 !== 0) throw new GgufError(`Q4_K needs rows that are a multiple of 256, got ${rowLength}`);
  const nb = values.length / 256;
  const out = new Uint8Array(nb * 144);
  const L = new Uint8Array(256);
  const weights = new Float32Array(32);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let i = 0; i < nb; i++) {
    const x = values.subarray(i * 256, (i + 1) * 256);
    const y = out.subarray(i * 144, (i + 1) * 144);
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      const xs = x.subarray(32 * j, 32 * j + 32);
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(xs[l]! * xs[l]!));
      const avX = f(Math.sqrt(f(sumX2 / 32)));
      for (let l = 0; l < 32; l++) weights[l] = f(avX + Math.abs(xs[l]!));
      const r = makeQkx2Quants(15, xs, weights, L.subarray(32 * j, 32 * j + 32), -1, 0.1, 20);
      scales[j] = r.scale;
      mins[j] = r.min;
      if (r.scale > maxScale) maxScale = r.scale;
      if (r.min > maxMin) maxMin = r.min;
    }
    const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
    const sc = y.subarray(4, 16);
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)));
      const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)));
      if (j < 4) {
        sc[j] = ls;
        sc[j + 4] = lm;
      } else {
        sc[j + 4] = (ls & 15) | ((lm & 15) << 4);
        sc[j - 4]! |= (ls >> 4) << 6;
        sc[j]! |= (lm >> 4) << 6;
      }
    }
    const dh = f32ToF16(f(maxScale / 63));
    const mh = f32ToF16(f(maxMin / 63));
    y[0] = dh & 255;
    y[1] = dh >> 8;
    y[2] = mh & 255;
    y[3] = mh >> 8;
    for (let j = 0; j < 8; j++) {
      const s = j < 4 ? sc[j]! & 63 : (sc[j + 4]! & 15) | ((sc[j - 4]! >> 6) << 4);
      const m = j < 4 ? sc[j + 4]! & 63 : (sc[j + 4]! >> 4) | ((sc[j]! >> 6) << 4);
      const d = f(f16ToF32(dh) * s);
      if (!d) continue;
      const dm = f(f16ToF32(mh) * m);
      for (let l = 0; l < 32; l++) L[32 * j + l] = Math.max(0, Math.min(15, nearestInt(f(f(x[32 * j + l]! + dm) / d))));
    }
    for (let j = 0; j < 256; j += 64)
      for (let l = 0; l < 32; l++) y[16 + j / 2 + l] = L[j + l]! | (L[j + l + 32]! << 4);
  }
  return out;
}

/** ggml's make_qkx2_quants (use_mad = false): L (0..nmax), the scale, and the min as a positive offset. */
function makeQkx2Quants(nmax: number, x: Float32Array, w: Float32Array, L: Uint8Array, rmin: number, rdelta: number, nstep: number): { scale: number; min: number } {
  const n = x.length;
  let min = x[0]!;
  let max = x[0]!;
  let sumW = w[0]!;
  let sumX = f(sumW * x[0]!);
  for (let i = 1; i < n; i++) {
    if (x[i]! < min) min = x[i]!;
    if (x[i]! > max) max = x[i]!;
    sumW = f(sumW + w[i]!);
    sumX = f(sumX + f(w[i]! * x[i]!));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0);
    return { scale: 0, min: -min };
  }
  const range = f(max - min);
  let iscale = f(nmax / range);
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    L[i] = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[i]! - min)))));
    const diff = f(f(f(scale * L[i]!) + min) - x[i]!);
    bestError = f(bestError + f(w[i]! * f(diff * diff)));
  }
  const aux = new Uint8Array(n);
  for (let is = 0; is <= nstep; is++) {
    iscale = f(f(f(rmin + f(f(rdelta) * is)) + nmax) / range);
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[i]! - min)))));
      aux[i] = l;
      const wl = f(w[i]! * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * x[i]!));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = f(f(f(thisScale * aux[i]!) + thisMin) - x[i]!);
        curError = f(curError + f(w[i]! * f(diff * diff)));
      }
      if (curError < bestError) {
        L.set(aux);
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return { scale, min: -min };
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
