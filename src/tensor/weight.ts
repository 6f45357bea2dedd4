/**
 * A weight matrix kept in its checkpoint format. Logical layout is nn.Linear's [rows = out, cols = in]:
 * y = x · Wᵀ. Kernels decode elements on the fly; nothing is upcast at load.
 */
import { E2M1_TABLE, E4M3_TABLE, bf16ToF32, e8m0ToF32, f16ToF32 } from './dtype.js';

export type WeightFormat = 'f32' | 'f16' | 'bf16' | 'fp8_e4m3' | 'mxfp4';

export interface Weight {
  format: WeightFormat;
  rows: number;
  cols: number;
  /**
   * Packed elements, row-major. f32/f16/bf16: aligned to the element size (loaders copy otherwise).
   * fp8_e4m3: one byte per element. mxfp4: 16 bytes per 32 elements, element 2j in the low nibble.
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
  }
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
