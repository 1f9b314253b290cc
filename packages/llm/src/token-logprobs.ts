/** A generated token's log-probability under the model, with the most likely alternatives. */
export interface TokenLogprob {
  id: number;
  /** ln p(id) of the model's next-token distribution: log-softmax of the raw logits (before penalties, temperature or truncation). */
  logprob: number;
  /** The `topLogprobs` most likely tokens and their log-probabilities, most likely first (ties: lower id first). */
  top: { id: number; logprob: number }[];
}

/** `id`'s log-probability in softmax(logits), in float64, with the `top` most likely tokens; NaN logits count as impossible. */
export function tokenLogprob(logits: ArrayLike<number>, id: number, top: number): TokenLogprob {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) if (logits[i] === logits[i]) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const logprobOf = (i: number) => (logits[i] === logits[i] ? logits[i] - logZ : -Infinity);
  const best: number[] = [];
  for (let i = 0; i < logits.length && top > 0; i++) {
    if (best.length === top && !(logprobOf(i) > logprobOf(best[top - 1]))) continue;
    let at = best.length < top ? best.length : top - 1;
    best[at] = i;
    // Keep `best` sorted, most likely first: move the new entry up past every less likely one.
    while (at > 0 && logprobOf(best[at - 1]) < logprobOf(i)) {
      best[at] = best[at - 1];
      best[--at] = i;
    }
  }
  return { id, logprob: logprobOf(id), top: best.map((i) => ({ id: i, logprob: logprobOf(i) })) };
}
