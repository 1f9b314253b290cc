import { bf16ArrayToF32, f16ArrayToF32 } from '../../float16.js';
import { registerKernel } from '../../kernel-registry.js';
import type { CpuBackend } from '../cpu-backend.js';
import { outputBuffer, readIndices, readNumbers, readRaw, wrapOutput } from '../host-data.js';
import { type FloatArray, gemmNT } from './gemm.js';
import { type HalfRows, simdGemmNT, simdGemvEach } from './simd-gemm.js';

/** The rows that use each matrix, in ascending order. */
function rowsByMatrix(indices: Int32Array | Uint32Array, count: number): number[][] {
  const groups = Array.from({ length: count }, () => [] as number[]);
  for (let row = 0; row < indices.length; row++) groups[indices[row]].push(row);
  return groups;
}

/**
 * indexedMatmul on the host: the rows are grouped by the matrix they use, and each group is one
 * product with that matrix read in place (its offset in the stack), half-precision bits included,
 * by the kernels `matmul` uses, so each row gets matmul's values. A mixture-of-experts prefill thus
 * reads each chosen expert once for all its tokens; a decode step's products (one row each) run side
 * by side on a WeightPool's threads.
 */
export function registerIndexedMatmulKernel(): void {
  registerKernel<'indexedMatmul', CpuBackend>('indexedMatmul', 'cpu', (backend, [x, weights, indices], { rows, n, k, count, accumulate }) => {
    const dtype = x.dtype === weights.dtype ? x.dtype : 'f32';
    const out = outputBuffer(dtype, rows * n) as FloatArray;
    const xs = readNumbers(x) as FloatArray;
    // A half-precision stack as its bits, read in place; any other as numbers.
    const half: HalfRows | undefined = weights.dtype === 'f16' || weights.dtype === 'bf16' ? { bits: readRaw(weights) as Uint16Array, dtype: weights.dtype } : undefined;
    const stack = half ? undefined : (readNumbers(weights) as FloatArray);
    const matrixSize = n * k;
    const groups = rowsByMatrix(readIndices(indices), count);
    // A decode step (one row per chosen matrix): the products side by side on a pool's threads.
    const operand = half ?? (stack instanceof Float32Array ? stack : undefined);
    if (operand && xs instanceof Float32Array && out instanceof Float32Array && groups.every((g) => g.length <= 1)) {
      const products = groups.flatMap((g, matrix) => g.map((row) => ({ aOff: row * k, bOff: matrix * matrixSize, cOff: row * n })));
      if (simdGemvEach(xs, operand, n, k, products, out, accumulate)) return wrapOutput(backend, [rows, n], dtype, out);
    }
    groups.forEach((group, matrix) => {
      if (group.length === 0) return;
      const m = group.length;
      const a = xs instanceof Float64Array ? new Float64Array(m * k) : new Float32Array(m * k);
      group.forEach((row, i) => a.set(xs.subarray(row * k, row * k + k), i * k));
      const c = out instanceof Float32Array ? new Float32Array(m * n) : new Float64Array(m * n);
      const at = matrix * matrixSize;
      if (stack) gemmNT(a, 0, stack, at, c, 0, m, n, k, accumulate);
      else if (!(a instanceof Float32Array && c instanceof Float32Array && simdGemmNT(a, 0, half!, at, c, 0, m, n, k, accumulate))) {
        const bits = half!.bits.subarray(at, at + matrixSize);
        gemmNT(a, 0, half!.dtype === 'f16' ? f16ArrayToF32(bits) : bf16ArrayToF32(bits), 0, c, 0, m, n, k, accumulate);
      }
      group.forEach((row, i) => out.set(c.subarray(i * n, i * n + n), row * n));
    });
    return wrapOutput(backend, [rows, n], dtype, out);
  });
}
