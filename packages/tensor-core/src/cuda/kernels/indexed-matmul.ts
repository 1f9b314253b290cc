import { bytesPerElement } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import type { CudaBackend } from '../cuda-backend.js';
import { arg, BLOCK, defineCudaModule, gridFor, registerCudaKernel } from '../kernel-api.js';
import source from './indexed-matmul.cu';

export const indexedMatmulModule = defineCudaModule({ name: 'kvkit-indexed-matmul', source });

/** Output columns per block: one warp each (IM_COLUMNS in indexed-matmul.cu). */
const COLUMNS = BLOCK / 32;

/**
 * Whether x's and the stack's rows can be read 16 bytes at a time: contiguous along k, and every row
 * (and matrix) start 16-byte aligned. Axes of size 1 are never stepped along, so their strides (a
 * decode step's single row of x, a view's) do not count.
 */
function vectorRows(backend: CudaBackend, x: Tensor, weights: Tensor, k: number): boolean {
  const perVector = 16 / bytesPerElement(x.dtype);
  const aligned = (t: Tensor, rowAxes: readonly number[]) =>
    backend.address(t) % 16 === 0 && rowAxes.every((axis) => t.shape[axis] === 1 || t.strides[axis] % perVector === 0);
  return k % perVector === 0 && x.strides[1] === 1 && weights.strides[2] === 1 && aligned(x, [0]) && aligned(weights, [0, 1]);
}

export function registerCudaIndexedMatmulKernel(): void {
  registerCudaKernel('indexedMatmul', (backend, [x, weights, indices], { rows, n, k, count }) => {
    if (k === 0) return backend.zeros([rows, n], x.dtype); // empty sums
    const out = backend.empty([rows, n], x.dtype);
    if (out.size === 0) return out;
    const variant = vectorRows(backend, x, weights, k) ? 'v' : 's';
    const tiles = Math.ceil(n / COLUMNS);
    backend.launch(indexedMatmulModule, `kv_indexed_matmul_${variant}_${x.dtype}`, { grid: gridFor(rows * tiles * BLOCK, backend), block: BLOCK }, [
      arg.ptr(backend.address(out)), arg.ptr(backend.address(x)), arg.ptr(backend.address(weights)), arg.ptr(backend.address(indices)),
      arg.bool(indices.dtype === 'u32'), arg.i64(rows), arg.i32(n), arg.i32(k), arg.i64(count),
      arg.i64(x.strides[0]), arg.i64(x.strides[1]), arg.i64(weights.strides[0]), arg.i64(weights.strides[1]), arg.i64(weights.strides[2]),
      arg.i64(indices.strides[0]),
    ]);
    return out;
  });
}
