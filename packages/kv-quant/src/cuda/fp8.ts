import { registerKernel, type Tensor, wordsPerRow } from '@kvkit/tensor-core';
import { arg, BLOCK, type CudaBackend, defineCudaModule, gridFor, rowMajor } from '@kvkit/tensor-core/cuda';
import type {} from '../kernels/fp8.js';
import type { Fp8Format } from '../numeric/fp8.js';
import source from './fp8.cu';

export const fp8CudaModule = defineCudaModule({ name: 'kvkit-kv-quant-fp8', source });

const exponentBits = (format: Fp8Format): number => (format === 'e4m3' ? 4 : 5);

/** Row-major copies of `tensors` for the duration of `body`. */
function staged<T>(backend: CudaBackend, tensors: Tensor[], body: (views: Tensor[]) => T): T {
  const views = tensors.map((t) => rowMajor(backend, t));
  try {
    return body(views);
  } finally {
    for (const v of views) v.dispose();
  }
}

/** The CUDA implementations of kvQuantizeFp8 / kvDequantizeFp8 (src/cuda/fp8.cu). */
export function registerFp8CudaKernels(): void {
  registerKernel<'kvQuantizeFp8', CudaBackend>('kvQuantizeFp8', 'cuda', (backend, [x, scale], { format }) => {
    const n = x.shape[x.rank - 1];
    const rowWords = wordsPerRow(n, 8);
    const out = backend.empty([...x.shape.slice(0, -1), rowWords], 'u32');
    if (out.size === 0) return out;
    const rows = x.size / n;
    staged(backend, [x, scale], ([input, s]) =>
      backend.launch(fp8CudaModule, `kv_quantize_fp8_${input.dtype}`, { grid: gridFor(out.size, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(input)), arg.ptr(backend.address(s)),
        arg.i64(rows), arg.i64(n), arg.i64(rowWords), arg.i64(rows / s.size), arg.i32(exponentBits(format)),
      ])
    );
    return out;
  });

  registerKernel<'kvDequantizeFp8', CudaBackend>('kvDequantizeFp8', 'cuda', (backend, [words, scale], { format, length }) => {
    const out = backend.empty([...words.shape.slice(0, -1), length], 'f32');
    if (out.size === 0) return out;
    const rows = out.size / length;
    staged(backend, [words, scale], ([w, s]) =>
      backend.launch(fp8CudaModule, 'kv_dequantize_fp8', { grid: gridFor(out.size, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(w)), arg.ptr(backend.address(s)),
        arg.i64(rows), arg.i64(length), arg.i64(words.shape[words.rank - 1]), arg.i64(rows / s.size), arg.i32(exponentBits(format)),
      ])
    );
    return out;
  });
}
