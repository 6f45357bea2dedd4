/**
 * The reference backend: plain TypeScript, short and obviously right. Accumulates in f64 where it
 * is free to, so it is at least as accurate as any fast kernel tested against it.
 */
import { ropeAngles, type AttentionArgs, type Backend, type RopeArgs } from '../backend.js';
import { dequantRow, type Weight } from '../../tensor/weight.js';

export class RefBackend implements Backend {
  readonly name = 'ref';

  alloc(length: number): Float32Array {
    return new Float32Array(length);
  }

  free(_buf: Float32Array): void {}

  allocWeightBytes(byteLength: number): Uint8Array {
    return new Uint8Array(byteLength);
  }

  prepareWeight(w: Weight): Weight {
    return w;
  }

  matmul(out: Float32Array, x: Float32Array, w: Weight, n: number): void {
    const { rows, cols } = w;
    const row = new Float32Array(cols);
    for (let r = 0; r < rows; r++) {
      dequantRow(w, r, row);
      for (let i = 0; i < n; i++) {
        const xo = i * cols;
        let acc = 0;
        for (let c = 0; c < cols; c++) acc += x[xo + c]! * row[c]!;
        out[i * rows + r] = acc;
      }
    }
  }

  embed(out: Float32Array, table: Weight, ids: Int32Array): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= table.rows) throw new RangeError(`token id ${id} outside the vocabulary (${table.rows})`);
      dequantRow(table, id, out.subarray(i * table.cols, (i + 1) * table.cols));
    }
  }

  rmsNorm(out: Float32Array, x: Float32Array, gamma: Float32Array, n: number, dim: number, eps: number): void {
    for (let i = 0; i < n; i++) {
      const o = i * dim;
      let ss = 0;
      for (let d = 0; d < dim; d++) ss += x[o + d]! * x[o + d]!;
      const inv = 1 / Math.sqrt(ss / dim + eps);
      // transformers: weight * (x * rsqrt) with the product rounded to f32 before the weight.
      for (let d = 0; d < dim; d++) out[o + d] = gamma[d]! * Math.fround(x[o + d]! * inv);
    }
  }

  rope({ x, n, heads, stride, offset, positions, table }: RopeArgs): void {
    const half = table.dim / 2;
    const cs = ropeAngles(table, positions, n);
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < half; f++) {
        const cos = cs[(i * half + f) * 2]!;
        const sin = cs[(i * half + f) * 2 + 1]!;
        for (let h = 0; h < heads; h++) {
          const base = (i * heads + h) * stride + offset;
          const [a, b] = table.layout === 'half' ? [base + f, base + f + half] : [base + 2 * f, base + 2 * f + 1];
          const x0 = x[a]!;
          const x1 = x[b]!;
          x[a] = x0 * cos - x1 * sin;
          x[b] = x1 * cos + x0 * sin;
        }
      }
    }
  }

  attention(args: AttentionArgs): void {
    const { q, k, v, out, nq, nk, numHeads, numKvHeads, dk, dv, scale, qPos, kPos, window, sinks } = args;
    const group = numHeads / numKvHeads;
    const kStride = args.kStride ?? numKvHeads * dk;
    const vStride = args.vStride ?? numKvHeads * dv;
    const kHead = args.kHeadStride ?? dk;
    const vHead = args.vHeadStride ?? dv;
    const scores = new Float64Array(nk);
    for (let i = 0; i < nq; i++) {
      for (let h = 0; h < numHeads; h++) {
        const kvh = Math.floor(h / group);
        const qo = (i * numHeads + h) * dk;
        let max = sinks ? sinks[h]! : -Infinity;
        for (let j = 0; j < nk; j++) {
          const visible = kPos[j]! <= qPos[i]! && (window === null || qPos[i]! - kPos[j]! < window);
          if (!visible) {
            scores[j] = -Infinity;
            continue;
          }
          const ko = j * kStride + kvh * kHead;
          let s = 0;
          for (let d = 0; d < dk; d++) s += q[qo + d]! * k[ko + d]!;
          scores[j] = s * scale;
          if (scores[j]! > max) max = scores[j]!;
        }
        let denom = sinks ? Math.exp(sinks[h]! - max) : 0;
        for (let j = 0; j < nk; j++) {
          const e = scores[j] === -Infinity ? 0 : Math.exp(scores[j]! - max);
          scores[j] = e;
          denom += e;
        }
        const oo = (i * numHeads + h) * dv;
        for (let d = 0; d < dv; d++) {
          let acc = 0;
          for (let j = 0; j < nk; j++) if (scores[j]! !== 0) acc += scores[j]! * v[j * vStride + kvh * vHead + d]!;
          out[oo + d] = denom > 0 ? acc / denom : 0;
        }
      }
    }
  }

  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array, len: number): void {
    for (let i = 0; i < len; i++) {
      const g = gate[i]!;
      out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
    }
  }

  swigluClamped(out: Float32Array, gate: Float32Array, up: Float32Array, len: number, limit: number, alpha: number): void {
    for (let i = 0; i < len; i++) {
      const g = Math.min(gate[i]!, limit);
      const u = Math.min(Math.max(up[i]!, -limit), limit);
      out[i] = (u + 1) * g * (1 / (1 + Math.exp(-alpha * g)));
    }
  }

  addBias(x: Float32Array, bias: Float32Array, n: number): void {
    const dim = bias.length;
    for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) x[i * dim + d] += bias[d]!;
  }

  addScaled(out: Float32Array, a: Float32Array, b: Float32Array, s: number, len: number): void {
    for (let i = 0; i < len; i++) out[i] = a[i]! + s * b[i]!;
  }

  softmax(x: Float32Array, n: number, dim: number): void {
    for (let i = 0; i < n; i++) {
      const o = i * dim;
      let max = -Infinity;
      for (let d = 0; d < dim; d++) max = Math.max(max, x[o + d]!);
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += Math.exp(x[o + d]! - max);
      for (let d = 0; d < dim; d++) x[o + d] = Math.exp(x[o + d]! - max) / sum;
    }
  }
}
