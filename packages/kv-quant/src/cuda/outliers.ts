import { registerKernel, UnsupportedDTypeError } from '@kvkit/tensor-core';
import { arg, BLOCK, type CudaBackend, defineCudaModule, gridFor } from '@kvkit/tensor-core/cuda';
import { emptyOutlierSplit } from '../kernels/outlier-outputs.js';
import type {} from '../kernels/outliers.js';
import { FLOAT_KIND_HEADER, floatKind, withRowMajor } from './operands.js';
import source from './outliers.cu';

export const outliersCudaModule = defineCudaModule({ name: 'kvkit-kv-quant-outliers', source, headers: FLOAT_KIND_HEADER });

function indexBytes(dtype: string, where: string): number {
  if (dtype !== 'u8' && dtype !== 'i32') throw new UnsupportedDTypeError(`${where} (cuda): indices must be u8 or i32, got ${dtype}`);
  return dtype === 'u8' ? 1 : 4;
}

/** The CUDA implementations of kvSplitOutliers / kvMergeOutliers (src/cuda/outliers.cu). */
export function registerOutlierCudaKernels(): void {
  registerKernel<'kvSplitOutliers', CudaBackend>('kvSplitOutliers', 'cuda', (backend, [select, source], { count, center, valueDType, indexDType }) => {
    const where = 'kvSplitOutliers';
    const selKind = floatKind(select, where);
    const srcKind = floatKind(source, where);
    const { split, rows, d } = emptyOutlierSplit(backend, select, { count, valueDType, indexDType }, `${where} (cuda)`);
    const { indices, values, inliers } = split;
    if (rows === 0) return split;
    const bytes = indexDType === 'u8' ? 1 : 4;
    withRowMajor(backend, [select, source], ([sel, src]) =>
      backend.launch(outliersCudaModule, 'kv_split_outliers', { grid: gridFor(rows, backend), block: BLOCK }, [
        arg.ptr(backend.address(indices)), arg.i32(bytes), arg.ptr(backend.address(values)), arg.bool(valueDType === 'f16'), arg.ptr(backend.address(inliers)),
        arg.ptr(backend.address(sel!)), arg.i32(selKind), arg.ptr(backend.address(src!)), arg.i32(srcKind),
        arg.i64(rows), arg.i64(d), arg.i64(count), arg.bool(center === 'mean'),
      ])
    );
    return split;
  });

  registerKernel<'kvMergeOutliers', CudaBackend>('kvMergeOutliers', 'cuda', (backend, [dense, indices, values]) => {
    const where = 'kvMergeOutliers';
    const denseKind = floatKind(dense, where);
    const valuesKind = floatKind(values, where);
    const bytes = indexBytes(indices.dtype, where);
    const d = dense.shape[dense.rank - 1];
    const out = backend.empty(dense.shape, 'f32');
    if (out.size === 0) return out;
    withRowMajor(backend, [dense, indices, values], ([x, idx, v]) =>
      backend.launch(outliersCudaModule, 'kv_merge_outliers', { grid: gridFor(out.size, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(x!)), arg.i32(denseKind), arg.ptr(backend.address(idx!)), arg.i32(bytes),
        arg.ptr(backend.address(v!)), arg.i32(valuesKind), arg.i64(out.size / d), arg.i64(d), arg.i64(indices.shape[indices.rank - 1]),
      ])
    );
    return out;
  });
}
