import type { ReduceOp } from '../../ops/reduce.js';
import { sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import type { CudaBackend } from '../cuda-backend.js';
import { arg, BLOCK, defineCudaModule, gridFor, registerCudaKernel } from '../kernel-api.js';
import { collapseViews, layoutArg, type StridedView } from '../layout-arg.js';
import source from './reduce.cu';
import { rowMajor } from './layout.js';

export const reduceModule = defineCudaModule({ name: 'kvkit-reduce', source });

const REDUCE_CODES: Record<ReduceOp, number> = { sum: 0, mean: 1, max: 2, min: 3 };
/** Rows up to this padded length sort in shared memory (reduce.cu's topk_shared arrays). */
const SHARED_SORT_LIMIT = 2048;

function reducedShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** The sub-view of `x` over `axes` (its own offset 0; the kept part carries x's offset). */
function subView(x: Tensor, axes: readonly number[], offset: number): StridedView {
  const shape = axes.map((a) => x.shape[a]);
  const [view] = collapseViews(shape, [{ strides: axes.map((a) => x.strides[a]), offset }]).views;
  return view;
}

/** Block-per-output when the innermost (smallest-stride) axis is reduced, else thread-per-output. */
function rowsStrategy(x: Tensor, reducedAxes: readonly number[], nOut: number, backend: CudaBackend): boolean {
  if (nOut < backend.device.multiprocessors * 4) return true;
  const innermost = [...x.shape.keys()].filter((a) => x.shape[a] > 1).sort((a, b) => x.strides[a] - x.strides[b])[0];
  return innermost !== undefined && reducedAxes.includes(innermost);
}

function launchReduce(backend: CudaBackend, x: Tensor, out: Tensor, axes: readonly number[], nOut: number, op: ReduceOp): void {
  const keptAxes = [...x.shape.keys()].filter((a) => !axes.includes(a));
  const kept = subView(x, keptAxes, x.offset);
  const reduced = subView(x, axes, 0);
  const nRed = sizeOf(axes.map((a) => x.shape[a]));
  const rows = rowsStrategy(x, axes, nOut, backend);
  const name = `${rows ? 'kv_reduce_rows_' : 'kv_reduce_columns_'}${x.dtype}`;
  backend.launch(reduceModule, name, { grid: rows ? Math.min(nOut, 65535) : gridFor(nOut, backend), block: BLOCK }, [
    arg.ptr(backend.address(out)), arg.ptr(backend.baseAddress(x)), layoutArg(kept), layoutArg(reduced), arg.i64(nOut), arg.i64(nRed), arg.i32(REDUCE_CODES[op]),
  ]);
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function registerCudaReduceKernels(): void {
  registerCudaKernel('reduce', (backend, [x], { op, axes, keepDims }) => {
    const shape = reducedShape(x.shape, axes, keepDims);
    const out = backend.empty(shape, x.dtype);
    const nOut = sizeOf(shape);
    if (nOut > 0) launchReduce(backend, x, out, axes, nOut, op);
    return out;
  });

  registerCudaKernel('argReduce', (backend, [x], { op, axis, keepDims }) => {
    const shape = reducedShape(x.shape, [axis], keepDims);
    const out = backend.empty(shape, 'i32');
    const nOut = sizeOf(shape);
    if (nOut === 0) return out;
    const keptAxes = [...x.shape.keys()].filter((a) => a !== axis);
    const kept = subView(x, keptAxes, x.offset);
    const rows = rowsStrategy(x, [axis], nOut, backend);
    backend.launch(reduceModule, `${rows ? 'kv_arg_rows_' : 'kv_arg_columns_'}${x.dtype}`, { grid: rows ? Math.min(nOut, 65535) : gridFor(nOut, backend), block: BLOCK }, [
      arg.ptr(backend.address(out)), arg.ptr(backend.baseAddress(x)), layoutArg(kept), arg.i64(x.strides[axis]), arg.i64(x.shape[axis]), arg.i64(nOut), arg.i32(op === 'argmax' ? 1 : 0),
    ]);
    return out;
  });

  registerCudaKernel('topk', (backend, [input], { k, largest }): [Tensor, Tensor] => {
    const n = input.shape[input.rank - 1];
    const shape = [...input.shape.slice(0, -1), k];
    const values = backend.empty(shape, input.dtype);
    const indices = backend.empty(shape, 'i32');
    const rows = n === 0 ? 0 : input.size / n;
    if (rows === 0 || k === 0) return [values, indices];
    const x = rowMajor(backend, input);
    try {
      const P = nextPowerOfTwo(n);
      const common = [arg.ptr(backend.address(values)), arg.ptr(backend.address(indices)), arg.ptr(backend.address(x))];
      if (P <= SHARED_SORT_LIMIT) {
        backend.launch(reduceModule, `kv_topk_shared_${x.dtype}`, { grid: rows, block: Math.min(1024, Math.max(32, P / 2)) }, [
          ...common, arg.i32(n), arg.i32(P), arg.i32(k), arg.bool(largest),
        ]);
        return [values, indices];
      }
      // Long rows: the bitonic network runs over global scratch, one launch per step.
      const keyStore = backend.empty([rows, P, 2], 'f32'); // f64 sort keys: two f32 slots each
      const order = backend.empty([rows, P], 'i32');
      try {
        const total = rows * P;
        const scratch = [arg.ptr(backend.address(keyStore)), arg.ptr(backend.address(order))];
        backend.launch(reduceModule, `kv_topk_load_${x.dtype}`, { grid: gridFor(total, backend), block: BLOCK }, [
          ...scratch, arg.ptr(backend.address(x)), arg.i64(rows), arg.i32(n), arg.i32(P),
        ]);
        for (let size = 2; size <= P; size <<= 1) {
          for (let stride = size >> 1; stride > 0; stride >>= 1) {
            backend.launch(reduceModule, 'kv_topk_step', { grid: gridFor(total, backend), block: BLOCK }, [
              ...scratch, arg.i64(rows), arg.i32(n), arg.i32(P), arg.i32(size), arg.i32(stride), arg.bool(largest),
            ]);
          }
        }
        backend.launch(reduceModule, `kv_topk_store_${x.dtype}`, { grid: gridFor(rows * k, backend), block: BLOCK }, [
          ...common, arg.ptr(backend.address(order)), arg.i64(rows), arg.i32(n), arg.i32(P), arg.i32(k),
        ]);
      } finally {
        keyStore.dispose();
        order.dispose();
      }
      return [values, indices];
    } finally {
      x.dispose();
    }
  });
}
