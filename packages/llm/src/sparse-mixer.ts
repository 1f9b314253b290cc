import { concat, exp, full, mul, neg, reciprocal, relu, reshape, scatter, slice, sub, sum, type Tensor, type TensorScope, topk } from '@kvkit/tensor-core';
import { flatRowEntries } from './row-entries.js';

/** Far enough below every kept logit that exp() of a dropped one is exactly 0 in f32. */
const DROPPED = 1e30;

/**
 * Phi-3.5-MoE's SparseMixer routing at inference (transformers' `sparsemixer`, training off) on
 * router logits [rows, experts] (f32): the top expert, weighed by its probability in a softmax over
 * the logits that stay near the top one — s is dropped where (max − s) / max(|s|, max) > 2·jitter —
 * then the best of the others, weighed by its own softmax against the second max with the same
 * rule. Two experts a row ([rows · 2]) and their weights ([rows, 2], f32, not renormalized), on the
 * logits' backend: nothing is read back.
 *
 * For 2·jitter < 1 the rule is a threshold on s: it stays where s ≥ T(max), T(m) = m(1 − 2·jitter)
 * for m > 0 and m / (1 − 2·jitter) otherwise. A dropped logit takes a penalty of DROPPED × its
 * distance below T, exactly 0 for the kept ones, so its exp() underflows to 0.
 */
export function sparseMixerRoute(logits: Tensor, jitter: number, scope: TensorScope): { chosen: Tensor; experts: Tensor } {
  const [rows, experts] = logits.shape;
  const t = <T extends Tensor>(x: T): T => scope.track(x);
  const keep = 1 - 2 * jitter;
  const top = topk(logits, 2);
  t(top.values);
  t(top.indices);
  const column = (x: Tensor, c: number) => t(slice(x, [0, c], [rows, c + 1]));
  // 1 / Σ_j e^(s_j − m) over the logits s_j kept against the row max m: the top one's probability.
  const weight = (scores: Tensor, m: Tensor) => {
    const threshold = t(sub(t(mul(t(relu(m)), keep)), t(mul(t(relu(t(neg(m)))), 1 / keep))));
    const penalty = t(mul(t(relu(t(sub(threshold, scores)))), DROPPED));
    return t(reciprocal(t(sum(t(exp(t(sub(t(sub(scores, m)), penalty)))), { axes: [-1], keepDims: true }))));
  };
  const first = weight(logits, column(top.values, 0));
  // The first expert out (−∞) before the second pick: its entry of the flattened logits.
  const firstAt = flatRowEntries(column(top.indices, 0), experts, scope);
  const others = t(reshape(t(scatter(t(reshape(logits, [rows * experts])), firstAt, t(full([rows], -Infinity, { dtype: 'f32', backend: logits.backend })), 0)), [rows, experts]));
  const second = weight(others, column(top.values, 1));
  return { chosen: t(concat([first, second], 1)), experts: t(reshape(top.indices, [rows * 2])) };
}
