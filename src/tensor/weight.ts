/**
 * A weight matrix kept in its checkpoint format. Logical layout is nn.Linear's [rows = out, cols = in]:
 * y = x · Wᵀ. Kernels decode elements on the fly; nothing is upcast at load.
 */
import { E2M1_TABLE, E4M3_TABLE, bf16ToF32, e8m0ToF32, f16ToF32 } from './dtype.js';

export type WeightFormat = 'f32' | 'f16' | 'bf16' | 'fp8_e4m3' | 'mxfp4' | GgmlBlockFormat;

/**
 * llama.cpp (GGUF) block formats, stored exactly as ggml lays them out: each row is cols / blockElements
 * consecutive blocks (f16 scales little-endian inside the block).
 */
export type GgmlBlockFormat = 'q8_0' | 'q4_0' | 'q4_k' | 'q5_k' | 'q6_k';

/** Elements and bytes per block of each ggml block format (ggml-common.h). */
export const GGML_BLOCK: Record<GgmlBlockFormat, { elements: number; bytes: number }> = {
  q8_0: { elements: 32, bytes: 34 },
  q4_0: { elements: 32, bytes: 18 },
  q4_k: { elements: 256, bytes: 144 },
  q5_k: { elements: 256, bytes: 176 },
  q6_k: { elements: 256, bytes: 210 },
};

export interface Weight {
  format: WeightFormat;
  rows: number;
  cols: number;
  /**
   * Packed elements, row-major. f32/f16/bf16: aligned to the element size (loaders copy otherwise).
   * fp8_e4m3: one byte per element. mxfp4: 16 bytes per 32 elements, element 2j in the low nibble.
   * q8_0/q4_0/q4_k/q5_k/q6_k: ggml blocks (GGML_BLOCK), scales inside the blocks.
   */
  data: Uint8Array;
  /** fp8_e4m3: f32 scale_inv [ceil(rows/block[0]), ceil(cols/block[1])]. mxfp4: E8M0 bytes [rows, cols/32]. */
  scales?: Float32Array | Uint8Array;
  /** fp8_e4m3: [blockRows, blockCols]. */
  block?: [number, number];
  /** Set by a backend's prepareWeight (e.g. where it placed the bytes in its own memory). */
  handle?: unknown;
}

/** Bytes a weight occupies in memory (data + scales). */
export function weightBytes(w: Weight): number {
  return w.data.byteLength + (w.scales?.byteLength ?? 0);
}

/** Reference decoder: row r of w as f32 into out[0..cols). The spec every fast kernel is tested against. */
export function dequantRow(w: Weight, r: number, out: Float32Array): void {
  const { cols } = w;
  switch (w.format) {
    case 'f32': {
      const src = new Float32Array(w.data.buffer, w.data.byteOffset + r * cols * 4, cols);
      out.set(src);
      return;
    }
    case 'bf16': {
      const src = new Uint16Array(w.data.buffer, w.data.byteOffset + r * cols * 2, cols);
      for (let c = 0; c < cols; c++) out[c] = bf16ToF32(src[c]!);
      return;
    }
    case 'f16': {
      const src = new Uint16Array(w.data.buffer, w.data.byteOffset + r * cols * 2, cols);
      for (let c = 0; c < cols; c++) out[c] = f16ToF32(src[c]!);
      return;
    }
    case 'fp8_e4m3': {
      const [br, bc] = w.block!;
      const scales = w.scales as Float32Array;
      const scaleCols = Math.ceil(cols / bc);
      const srow = Math.floor(r / br) * scaleCols;
      const base = r * cols;
      // Dequantised value rounded once to f32, as the references do.
      for (let c = 0; c < cols; c++) out[c] = Math.fround(E4M3_TABLE[w.data[base + c]!]! * scales[srow + Math.floor(c / bc)]!);
      return;
    }
    case 'mxfp4': {
      const blocksPerRow = cols / 32;
      const scales = w.scales as Uint8Array;
      for (let b = 0; b < blocksPerRow; b++) {
        const scale = e8m0ToF32(scales[r * blocksPerRow + b]!);
        const base = (r * blocksPerRow + b) * 16;
        for (let j = 0; j < 16; j++) {
          const byte = w.data[base + j]!;
          out[b * 32 + 2 * j] = E2M1_TABLE[byte & 15]! * scale;
          out[b * 32 + 2 * j + 1] = E2M1_TABLE[byte >> 4]! * scale;
        }
      }
      return;
    }
    case 'q8_0':
    case 'q4_0':
    case 'q4_k':
    case 'q5_k':
    case 'q6_k':
      return dequantGgmlRow(w, r, out);
  }
}

