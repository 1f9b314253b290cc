import { max, minimum, mul, relu, reshape, slice, sub, sum, type Tensor, type TensorScope, topk } from '@kvkit/tensor-core';
import type { RoutingGroups } from './moe-config.js';

/** Far below any score: a left-out expert's choice value, so topk never picks it while a kept expert remains. */
const LEFT_OUT = 1e30;

/**
 * DeepSeek's group-limited choice on the device: `choice` [rows, experts] (f32) with the experts
 * outside each row's `kept` best groups lowered by LEFT_OUT, the others exactly as they were. A
 * group scores its best value (V2) or its two best summed (V3); the kept groups are those scoring
 * at least the kept-th best, so a group tied with it is kept too (topk would keep the lower index).
 * The step relu(threshold − score) → {0, 1} multiplies by 2¹⁵⁰ in two factors f32 can hold (any
 * positive difference reaches 1; a backend flushing subnormals treats a gap below 2⁻¹²⁶ as a tie).
 */
export function keepBestGroups(choice: Tensor, groups: RoutingGroups, scope: TensorScope): Tensor {
  const t = <T extends Tensor>(x: T): T => scope.track(x);
  const [rows, experts] = choice.shape;
  const grouped = t(reshape(choice, [rows, groups.count, experts / groups.count]));
  let groupScores: Tensor;
  if (groups.score === 'max') {
    groupScores = t(max(grouped, { axes: [-1] }));
  } else {
    const best = topk(grouped, 2);
    t(best.indices);
    groupScores = t(sum(t(best.values), { axes: [-1] }));
  }
  const kept = topk(groupScores, groups.kept);
  t(kept.indices);
  // topk sorts: the kept-th best group score is its last column.
  const threshold = t(slice(t(kept.values), [0, groups.kept - 1], [rows, groups.kept]));
  const leftOut = t(minimum(t(mul(t(mul(t(relu(t(sub(threshold, groupScores)))), 2 ** 75)), 2 ** 75)), 1));
  const lowered = t(sub(grouped, t(mul(t(reshape(leftOut, [rows, groups.count, 1])), LEFT_OUT))));
  return t(reshape(lowered, [rows, experts]));
}
