/** Likelihood metrics over logits. */

/** log-softmax of one row at index `target`, computed stably in f64. */
export function logProb(row: ArrayLike<number>, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let z = 0;
  for (let i = 0; i < row.length; i++) z += Math.exp(row[i]! - max);
  return row[target]! - max - Math.log(z);
}

/** Mean over t of -log p(ids[t+1]) from logits [n, vocab] (transformers' causal-LM loss). */
export function meanNextTokenNll(logits: Float32Array, ids: ArrayLike<number>, vocab: number): number {
  let sum = 0;
  for (let t = 0; t + 1 < ids.length; t++) sum -= logProb(logits.subarray(t * vocab, (t + 1) * vocab), ids[t + 1]!);
  return sum / (ids.length - 1);
}

/** Index of the largest value (first on ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}
