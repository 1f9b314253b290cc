import { InvalidConfigError } from '@kvkit/tensor-core';

/** How the query heads of a group combine into one score per key of their shared KV head. */
export type GqaReduce = 'mean' | 'max';

export function validateGqa(value: string, where: string): GqaReduce {
  if (value !== 'mean' && value !== 'max') throw new InvalidConfigError(`${where}: gqa must be mean or max, got ${value}`);
  return value;
}

/**
 * Reduces `rows` consecutive [group, n] blocks of per-query-head values to one value per key
 * ([rows, n]): the mean or the max over the group. Statistics stay per query head in the kernels so
 * this choice is the scorer's (KVCache-Factory's `--gqa_score_agg`).
 */
export function reduceGroup(values: Float32Array, group: number, n: number, mode: GqaReduce, rows = 1): Float64Array {
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let acc = mode === 'max' ? -Infinity : 0;
      for (let g = 0; g < group; g++) {
        const value = values[(g * rows + r) * n + j];
        acc = mode === 'max' ? Math.max(acc, value) : acc + value;
      }
      out[r * n + j] = mode === 'max' ? acc : acc / group;
    }
  }
  return out;
}
