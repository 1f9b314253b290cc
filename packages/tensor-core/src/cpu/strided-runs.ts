import type { Shape } from '../shape.js';

/**
 * Walks a strided view run by run in row-major order: `visit(base, at)` once per index over its
 * first `outerAxes` axes, `base` the storage offset of the run's first element and `at` its
 * row-major position (consecutive runs are `runLength` apart). The odometer every strided copy uses.
 */
export function forEachRun(
  shape: Shape,
  strides: readonly number[],
  offset: number,
  outerAxes: number,
  runLength: number,
  size: number,
  visit: (base: number, at: number) => void,
): void {
  const index = new Array<number>(outerAxes).fill(0);
  let base = offset;
  for (let at = 0; at < size; at += runLength) {
    visit(base, at);
    for (let axis = outerAxes - 1; axis >= 0; axis--) {
      index[axis] += 1;
      base += strides[axis];
      if (index[axis] < shape[axis]) break;
      base -= strides[axis] * shape[axis];
      index[axis] = 0;
    }
  }
}
