import { registerKernel, type Tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';
import { arg, BLOCK, type CudaBackend, defineCudaModule, gridFor, rowMajor } from '@kvkit/tensor-core/cuda';
import { groupedRows } from '../kernels/grouped-rows.js';
import type {} from '../kernels/uniform.js';
import source from './uniform.cu';

export const uniformCudaModule = defineCudaModule({ name: 'kvkit-kv-quant-uniform', source });

/** The CUDA implementations of kvQuantizeUniform / kvDequantizeUniform (src/cuda/uniform.cu). */
export function registerUniformCudaKernels(): void {
  registerKernel<'kvQuantizeUniform', CudaBackend>('kvQuantizeUniform', 'cuda', (backend, [x], { bits, groupSize, symmetric, paramDType }) => {
    const { n, lead, rows, groups, rowWords } = groupedRows(x, bits, groupSize);
    const codes = backend.empty([...lead, rowWords], 'u32');
    const scale = backend.empty([...lead, groups], paramDType);
    const zero = symmetric ? undefined : backend.empty([...lead, groups], paramDType);
    if (rows * groups === 0) return { codes, scale, zero };
    const input = rowMajor(backend, x);
    try {
      backend.launch(uniformCudaModule, `kv_quantize_uniform_${input.dtype}_${paramDType}`, { grid: gridFor(rows * groups, backend), block: BLOCK }, [
        arg.ptr(backend.address(codes)), arg.ptr(backend.address(scale)), arg.ptr(zero ? backend.address(zero) : 0), arg.ptr(backend.address(input)),
        arg.i64(rows), arg.i64(n), arg.i64(groupSize), arg.i64(rowWords), arg.i32(bits), arg.bool(symmetric),
      ]);
    } finally {
      if (input !== x) input.dispose();
    }
    return { codes, scale, zero };
  });

  registerKernel<'kvDequantizeUniform', CudaBackend>('kvDequantizeUniform', 'cuda', (backend, [codes, scale, zero], { bits, groupSize, length }) => {
    if (scale.dtype !== 'f16' && scale.dtype !== 'f32') throw new UnsupportedDTypeError(`kvDequantizeUniform (cuda): scale must be f16 or f32, got ${scale.dtype}`);
    if (zero && zero.dtype !== scale.dtype) throw new UnsupportedDTypeError(`kvDequantizeUniform (cuda): zero (${zero.dtype}) must have the dtype of scale (${scale.dtype})`);
    const out = backend.empty([...codes.shape.slice(0, -1), length], 'f32');
    if (out.size === 0) return out;
    const staged: Tensor[] = [];
    const stage = (t: Tensor): Tensor => {
      const r = rowMajor(backend, t);
      if (r !== t) staged.push(r);
      return r;
    };
    try {
      const words = stage(codes);
      const s = stage(scale);
      const z = zero && stage(zero);
      backend.launch(uniformCudaModule, `kv_dequantize_uniform_${scale.dtype}`, { grid: gridFor(out.size, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(words)), arg.ptr(backend.address(s)), arg.ptr(z ? backend.address(z) : 0),
        arg.i64(out.size / length), arg.i64(length), arg.i64(groupSize), arg.i64(codes.shape[codes.rank - 1]), arg.i32(bits),
      ]);
    } finally {
      for (const t of staged) t.dispose();
    }
    return out;
  });
}
