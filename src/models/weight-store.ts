/**
 * Reads a model's tensors from a TensorSource into backend memory, in their checkpoint format.
 * Matrices become Weights (FP8 ones paired with their `_scale_inv`); vectors (norms, biases,
 * sinks) are small and decoded to f32. Tracks which tensors were used, so loaders can report the rest.
 */
import type { Backend } from '../backend/backend.js';
import type { QuantSpec } from '../config/spec.js';
import { OwlError } from '../errors.js';
import { bf16ToF32, f16ToF32, type FileDtype } from '../tensor/dtype.js';
import { dequantAll, type GgmlBlockFormat, type Weight, type WeightFormat } from '../tensor/weight.js';
import type { TensorSource } from '../weights/source.js';

export class WeightError extends OwlError {
  override name = 'WeightError';
}

const MATRIX_FORMAT: Partial<Record<FileDtype, WeightFormat>> = { F32: 'f32', F16: 'f16', BF16: 'bf16', F8_E4M3: 'fp8_e4m3' };

export class WeightStore {
  readonly used = new Set<string>();

  constructor(
    readonly source: TensorSource,
    readonly backend: Backend,
    readonly quant: QuantSpec,
    /** For error messages: the model folder. */
    readonly where: string,
  ) {}

  has(name: string): boolean {
    return this.source.has(name);
  }

  fail(name: string, message: string): never {
    throw new WeightError(`${this.where}: tensor "${name}": ${message}`);
  }

  private info(name: string) {
    if (!this.source.has(name)) this.fail(name, 'missing from the checkpoint');
    this.used.add(name);
    return this.source.info(name);
  }

  /** Raw bytes of a tensor, read into backend weight memory (aligned for its element size); `format`: packed ggml blocks. */
  bytes(name: string): { data: Uint8Array; dtype: FileDtype; shape: number[]; format?: GgmlBlockFormat } {
    const info = this.info(name);
    const data = this.source.read(name, this.backend.allocWeightBytes(info.byteLength));
    return { data, dtype: info.dtype, shape: info.shape, format: info.format };
  }

  /** Raw bytes in ordinary (temporary) memory, for a tensor the loader rearranges into backend memory itself. */
  scratch(name: string): { data: Uint8Array; dtype: FileDtype; shape: number[]; format?: GgmlBlockFormat } {
    const info = this.info(name);
    return { data: this.source.read(name), dtype: info.dtype, shape: info.shape, format: info.format };
  }

  /** A 2-D weight [rows, cols] in nn.Linear layout. */
  matrix(name: string, rows: number, cols: number): Weight {
    return this.readMatrix(name, rows, cols, (byteLength) => this.backend.allocWeightBytes(byteLength));
  }

  /** matrix(), its bytes read into `dest(byteLength)` once the shape is checked. */
  private readMatrix(name: string, rows: number, cols: number, dest: (byteLength: number) => Uint8Array): Weight {
    const { shape, byteLength, dtype, format } = this.info(name);
    if (shape.length !== 2 || shape[0] !== rows || shape[1] !== cols)
      this.fail(name, `expected shape [${rows}, ${cols}], found [${shape.join(', ')}]`);
    return this.asWeight(name, this.source.read(name, dest(byteLength)), dtype, rows, cols, format);
  }

  /**
   * Matrices [rows[i], cols] applied to the same input (q/k/v, gate/up), read back to back into one
   * allocation: `parts` are views of `fused` [Σ rows, cols], so a decode step runs one matvec for all
   * of them at no extra memory. `fused` is absent where the parts cannot share one weight (different
   * formats, or FP8 scale blocks that straddle two parts); the parts are then read on their own.
   */
  stack(names: string[], rows: number[], cols: number): { parts: Weight[]; fused?: Weight } {
    const infos = names.map((n) => this.info(n));
    const first = infos[0]!;
    const fp8 = first.dtype === 'F8_E4M3';
    const block = this.quant.kind === 'fp8' ? this.quant.blockSize : null;
    const same = infos.every((i) => i.dtype === first.dtype && i.format === first.format);
    const aligned = !fp8 || (block !== null && rows.every((r) => r % block[0] === 0));
    if (!same || !aligned || names.length < 2) return { parts: names.map((n, i) => this.matrix(n, rows[i]!, cols)) };
    const all = this.backend.allocWeightBytes(infos.reduce((a, i) => a + i.byteLength, 0));
    let at = 0;
    const next = (byteLength: number) => all.subarray(at, (at += byteLength));
    const parts = names.map((name, i) => this.readMatrix(name, rows[i]!, cols, next));
    const fused: Weight = { format: parts[0]!.format, rows: rows.reduce((a, b) => a + b, 0), cols, data: all };
    if (fp8) {
      fused.block = block!;
      fused.scales = this.place(concatF32(parts.map((p) => p.scales as Float32Array)));
    }
    return { parts, fused: this.backend.prepareWeight(fused) };
  }

