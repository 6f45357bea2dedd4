/** Several weights applied to the same input (q/k/v, gate/up): the shared step of attention and MLPs. */
import type { Backend } from '../../backend/backend.js';
import type { Weight } from '../../tensor/weight.js';

export interface Projections {
  /** x · parts[i]ᵀ, [n, parts[i].rows] each. */
  outs: Float32Array[];
  /** What to hand back to backend.free when the outputs are no longer needed. */
  buffers: Float32Array[];
}

/**
 * One matmul per part; for a single token with `stacked` (the parts stacked by row, their data
 * views of it: WeightStore.stack), one matvec into one buffer instead: an op less per part, and one
 * longer stream of weights.
 */
export function project(b: Backend, x: Float32Array, n: number, parts: Weight[], stacked?: Weight): Projections {
  if (n === 1 && stacked) {
    const all = b.alloc(stacked.rows);
    b.matmul(all, x, stacked, 1);
    let at = 0;
    return { outs: parts.map((w) => all.subarray(at, (at += w.rows))), buffers: [all] };
  }
  const outs = parts.map((w) => b.alloc(n * w.rows));
  parts.forEach((w, i) => b.matmul(outs[i]!, x, w, n));
  return { outs, buffers: outs };
}
