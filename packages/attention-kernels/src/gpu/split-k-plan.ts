import type { DType, Tensor } from '@kvkit/tensor-core';
import type { KernelResult } from '../ops/attention-types.js';

/** What both GPU backends' split-K launches start from: the outputs, the row count and the partitions. */
export interface SplitKPlan {
  /** [qHeads, m, dv] in q's dtype. */
  output: Tensor;
  /** f32 [qHeads, m] when asked for. */
  lse: Tensor | undefined;
  /** Query rows: qHeads · m. */
  rows: number;
  /** Key partitions (0 when there are no keys). */
  parts: number;
  /** Nothing to launch (no rows or no value channels). */
  empty: boolean;
  result(): KernelResult;
}

export function planSplitK(
  backend: { empty(shape: readonly number[], dtype: DType): Tensor },
  q: Tensor,
  { n, dv, partition }: { n: number; dv: number; partition: number },
  withLse: boolean,
): SplitKPlan {
  const [qHeads, m] = q.shape;
  const output = backend.empty([qHeads, m, dv], q.dtype);
  const lse = withLse ? backend.empty([qHeads, m], 'f32') : undefined;
  const rows = qHeads * m;
  return {
    output,
    lse,
    rows,
    parts: n === 0 ? 0 : Math.ceil(n / partition),
    empty: rows === 0 || dv === 0,
    result: () => (lse ? { output, lse } : { output }),
  };
}
