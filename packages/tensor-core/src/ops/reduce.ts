import { InvalidConfigError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertFloat, assertMinRank } from './validate.js';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    reduce: { inputs: [Tensor]; attrs: { op: ReduceOp; axes: number[]; keepDims: boolean }; output: Tensor };
    argReduce: { inputs: [Tensor]; attrs: { op: 'argmax' | 'argmin'; axis: number; keepDims: boolean }; output: Tensor };
    topk: { inputs: [Tensor]; attrs: { k: number; largest: boolean }; output: [Tensor, Tensor] };
  }
}

export interface ReduceOptions {
  /** Axes to reduce (negative allowed); default: all. */
  axes?: number | readonly number[];
  keepDims?: boolean;
}

function resolveAxes(x: Tensor, axes: ReduceOptions['axes'], where: string): number[] {
  if (axes === undefined) return [...x.shape.keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const resolved = [...new Set(list.map((a) => normalizeAxis(a, x.rank, where)))].sort((a, b) => a - b);
  return resolved;
}

/**
 * Reduces over `axes`. Sums accumulate in float64 on the CPU; max/min propagate NaN (like NumPy);
 * mean of an empty axis is NaN and max/min of an empty axis is an error.
 */
export function reduce(op: ReduceOp, x: Tensor, options: ReduceOptions = {}): Tensor {
  if (op === 'mean') assertFloat(x, 'mean');
  const axes = resolveAxes(x, options.axes, op);
  if ((op === 'max' || op === 'min') && axes.some((a) => x.shape[a] === 0)) {
    throw new InvalidConfigError(`${op}: cannot reduce an empty axis`, { shape: x.shape, axes });
  }
  return runKernel('reduce', [x], { op, axes, keepDims: options.keepDims ?? false });
}

export const sum = (x: Tensor, options?: ReduceOptions): Tensor => reduce('sum', x, options);
export const mean = (x: Tensor, options?: ReduceOptions): Tensor => reduce('mean', x, options);
export const max = (x: Tensor, options?: ReduceOptions): Tensor => reduce('max', x, options);
export const min = (x: Tensor, options?: ReduceOptions): Tensor => reduce('min', x, options);

function argReduce(op: 'argmax' | 'argmin', x: Tensor, axis: number, keepDims: boolean): Tensor {
  assertMinRank(x, 1, op);
  const a = normalizeAxis(axis, x.rank, op);
  if (x.shape[a] === 0) throw new InvalidConfigError(`${op}: cannot reduce an empty axis`, { shape: x.shape });
  return runKernel('argReduce', [x], { op, axis: a, keepDims });
}

/** Index (i32) of the largest value along `axis`; the first one on ties; NaN counts as largest. */
export const argmax = (x: Tensor, axis = -1, keepDims = false): Tensor => argReduce('argmax', x, axis, keepDims);
/** Index (i32) of the smallest value along `axis`; the first one on ties; NaN counts as smallest. */
export const argmin = (x: Tensor, axis = -1, keepDims = false): Tensor => argReduce('argmin', x, axis, keepDims);

/**
 * The `k` largest (or smallest) values along the last axis, sorted, with their i32 indices.
 * Ties keep the lower index first.
 */
export function topk(x: Tensor, k: number, options: { largest?: boolean } = {}): { values: Tensor; indices: Tensor } {
  assertMinRank(x, 1, 'topk');
  const n = x.shape[x.rank - 1];
  if (!Number.isInteger(k) || k < 0 || k > n) throw new InvalidConfigError(`topk: k=${k} must be an integer in [0, ${n}]`, { k, n });
  const [values, indices] = runKernel('topk', [x], { k, largest: options.largest ?? true });
  return { values, indices };
}
