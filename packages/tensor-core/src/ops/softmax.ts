import { runKernel } from '../kernel-registry.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertFloat, assertMinRank } from './validate.js';

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    softmax: { inputs: [Tensor]; attrs: { axis: number; log: boolean }; output: Tensor };
  }
}

/** Numerically stable softmax along `axis` (max subtracted first). A row of all -inf gives NaN, as in PyTorch. */
export function softmax(x: Tensor, axis = -1): Tensor {
  assertFloat(x, 'softmax');
  assertMinRank(x, 1, 'softmax');
  return runKernel('softmax', [x], { axis: normalizeAxis(axis, x.rank, 'softmax'), log: false });
}

/** Numerically stable log-softmax along `axis` (log-sum-exp with the max factored out). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  assertFloat(x, 'logSoftmax');
  assertMinRank(x, 1, 'logSoftmax');
  return runKernel('softmax', [x], { axis: normalizeAxis(axis, x.rank, 'logSoftmax'), log: true });
}
