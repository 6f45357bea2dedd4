/** Gated MLP (SwiGLU, or GPT-OSS's clamped variant), used for dense layers, experts and shared experts. */
import type { Backend } from '../../backend/backend.js';
import type { Activation } from '../../config/spec.js';
import type { Weight } from '../../tensor/weight.js';
import { project } from './projections.js';

export interface MlpBlock {
  /** out[n, hidden] = mlp(x[n, hidden]) */
  forward(x: Float32Array, out: Float32Array, n: number): void;
}

export interface GatedMlpWeights {
  gate: Weight; // [inter, hidden]
  up: Weight; // [inter, hidden]
  /** gate and up stacked [2 inter, hidden] (their data are views of it): one matvec per decode step. */
  gateUp?: Weight;
  down: Weight; // [hidden, inter]
  gateBias?: Float32Array;
  upBias?: Float32Array;
  downBias?: Float32Array;
}

export class GatedMlp implements MlpBlock {
  constructor(
    private readonly backend: Backend,
    private readonly w: GatedMlpWeights,
    private readonly activation: Activation,
  ) {}

  forward(x: Float32Array, out: Float32Array, n: number): void {
    const b = this.backend;
    const inter = this.w.gate.rows;
    const { outs: [gate, up], buffers } = project(b, x, n, [this.w.gate, this.w.up], this.w.gateUp);
    if (this.w.gateBias) b.addBias(gate, this.w.gateBias, n);
    if (this.w.upBias) b.addBias(up, this.w.upBias, n);
    if (this.activation.kind === 'swiglu') b.swiglu(gate, gate, up, n * inter);
    else b.swigluClamped(gate, gate, up, n * inter, this.activation.limit, this.activation.alpha);
    b.matmul(out, gate, this.w.down, n);
    if (this.w.downBias) b.addBias(out, this.w.downBias, n);
    for (const buf of buffers) b.free(buf);
  }
}
