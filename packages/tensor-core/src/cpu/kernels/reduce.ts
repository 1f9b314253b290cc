import { registerKernel } from '../../kernel-registry.js';
import type { ReduceOp } from '../../ops/reduce.js';
import { contiguousStrides, sizeOf } from '../../shape.js';
import type { CpuBackend } from '../cpu-backend.js';
import { gatherStrided, outputBuffer, readNumbers, wrapOutput } from '../host-data.js';
import { forEachLine, linesAlong } from './lines.js';

function reduceRow(op: ReduceOp, data: ArrayLike<number>, start: number, length: number): number {
  if (op === 'sum' || op === 'mean') {
    let s = 0;
    for (let i = 0; i < length; i++) s += data[start + i];
    return op === 'mean' ? s / length : s;
  }
  let m = data[start];
  for (let i = 0; i < length; i++) {
    const v = data[start + i];
    if (v !== v) return NaN;
    if (op === 'max' ? v > m : v < m) m = v;
  }
  return m;
}

function reducedShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

export function registerReduceKernels(): void {
  registerKernel<'reduce', CpuBackend>('reduce', 'cpu', (backend, [x], { op, axes, keepDims }) => {
    const values = readNumbers(x);
    const kept = [...x.shape.keys()].filter((a) => !axes.includes(a));
    const order = [...kept, ...axes];
    // Move the reduced axes last, so every output element reduces one contiguous row.
    const strides = contiguousStrides(x.shape);
    const permuted = gatherStrided(
      values,
      order.map((a) => x.shape[a]),
      order.map((a) => strides[a]),
      0,
      new Float64Array(values.length),
    );
    const rowLength = sizeOf(axes.map((a) => x.shape[a]));
    const outSize = sizeOf(kept.map((a) => x.shape[a]));
    const out = outputBuffer(x.dtype, outSize);
    for (let r = 0; r < outSize; r++) out[r] = reduceRow(op, permuted, r * rowLength, rowLength);
    return wrapOutput(backend, reducedShape(x.shape, axes, keepDims), x.dtype, out);
  });

  registerKernel<'argReduce', CpuBackend>('argReduce', 'cpu', (backend, [x], { op, axis, keepDims }) => {
    const values = readNumbers(x);
    const lines = linesAlong(x.shape, axis);
    const out = new Int32Array(lines.outer * lines.inner);
    const better = op === 'argmax' ? (v: number, m: number) => v > m : (v: number, m: number) => v < m;
    forEachLine(lines, (start, stride, line) => {
      let best = 0;
      let m = values[start];
      for (let i = 0; i < lines.length && m === m; i++) {
        const v = values[start + i * stride];
        if (v !== v || better(v, m)) {
          m = v;
          best = i;
        }
      }
      out[line] = best;
    });
    return wrapOutput(backend, reducedShape(x.shape, [axis], keepDims), 'i32', out);
  });

  registerKernel<'topk', CpuBackend>('topk', 'cpu', (backend, [x], { k, largest }) => {
    const values = readNumbers(x);
    const n = x.shape[x.rank - 1];
    const rows = n === 0 ? 0 : values.length / n;
    const outValues = outputBuffer(x.dtype, rows * k);
    const outIndices = new Int32Array(rows * k);
    const order = new Array<number>(n);
    // NaN ranks above every number, +Infinity included (PyTorch's order): first when largest, last when smallest.
    const key = (v: number): number => (v !== v ? Infinity : v);
    const nanFirst = largest ? -1 : 1;
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      for (let i = 0; i < n; i++) order[i] = i;
      order.sort((i, j) => {
        const a = values[base + i];
        const b = values[base + j];
        const ka = key(a);
        const kb = key(b);
        if (ka === kb) return a !== a && b === b ? nanFirst : a === a && b !== b ? -nanFirst : i - j;
        return largest ? kb - ka : ka - kb;
      });
      for (let i = 0; i < k; i++) {
        outValues[r * k + i] = values[base + order[i]];
        outIndices[r * k + i] = order[i];
      }
    }
    const shape = [...x.shape.slice(0, -1), k];
    return [wrapOutput(backend, shape, x.dtype, outValues), wrapOutput(backend, shape, 'i32', outIndices)];
  });
}
