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

/**
 * The trailing axes that are laid out row-major with unit stride form one contiguous run: returns
 * how many leading axes remain to walk and the run's length (1 when the last axis is strided).
 */
export function unitStrideRun(shape: Shape, strides: readonly number[]): { outerAxes: number; run: number } {
  let axis = shape.length;
  let run = 1;
  while (axis > 0 && (shape[axis - 1] === 1 || strides[axis - 1] === run)) run *= shape[--axis];
  return { outerAxes: axis, run };
}

/** Runs shorter than this are copied element by element (a subarray costs more than the loop). */
const MIN_BLOCK_RUN = 16;

type Indexed = { length: number; [i: number]: number };

/**
 * Copies a strided view's elements to or from row-major order: with `gather`, `view[base…] →
 * rowMajor[at…]`, else the reverse. Contiguous runs of typed arrays move with `set` (a block copy);
 * other runs element by element.
 */
export function copyStrided(view: Indexed, rowMajor: Indexed, shape: Shape, strides: readonly number[], offset: number, gather: boolean): void {
  const n = rowMajor.length;
  if (n === 0) return;
  const rank = shape.length;
  if (rank === 0) {
    if (gather) rowMajor[0] = view[offset];
    else view[offset] = rowMajor[0];
    return;
  }
  const { outerAxes, run } = unitStrideRun(shape, strides);
  if (run >= MIN_BLOCK_RUN && ArrayBuffer.isView(view) && ArrayBuffer.isView(rowMajor)) {
    const v = view as unknown as Float64Array;
    const r = rowMajor as unknown as Float64Array;
    forEachRun(shape, strides, offset, outerAxes, run, n, gather ? (base, at) => r.set(v.subarray(base, base + run), at) : (base, at) => v.set(r.subarray(at, at + run), base));
    return;
  }
  const last = rank - 1;
  const inner = shape[last];
  const step = strides[last];
  forEachRun(shape, strides, offset, last, inner, n, gather ? (base, o) => {
    for (let i = 0, p = base; i < inner; i++, p += step) rowMajor[o + i] = view[p];
  } : (base, o) => {
    for (let i = 0, p = base; i < inner; i++, p += step) view[p] = rowMajor[o + i];
  });
}
