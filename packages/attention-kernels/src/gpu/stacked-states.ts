import { concat, ones, reshape, cast, type Tensor } from '@kvkit/tensor-core';

/**
 * Partial attention states [output0, lse0, output1, lse1, …] (normalized outputs [..., dv], f32 lse
 * [...]) as the split-K merge kernels read partials: unnormalized outputs f32 [parts, rows, dv] and
 * (max, Σ exp) f32 [parts, rows, 2]. A normalized output with its lse is exactly a partial whose
 * max is the lse and whose sum is 1. Built with tensor-core ops on the inputs' backend.
 */
export function stackStates(inputs: readonly Tensor[]): { acc: Tensor; stat: Tensor; parts: number; rows: number; dv: number } {
  const first = inputs[0];
  const dv = first.shape[first.rank - 1] ?? 1;
  const rows = dv === 0 ? first.size : first.size / dv;
  const parts = inputs.length / 2;
  const made: Tensor[] = [];
  const keep = (t: Tensor): Tensor => {
    made.push(t);
    return t;
  };
  try {
    const outputs: Tensor[] = [];
    const stats: Tensor[] = [];
    const one = keep(ones([1, rows, 1], { backend: first.backend }));
    for (let p = 0; p < parts; p++) {
      const o = inputs[2 * p];
      outputs.push(keep(reshape(o.dtype === 'f32' ? o : keep(cast(o, 'f32')), [1, rows, dv])));
      stats.push(keep(concat([keep(reshape(inputs[2 * p + 1], [1, rows, 1])), one], 2)));
    }
    return { acc: concat(outputs, 0), stat: concat(stats, 0), parts, rows, dv };
  } finally {
    for (const t of made) t.dispose();
  }
}