  /**
   * Wrap bytes of a known dtype as a Weight, attaching FP8 block scales from `${name}_scale_inv`;
   * `packed`: the bytes are ggml blocks of that format (TensorInfo.format), kept as they are.
   */
  asWeight(name: string, data: Uint8Array, dtype: FileDtype, rows: number, cols: number, packed?: GgmlBlockFormat): Weight {
    const format = packed ?? MATRIX_FORMAT[dtype];
    if (!format) this.fail(name, `dtype ${dtype} cannot be used as a weight matrix`);
    const w: Weight = { format, rows, cols, data };
    if (format === 'fp8_e4m3') {
      if (this.quant.kind !== 'fp8') this.fail(name, 'is float8 but config.json has no fp8 quantization_config');
      const block = this.quant.blockSize;
      const scaleName = `${name}_scale_inv`;
      const expected = [Math.ceil(rows / block[0]), Math.ceil(cols / block[1])];
      w.scales = this.vector(scaleName, expected[0]! * expected[1]!, expected);
      w.block = block;
    }
    return this.backend.prepareWeight(w);
  }

  /**
   * A small tensor decoded to f32, checked to hold `length` values (and `shape` when given), in
   * backend memory like the matrices: a kernel reading a norm weight then needs no staging copy.
   */
  vector(name: string, length: number, shape?: number[]): Float32Array {
    return this.place(this.values(name, length, shape));
  }

  /** vector() in ordinary memory, for a loader that rearranges the values before use (then place()s the result). */
  values(name: string, length: number, shape?: number[]): Float32Array {
    const { data, dtype, shape: found, format } = this.bytes(name);
    if (shape && found.join(',') !== shape.join(','))
      this.fail(name, `expected shape [${shape.join(', ')}], found [${found.join(', ')}]`);
    const count = found.reduce((a, b) => a * b, 1);
    // A packed vector is whole blocks: decode it as one row.
    const out = format
      ? dequantAll({ format, rows: 1, cols: count, data })
      : decodeFloats(data, dtype, () => this.fail(name, `dtype ${dtype} is not a float type`));
    if (out.length !== length) this.fail(name, `expected ${length} values, found ${out.length}`);
    return out;
  }

  /** A copy of `values` in backend weight memory. */
  place(values: Float32Array): Float32Array {
    const bytes = this.backend.allocWeightBytes(values.byteLength);
    const placed = new Float32Array(bytes.buffer, bytes.byteOffset, values.length);
    placed.set(values);
    return placed;
  }

  /** Tensors in the source that no loader asked for. */
  unused(): string[] {
    return [...this.source.tensors.keys()].filter((n) => !this.used.has(n));
  }
}

function concatF32(arrays: Float32Array[]): Float32Array {
  const out = new Float32Array(arrays.reduce((a, x) => a + x.length, 0));
  let at = 0;
  for (const x of arrays) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

/** Float bytes of any supported float dtype -> new f32 array. */
export function decodeFloats(data: Uint8Array, dtype: FileDtype, onBadType: () => never): Float32Array {
  switch (dtype) {
    case 'F32':
      return new Float32Array(data.slice().buffer);
    case 'BF16':
    case 'F16': {
      const u16 = new Uint16Array(data.slice().buffer);
      const dec = dtype === 'BF16' ? bf16ToF32 : f16ToF32;
      // A plain loop: TypedArray.from with a map function builds a JS list first (fails past ~134M values).
      const out = new Float32Array(u16.length);
      for (let i = 0; i < u16.length; i++) out[i] = dec(u16[i]!);
      return out;
    }
    case 'F64':
      return Float32Array.from(new Float64Array(data.slice().buffer));
    default:
      return onBadType();
  }
}
