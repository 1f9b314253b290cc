import { InvalidConfigError } from '@kvkit/tensor-core';

export type Pooling = 'avg' | 'max' | 'none';

export function validatePooling(value: string, kernel: number, where: string): Pooling {
  if (value !== 'avg' && value !== 'max' && value !== 'none') throw new InvalidConfigError(`${where}: pooling must be avg, max or none, got ${value}`);
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) throw new InvalidConfigError(`${where}: kernel must be an odd integer >= 1, got ${kernel}`);
  return value;
}

/**
 * 1-D pooling with stride 1 and "same" padding over neighbouring tokens (storage order), as SnapKV
 * smooths its window scores so a kept token brings its neighbours. Average pooling divides by the
 * kernel size (zero padding counted, like PyTorch's avg_pool1d default); max pooling ignores padding.
 */
export function pool1d(values: Float64Array, kernel: number, pooling: Pooling): Float64Array {
  if (pooling === 'none' || kernel === 1) return Float64Array.from(values);
  const n = values.length;
  const half = (kernel - 1) / 2;
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const from = Math.max(0, j - half);
    const to = Math.min(n - 1, j + half);
    if (pooling === 'max') {
      let best = -Infinity;
      for (let i = from; i <= to; i++) best = Math.max(best, values[i]);
      out[j] = best;
    } else {
      let sum = 0;
      for (let i = from; i <= to; i++) sum += values[i];
      out[j] = sum / kernel;
    }
  }
  return out;
}
