import { registerKernel } from '../../kernel-registry.js';
import { broadcastStrides, contiguousStrides, sizeOf } from '../../shape.js';
import type { CpuBackend } from '../cpu-backend.js';
import type { Tensor } from '../../tensor.js';
import { outputBuffer, readNumbers, readRaw, wrapOutput } from '../host-data.js';
import { type FloatArray, gemmNN, gemmNT, transposeMatrix } from './gemm.js';
import { type ProductOperand, simdGemmNT } from './simd-gemm.js';

/** Element offsets of each broadcast batch entry into an operand with batch shape `shape`. */
function batchOffsets(shape: readonly number[], batchShape: readonly number[], matrixSize: number): number[] {
  const strides = broadcastStrides(shape, contiguousStrides(shape).map((s) => s * matrixSize), batchShape);
  const count = sizeOf(batchShape);
  const offsets = new Array<number>(count);
  const index = new Array<number>(batchShape.length).fill(0);
  for (let b = 0; b < count; b++) {
    let off = 0;
    for (let i = 0; i < batchShape.length; i++) off += index[i] * strides[i];
    offsets[b] = off;
    for (let axis = batchShape.length - 1; axis >= 0; axis--) {
      if (++index[axis] < batchShape[axis]) break;
      index[axis] = 0;
    }
  }
  return offsets;
}

/** A half-precision operand of a mixed product as the SIMD kernels take it (its bits, read in place where contiguous). */
function halfOperand(t: Tensor): ProductOperand {
  return { bits: readRaw(t) as Uint16Array, dtype: t.dtype as 'f16' | 'bf16' };
}

export function registerMatmulKernel(): void {
  registerKernel<'matmul', CpuBackend>('matmul', 'cpu', (backend, [a, b], { transposeA, transposeB, batchShape, m, n, k, accumulate }) => {
    // f32 beside f16/bf16 (half-precision weights): an f32 product of the half operand's exact values.
    const dtype = a.dtype === b.dtype ? a.dtype : 'f32';
    // f32 sums land in f32 (then rounded once to f16/bf16): the kernels keep f32 sums only there.
    const length = sizeOf(batchShape) * m * n;
    const out = (accumulate === 'f32' ? new Float32Array(length) : outputBuffer(dtype, length)) as FloatArray;
    const aOffsets = batchOffsets(a.shape.slice(0, -2), batchShape, m * k);
    const bOffsets = batchOffsets(b.shape.slice(0, -2), batchShape, k * n);
    // A mixed A·Bᵀ goes to the SIMD kernels with the half operand's bits (a WeightPool's read in
    // place); where they do not take it, both operands are read as f32 below, as for one dtype.
    let batch = 0;
    if (dtype !== a.dtype || dtype !== b.dtype) {
      if (transposeB && !transposeA) {
        const aOp = a.dtype === dtype ? (readNumbers(a) as Float32Array) : halfOperand(a);
        const bOp = b.dtype === dtype ? (readNumbers(b) as Float32Array) : halfOperand(b);
        while (batch < aOffsets.length && simdGemmNT(aOp, aOffsets[batch], bOp, bOffsets[batch], out, batch * m * n, m, n, k, accumulate)) batch++;
      }
      if (batch === aOffsets.length) return wrapOutput(backend, [...batchShape, m, n], dtype, out);
    }
    const av = readNumbers(a) as FloatArray;
    const bv = readNumbers(b) as FloatArray;
    for (; batch < aOffsets.length; batch++) {
      // Bring A to [m, k]; B stays in whichever layout makes the inner loop contiguous.
      let aData: FloatArray = av;
      let aOff = aOffsets[batch];
      if (transposeA) {
        aData = transposeMatrix(av, aOff, k, m);
        aOff = 0;
      }
      const cOff = batch * m * n;
      if (transposeB) gemmNT(aData, aOff, bv, bOffsets[batch], out, cOff, m, n, k, accumulate);
      // With several rows of A, transposing B once (k·n copies) buys the faster dot-product kernel;
      // f32 sums have only the dot-product order.
      else if (m >= 8 || accumulate === 'f32') gemmNT(aData, aOff, transposeMatrix(bv, bOffsets[batch], k, n), 0, out, cOff, m, n, k, accumulate);
      else gemmNN(aData, aOff, bv, bOffsets[batch], out, cOff, m, n, k);
    }
    return wrapOutput(backend, [...batchShape, m, n], dtype, out);
  });
}
