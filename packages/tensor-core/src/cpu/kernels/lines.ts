import { sizeOf } from '../../shape.js';

/**
 * A tensor seen as [outer, length, inner] around one axis: element (o, i, j) sits at
 * o·length·inner + i·inner + j in row-major data. Kernels that work along one axis (softmax,
 * argmax, per-axis reductions) walk "lines" of `length` elements with stride `inner`.
 */
export interface Lines {
  outer: number;
  length: number;
  inner: number;
}

export function linesAlong(shape: readonly number[], axis: number): Lines {
  return { outer: sizeOf(shape.slice(0, axis)), length: shape[axis], inner: sizeOf(shape.slice(axis + 1)) };
}

/** Calls `visit(start, stride)` for every line: its first element's index and the step between elements. */
export function forEachLine({ outer, length, inner }: Lines, visit: (start: number, stride: number, lineIndex: number) => void): void {
  let line = 0;
  for (let o = 0; o < outer; o++) {
    const base = o * length * inner;
    for (let j = 0; j < inner; j++) visit(base + j, inner, line++);
  }
}
