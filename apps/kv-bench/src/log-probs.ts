/** Next-token distributions on the host, in float64: log-softmax, NLL and KL between two of them. */

/** log Σ exp(logits), with the max factored out. */
export function logSumExp(logits: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/** log-softmax of `logits` as f32 (enough for KL at the precision the table prints). */
export function logSoftmax(logits: ArrayLike<number>): Float32Array {
  const lse = logSumExp(logits);
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

/** Negative log-likelihood (nats) of `target` under `logits`. */
export function nll(logits: ArrayLike<number>, target: number): number {
  return logSumExp(logits) - logits[target];
}

/** KL(P ‖ Q) in nats, from log-probabilities. */
export function klDivergence(logP: ArrayLike<number>, logQ: ArrayLike<number>): number {
  let kl = 0;
  for (let i = 0; i < logP.length; i++) {
    const p = Math.exp(logP[i]);
    if (p > 0) kl += p * (logP[i] - logQ[i]);
  }
  return Math.max(0, kl);
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
