import {
  type CpuBackend,
  InvalidConfigError,
  packCodes,
  registerKernel,
  runKernel,
  ShapeMismatchError,
  type Tensor,
  unpackCodes,
  wordsPerRow,
} from '@kvkit/tensor-core';
import { registerFp8CudaKernels } from '../cuda/fp8.js';
import { registerFp8WebGpuKernels } from '../webgpu/fp8.js';
import { decodeFp8, encodeFp8, FP8_FORMATS, type Fp8Format } from '../numeric/fp8.js';
import { lazyRegistration, output, readFloats, readWords, rowsOf } from './host.js';

/**
 * Scaled FP8: code = fp8(x / scale), x̂ = value(code) · scale, with one f32 scale per slice of the
 * first axis (per head) or one for the whole tensor. Codes are 8-bit values in tensor-core's packed
 * layout (4 per u32 word).
 */
export interface Fp8Attrs {
  format: Fp8Format;
}

declare module '@kvkit/tensor-core' {
  interface KernelSignatures {
    kvQuantizeFp8: { inputs: [Tensor, Tensor]; attrs: Fp8Attrs; output: Tensor };
    kvDequantizeFp8: { inputs: [Tensor, Tensor]; attrs: Fp8Attrs & { length: number }; output: Tensor };
  }
}

/** Index of the scale that applies to row `r` of `rows` when there are `scales` scales. */
function scaleIndex(r: number, rows: number, scales: number): number {
  return scales === 1 ? 0 : Math.floor(r / (rows / scales));
}

export const ensureFp8Kernels = lazyRegistration(() => {
  registerKernel<'kvQuantizeFp8', CpuBackend>('kvQuantizeFp8', 'cpu', (backend, [x, scale], { format }) => {
    const { rows, length } = rowsOf(x);
    const values = readFloats(x, 'kvQuantizeFp8');
    const s = readFloats(scale, 'kvQuantizeFp8');
    const codes = new Uint8Array(rows * length);
    for (let r = 0; r < rows; r++) {
      const f = s[scaleIndex(r, rows, s.length)];
      for (let i = r * length; i < (r + 1) * length; i++) codes[i] = encodeFp8(f > 0 ? values[i] / f : 0, format);
    }
    return output(backend, packCodes(codes, length, 8), [...x.shape.slice(0, -1), wordsPerRow(length, 8)], 'u32');
  });
  registerKernel<'kvDequantizeFp8', CpuBackend>('kvDequantizeFp8', 'cpu', (backend, [words, scale], { format, length }) => {
    const codes = unpackCodes(readWords(words), length, 8);
    const s = readFloats(scale, 'kvDequantizeFp8');
    const rows = length === 0 ? 0 : codes.length / length;
    const out = new Float32Array(codes.length);
    for (let r = 0; r < rows; r++) {
      const f = s[scaleIndex(r, rows, s.length)];
      for (let i = r * length; i < (r + 1) * length; i++) out[i] = decodeFp8(codes[i], format) * f;
    }
    return output(backend, out, [...words.shape.slice(0, -1), length], 'f32');
  });
  // GPU implementations, bit-exact with the CPU kernel: picked when the tensors live on that backend.
  registerFp8CudaKernels();
  registerFp8WebGpuKernels();
});

function checkScale(x: Tensor, scale: Tensor, where: string): void {
  if (scale.dtype !== 'f32' || scale.rank !== 1 || (scale.shape[0] !== 1 && scale.shape[0] !== x.shape[0])) {
    throw new ShapeMismatchError(
      `${where}: scale must be f32 [1] or [${x.shape[0]}] (one per slice of the first axis), got ${scale.dtype} [${scale.shape.join(', ')}]`
    );
  }
}

function checkFormat(format: Fp8Format, where: string): void {
  if (!FP8_FORMATS.includes(format)) throw new InvalidConfigError(`${where}: format must be one of ${FP8_FORMATS.join(', ')}, got ${format}`);
}

/** u32 [..., ceil(length / 4)] FP8 codes of x / scale. */
export function quantizeFp8(x: Tensor, scale: Tensor, format: Fp8Format): Tensor {
  checkFormat(format, 'quantizeFp8');
  checkScale(x, scale, 'quantizeFp8');
  ensureFp8Kernels();
  return runKernel('kvQuantizeFp8', [x, scale], { format });
}

/** f32 [..., length] from FP8 codes and their scale. */
export function dequantizeFp8(codes: Tensor, scale: Tensor, format: Fp8Format, length: number): Tensor {
  checkFormat(format, 'dequantizeFp8');
  checkScale(codes, scale, 'dequantizeFp8');
  ensureFp8Kernels();
  return runKernel('kvDequantizeFp8', [codes, scale], { format, length });
}
