import { registerKernel, type Tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';
import { arg, BLOCK, type CudaBackend, defineCudaModule, gridFor } from '@kvkit/tensor-core/cuda';
import { groupedRows } from '../kernels/grouped-rows.js';
import type {} from '../kernels/lut.js';
import { FLOAT_KIND_HEADER, floatKind, withRowMajor } from './operands.js';
import source from './lut.cu';

export const lutCudaModule = defineCudaModule({ name: 'kvkit-kv-quant-lut', source, headers: FLOAT_KIND_HEADER });

const address = (backend: CudaBackend, t: Tensor | undefined): number => (t ? backend.address(t) : 0);

/** The CUDA implementations of kvQuantizeLut / kvDequantizeLut (src/cuda/lut.cu). */
export function registerLutCudaKernels(): void {
  registerKernel<'kvQuantizeLut', CudaBackend>('kvQuantizeLut', 'cuda', (backend, [x, levels], { bits, groupSize, normalize, paramDType }) => {
    const where = 'kvQuantizeLut';
    const xKind = floatKind(x, where);
    if (paramDType !== 'f16' && paramDType !== 'f32') throw new UnsupportedDTypeError(`${where} (cuda): parameters must be f16 or f32, got ${paramDType}`);
    const { n, lead, rows, groups, rowWords } = groupedRows(x, bits, groupSize);
    const codes = backend.empty([...lead, rowWords], 'u32');
    const minmax = normalize === 'minmax';
    const scale = minmax ? backend.empty([...lead, groups], paramDType) : undefined;
    const zero = minmax ? backend.empty([...lead, groups], paramDType) : undefined;
    if (rows * groups === 0) return { codes, scale, zero };
    withRowMajor(backend, [x, levels], ([input, table]) =>
      backend.launch(lutCudaModule, 'kv_quantize_lut', { grid: gridFor(rows * groups, backend), block: BLOCK }, [
        arg.ptr(backend.address(codes)), arg.ptr(address(backend, scale)), arg.ptr(address(backend, zero)), arg.ptr(address(backend, input)), arg.i32(xKind),
        arg.ptr(address(backend, table)), arg.i64(rows), arg.i64(n), arg.i64(groupSize), arg.i64(rowWords), arg.i32(bits), arg.bool(paramDType === 'f16'),
      ])
    );
    return { codes, scale, zero };
  });

  registerKernel<'kvDequantizeLut', CudaBackend>('kvDequantizeLut', 'cuda', (backend, [codes, levels, scale, zero], { bits, groupSize, length }) => {
    const where = 'kvDequantizeLut';
    const minmax = scale !== undefined && zero !== undefined;
    if (floatKind(levels, where) !== 0) throw new UnsupportedDTypeError(`${where} (cuda): levels must be f32, got ${levels.dtype}`);
    const scaleKind = minmax ? floatKind(scale, where) : 0;
    const zeroKind = minmax ? floatKind(zero, where) : 0;
    const out = backend.empty([...codes.shape.slice(0, -1), length], 'f32');
    if (out.size === 0) return out;
    withRowMajor(backend, [codes, levels, minmax ? scale : undefined, minmax ? zero : undefined], ([words, table, s, z]) =>
      backend.launch(lutCudaModule, 'kv_dequantize_lut', { grid: gridFor(out.size, backend), block: BLOCK }, [
        arg.ptr(backend.address(out)), arg.ptr(address(backend, words)), arg.ptr(address(backend, table)), arg.ptr(address(backend, s)), arg.i32(scaleKind),
        arg.ptr(address(backend, z)), arg.i32(zeroKind), arg.i64(out.size / length), arg.i64(length), arg.i64(groupSize),
        arg.i64(codes.shape[codes.rank - 1]), arg.i32(bits),
      ])
    );
    return out;
  });
}
