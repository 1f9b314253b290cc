import { ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { formatShape, normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertDTypeIn, assertIndicesInRange, assertSameDType } from './validate.js';

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    gather: { inputs: [Tensor, Tensor]; attrs: { axis: number }; output: Tensor };
    scatter: { inputs: [Tensor, Tensor, Tensor]; attrs: { axis: number; mode: 'replace' | 'add' }; output: Tensor };
  }
}

/**
 * Selects slices of `x` along `axis` (index-select): the result has `indices.length` entries on
 * that axis. `indices` is 1-D i32/u32.
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  const a = normalizeAxis(axis, x.rank, 'gather');
  assertDTypeIn(indices, ['i32', 'u32'], 'gather', 'indices');
  if (indices.rank !== 1) throw new ShapeMismatchError(`gather: indices must be 1-D, got ${formatShape(indices.shape)}`);
  assertIndicesInRange(indices, x.shape[a], 'gather');
  return runKernel('gather', [x, indices], { axis: a });
}

/**
 * A copy of `x` with the slices at `indices` along `axis` replaced by (or, mode 'add', increased by)
 * the matching slices of `updates`. With 'replace', a repeated index keeps the last update.
 */
export function scatter(x: Tensor, indices: Tensor, updates: Tensor, axis = 0, mode: 'replace' | 'add' = 'replace'): Tensor {
  const a = normalizeAxis(axis, x.rank, 'scatter');
  assertDTypeIn(indices, ['i32', 'u32'], 'scatter', 'indices');
  assertSameDType(x, updates, 'scatter');
  if (indices.rank !== 1) throw new ShapeMismatchError(`scatter: indices must be 1-D, got ${formatShape(indices.shape)}`);
  const expected = x.shape.map((d, i) => (i === a ? indices.shape[0] : d));
  if (updates.rank !== x.rank || updates.shape.some((d, i) => d !== expected[i])) {
    throw new ShapeMismatchError(`scatter: updates must have shape ${formatShape(expected)}, got ${formatShape(updates.shape)}`);
  }
  assertIndicesInRange(indices, x.shape[a], 'scatter');
  return runKernel('scatter', [x, indices, updates], { axis: a, mode });
}
