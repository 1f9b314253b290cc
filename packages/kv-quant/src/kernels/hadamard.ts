import { type CpuBackend, registerKernel, runKernel, type Tensor } from '@kvkit/tensor-core';
import { assertHadamardBlock, fwhtInPlace } from '../numeric/hadamard.js';
import { registerHadamardCudaKernels } from '../cuda/hadamard.js';
import { registerHadamardWebGpuKernels } from '../webgpu/hadamard.js';
import { lazyRegistration, output, readFloats, rowsOf } from './host.js';

declare module '@kvkit/tensor-core' {
  interface KernelSignatures {
    kvHadamard: { inputs: [Tensor]; attrs: { blockSize: number }; output: Tensor };
  }
}

export const ensureHadamardKernels = lazyRegistration(() => {
  registerKernel<'kvHadamard', CpuBackend>('kvHadamard', 'cpu', (backend, [x], { blockSize }) => {
    const values = Float64Array.from(readFloats(x, 'kvHadamard'));
    const { rows, length } = rowsOf(x);
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < length; b += blockSize) fwhtInPlace(values, r * length + b, blockSize);
    }
    return output(backend, values, x.shape, 'f32');
  });
  // GPU implementations, bit-exact with the CPU kernel: picked when the tensors live on that backend.
  registerHadamardCudaKernels();
  registerHadamardWebGpuKernels();
});

/**
 * The normalized Walsh–Hadamard transform (H/√B, orthogonal and its own inverse) of every block
 * of `blockSize` consecutive values along the last axis; f32 result.
 */
export function hadamard(x: Tensor, blockSize: number): Tensor {
  assertHadamardBlock(blockSize, x.shape[x.rank - 1], 'hadamard');
  ensureHadamardKernels();
  return runKernel('kvHadamard', [x], { blockSize });
}
