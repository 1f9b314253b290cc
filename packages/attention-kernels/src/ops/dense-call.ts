import type { Tensor } from '@kvkit/tensor-core';
import { ensureAttentionKernels } from '../kernels.js';
import type { KernelAttrs, KernelOptions, KeyLogWeightsOption } from './attention-types.js';
import { checkStatisticsFor, denseShapes, keyLogWeightsInput, resolveKernelAttrs, withTemporaries } from './validate.js';

export interface DenseCallOptions extends KernelOptions, KeyLogWeightsOption {
  queryPositions?: Tensor | Int32Array;
  keyPositions?: Tensor | Int32Array;
}

/**
 * The shared part of the dense ops (flash, decode, statistics-only): checks q/k/v, resolves the
 * attributes (plus the op's own `extra`), checks statistics and log weights, fills the default
 * positions (queries at n − m … n − 1, keys at 0 … n − 1) and hands everything to `run`, which
 * dispatches the kernel. Temporaries are disposed afterwards.
 */
export function denseCall<E extends object, T>(
  q: Tensor,
  k: Tensor,
  v: Tensor | undefined,
  options: DenseCallOptions,
  where: string,
  extra: () => E,
  run: (attrs: KernelAttrs & E, queryPositions: Tensor, keyPositions: Tensor, keyLogWeights: Tensor | undefined) => T,
): T {
  const { m, d, n, kvHeads } = denseShapes(q, k, v, where);
  const attrs = { ...resolveKernelAttrs(options, d, where), ...extra() };
  checkStatisticsFor(attrs.statistics, m, where);
  const logWeights = keyLogWeightsInput(options.keyLogWeights, kvHeads, n, where);
  ensureAttentionKernels(q.backend);
  return withTemporaries(q.backend, (temps) => {
    const qPos = temps.positions(options.queryPositions, [m], n - m, where, 'queryPositions');
    const kPos = temps.positions(options.keyPositions, [n], 0, where, 'keyPositions');
    return run(attrs, qPos, kPos, logWeights);
  });
}
