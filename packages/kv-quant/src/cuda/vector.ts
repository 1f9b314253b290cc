import { registerKernel, type Tensor, wordsPerRow } from '@kvkit/tensor-core';
import { arg, BLOCK, type CudaBackend, defineCudaModule, gridFor, rowMajor } from '@kvkit/tensor-core/cuda';
import type {} from '../kernels/vector.js';
import source from './vector.cu';

export const vectorCudaModule = defineCudaModule({ name: 'kvkit-kv-quant-vector', source });

/** Row-major copies of `tensors` for the duration of `body`. */
function staged<T>(backend: CudaBackend, tensors: Tensor[], body: (views: Tensor[]) => T): T {
  const views = tensors.map((t) => rowMajor(backend, t));
  try {
    return body(views);
  } finally {
    views.forEach((v, i) => v !== tensors[i] && v.dispose());
  }
}

/** The CUDA implementations of kvQuantizeVector / kvDequantizeVector (src/cuda/vector.cu). */
export function registerVectorCudaKernels(): void {
  registerKernel<'kvQuantizeVector', CudaBackend>('kvQuantizeVector', 'cuda', (backend, [x, codebooks], { channels, bits }) => {
    const [h, n, d] = x.shape;
    const groups = d / channels;
    const rowWords = wordsPerRow(groups, bits);
    const out = backend.empty([h, n, rowWords], 'u32');
    if (out.size === 0) return out;
    staged(backend, [x, codebooks], ([input, books]) =>
      backend.launch(vectorCudaModule, `kv_quantize_vector_${input.dtype}`, { grid: gridFor(out.size, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(input)), arg.ptr(backend.address(books)),
        arg.i64(h * n), arg.i64(n), arg.i64(groups), arg.i32(channels), arg.i32(bits), arg.i64(rowWords),
      ])
    );
    return out;
  });

  registerKernel<'kvDequantizeVector', CudaBackend>('kvDequantizeVector', 'cuda', (backend, [codes, codebooks], { channels, bits }) => {
    const [h, groups] = codebooks.shape;
    const n = codes.shape[1];
    const out = backend.empty([h, n, groups * channels], 'f32');
    if (out.size === 0) return out;
    staged(backend, [codes, codebooks], ([words, books]) =>
      backend.launch(vectorCudaModule, 'kv_dequantize_vector', { grid: gridFor(out.size, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(words)), arg.ptr(backend.address(books)),
        arg.i64(h * n), arg.i64(n), arg.i64(groups), arg.i32(channels), arg.i32(bits), arg.i64(codes.shape[2]),
      ])
    );
    return out;
  });
}
