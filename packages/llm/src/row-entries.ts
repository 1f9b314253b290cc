import { add, arange, reshape, type Tensor, type TensorScope } from '@kvkit/tensor-core';

/**
 * Where each chosen column of each row sits in a row-major [rows, width] tensor flattened to
 * [rows · width]: row · width + column, for columns [rows, k] (i32; topk's indices), as [rows · k].
 * How a router gathers or replaces one entry per (row, expert) on the device.
 */
export function flatRowEntries(columns: Tensor, width: number, scope: TensorScope): Tensor {
  const [rows, k] = columns.shape;
  const rowStarts = scope.track(reshape(scope.track(arange(0, rows * width, width, { backend: columns.backend })), [rows, 1]));
  return scope.track(reshape(scope.track(add(columns, rowStarts)), [rows * k]));
}
