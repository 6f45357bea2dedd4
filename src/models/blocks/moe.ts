/**
 * Mixture-of-experts block: route each token, run each expert once on the tokens that chose it
 * (so a prefill reuses the expert's weights across its tokens), add shared experts unweighted.
 */
import type { Backend } from '../../backend/backend.js';
import type { RouterSpec } from '../../config/spec.js';
import type { Weight } from '../../tensor/weight.js';
import type { MlpBlock } from './mlp.js';
import { route, type Routing } from './router.js';

export interface MoeWeights {
  router: Weight; // [experts, hidden]
  routerBias?: Float32Array;
  /** DeepSeek e_score_correction_bias: changes which experts are chosen, not their weights. */
  correctionBias?: Float32Array;
  experts: MlpBlock[];
  shared?: MlpBlock;
}

export class MoeBlock implements MlpBlock {
  /** The routing of the last forward, per token (tests and router statistics). */
  lastRouting: Routing[] = [];

  constructor(
    private readonly backend: Backend,
    private readonly w: MoeWeights,
    private readonly router: RouterSpec,
    private readonly topK: number,
    private readonly hidden: number,
  ) {}

  forward(x: Float32Array, out: Float32Array, n: number): void {
    const b = this.backend;
    const { hidden } = this;
    const numExperts = this.w.router.rows;
    const logits = b.alloc(n * numExperts);
    b.matmul(logits, x, this.w.router, n);
    if (this.w.routerBias) b.addBias(logits, this.w.routerBias, n);
    this.lastRouting = [];
    const byExpert = new Map<number, Array<{ token: number; weight: number }>>();
    for (let t = 0; t < n; t++) {
      const r = route(this.router, logits.subarray(t * numExperts, (t + 1) * numExperts), this.topK, this.w.correctionBias);
      this.lastRouting.push(r);
      r.experts.forEach((e, i) => {
        if (!byExpert.has(e)) byExpert.set(e, []);
        byExpert.get(e)!.push({ token: t, weight: r.weights[i]! });
      });
    }
    b.free(logits);

    out.fill(0, 0, n * hidden);
    for (const [e, assigned] of byExpert) {
      const m = assigned.length;
      const xs = b.alloc(m * hidden);
      const ys = b.alloc(m * hidden);
      assigned.forEach(({ token }, i) => xs.set(x.subarray(token * hidden, (token + 1) * hidden), i * hidden));
      this.w.experts[e]!.forward(xs, ys, m);
      assigned.forEach(({ token, weight }, i) => {
        const o = out.subarray(token * hidden, (token + 1) * hidden);
        b.addScaled(o, o, ys.subarray(i * hidden, (i + 1) * hidden), weight, hidden);
      });
      b.free(xs);
      b.free(ys);
    }
    if (this.w.shared) {
      const ys = b.alloc(n * hidden);
      this.w.shared.forward(x, ys, n);
      b.addScaled(out, out, ys, 1, n * hidden);
      b.free(ys);
    }
  }
}
