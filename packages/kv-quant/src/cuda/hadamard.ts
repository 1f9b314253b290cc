import { registerKernel } from '@kvkit/tensor-core';
import { arg, BLOCK, type CudaBackend, defineCudaModule, gridFor, rowMajor } from '@kvkit/tensor-core/cuda';
import type {} from '../kernels/hadamard.js';
import source from './hadamard.cu';

export const hadamardCudaModule = defineCudaModule({ name: 'kvkit-kv-quant-hadamard', source });

/** The CUDA implementation of kvHadamard (src/cuda/hadamard.cu). */
export function registerHadamardCudaKernels(): void {
  registerKernel<'kvHadamard', CudaBackend>('kvHadamard', 'cuda', (backend, [x], { blockSize }) => {
    const out = backend.empty(x.shape, 'f32');
    if (out.size === 0) return out;
    const input = rowMajor(backend, x);
    // The float64 butterflies' scratch: two u32 words per value (a fresh allocation, 8-byte aligned).
    const scratch = backend.empty([2 * x.size], 'u32');
    const blocks = x.size / blockSize;
    try {
      backend.launch(hadamardCudaModule, `kv_hadamard_${input.dtype}`, { grid: gridFor(blocks, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(scratch)), arg.ptr(backend.address(input)),
        arg.i64(blocks), arg.i64(blockSize), arg.f64(1 / Math.sqrt(blockSize)),
      ]);
    } finally {
      scratch.dispose();
      if (input !== x) input.dispose();
    }
    return out;
  });
}