/** The ggml block decoders (ggml-quants.c dequantize_row_*), each product rounded to f32 as in C. */
function dequantGgmlRow(w: Weight, r: number, out: Float32Array): void {
  const format = w.format as GgmlBlockFormat;
  const { elements, bytes } = GGML_BLOCK[format];
  const nb = w.cols / elements;
  const d = w.data;
  const f16 = (at: number) => f16ToF32(d[at]! | (d[at + 1]! << 8));
  const f = Math.fround;
  for (let b = 0; b < nb; b++) {
    const at = (r * nb + b) * bytes;
    const y = b * elements;
    switch (format) {
      case 'q8_0': {
        const scale = f16(at);
        for (let j = 0; j < 32; j++) out[y + j] = f(((d[at + 2 + j]! << 24) >> 24) * scale);
        break;
      }
      case 'q4_0': {
        const scale = f16(at);
        for (let j = 0; j < 16; j++) {
          const q = d[at + 2 + j]!;
          out[y + j] = f(((q & 15) - 8) * scale);
          out[y + j + 16] = f(((q >> 4) - 8) * scale);
        }
        break;
      }
      case 'q4_k':
      case 'q5_k': {
        const scale = f16(at);
        const min = f16(at + 2);
        const sc = at + 4; // 12 bytes of 6-bit scales and mins
        const q5 = format === 'q5_k';
        const qh = at + 16; // q5_k: 32 bytes of high bits
        let qs = q5 ? at + 48 : at + 16;
        for (let j = 0, is = 0; j < 256; j += 64, is += 2) {
          const [s1, m1] = kScaleMin(d, sc, is);
          const [s2, m2] = kScaleMin(d, sc, is + 1);
          const d1 = f(scale * s1), n1 = f(min * m1), d2 = f(scale * s2), n2 = f(min * m2);
          const u1 = 1 << (is), u2 = 2 << (is);
          for (let l = 0; l < 32; l++) {
            const q = d[qs + l]!;
            const h1 = q5 && d[qh + l]! & u1 ? 16 : 0;
            const h2 = q5 && d[qh + l]! & u2 ? 16 : 0;
            out[y + j + l] = f(f(d1 * ((q & 15) + h1)) - n1);
            out[y + j + 32 + l] = f(f(d2 * ((q >> 4) + h2)) - n2);
          }
          qs += 32;
        }
        break;
      }
      case 'q6_k': {
        // ql[128] | qh[64] | scales int8[16] | d f16
        const scale = f16(at + 208);
        for (let n = 0; n < 2; n++) {
          const ql = at + n * 64, qh = at + 128 + n * 32, sc = at + 192 + n * 8, o = y + n * 128;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const s = (k: number) => f(scale * ((d[sc + is + k]! << 24) >> 24));
            const h = d[qh + l]!;
            out[o + l] = f(s(0) * (((d[ql + l]! & 15) | ((h & 3) << 4)) - 32));
            out[o + l + 32] = f(s(2) * (((d[ql + l + 32]! & 15) | (((h >> 2) & 3) << 4)) - 32));
            out[o + l + 64] = f(s(4) * (((d[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32));
            out[o + l + 96] = f(s(6) * (((d[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32));
          }
        }
        break;
      }
    }
  }
}

/** Scale and min j (0..7) of a K-quant super-block: 6-bit values packed in 12 bytes (get_scale_min_k4). */
function kScaleMin(d: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [d[at + j]! & 63, d[at + j + 4]! & 63];
  return [(d[at + j + 4]! & 15) | ((d[at + j - 4]! >> 6) << 4), (d[at + j + 4]! >> 4) | ((d[at + j]! >> 6) << 4)];
}

/** Whole matrix as f32 (tests, small tensors such as norms and biases). */
export function dequantAll(w: Weight): Float32Array {
  const out = new Float32Array(w.rows * w.cols);
  for (let r = 0; r < w.rows; r++) dequantRow(w, r, out.subarray(r * w.cols, (r + 1) * w.cols));
  return out;
}

/** Wrap an f32 array as a weight (tests, computed matrices such as MLA's absorbed kv_b halves). */
export function f32Weight(values: Float32Array, rows: number, cols: number): Weight {
  if (values.length !== rows * cols) throw new Error(`f32Weight: ${values.length} values for ${rows}x${cols}`);
  return { format: 'f32', rows, cols, data: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}
