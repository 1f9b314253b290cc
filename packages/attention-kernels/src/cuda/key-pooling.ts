import type { Tensor } from '@kvkit/tensor-core';
import { arg, BLOCK, type CudaBackend, defineCudaModule, gridFor, rowMajor } from '@kvkit/tensor-core/cuda';
import source from './key-pooling.cu';

export const keyPoolingModule = defineCudaModule({ name: 'kvkit-attention-key-pooling', source });

/** `poolKeyScores` on CUDA: one thread per output element (key-pooling.cu). */
export function poolKeyScoresCuda(backend: CudaBackend, scores: Tensor, { kernelSize, mode }: { kernelSize: number; mode: 'max' | 'avg' }): Tensor {
  const n = scores.shape[scores.rank - 1] ?? 0;
  const out = backend.empty(scores.shape, scores.dtype);
  if (scores.size === 0) return out;
  const x = rowMajor(backend, scores);
  try {
    backend.launch(keyPoolingModule, `kv_pool_key_scores_${scores.dtype}`, { grid: gridFor(scores.size, backend), block: BLOCK }, [
      arg.ptr(backend.address(out)), arg.ptr(backend.address(x)), arg.i64(scores.size / n), arg.i32(n), arg.i32((kernelSize - 1) / 2), arg.bool(mode === 'avg'),
    ]);
  } finally {
    x.dispose();
  }
  return out;
}
