import {
  type CpuBackend,
  InvalidConfigError,
  packCodes,
  registerKernel,
  runKernel,
  type Tensor,
  unpackCodes,
  UnsupportedBitWidthError,
  wordsPerRow,
} from '@kvkit/tensor-core';
import { type ParamDType, roundDownToParam, roundHalfEven, roundUpToParam } from '../numeric/param-dtype.js';
import { registerUniformCudaKernels } from '../cuda/uniform.js';
import { registerUniformWebGpuKernels } from '../webgpu/uniform.js';
import { lazyRegistration, output, readFloats, readWords, rowsOf } from './host.js';

/**
 * Uniform (integer) quantization of rows, in groups of `groupSize` consecutive values along the
 * last axis (the last group may be shorter). Codes are unsigned and packed in tensor-core's layout.
 *
 * - asymmetric (min–max): zero = the largest `paramDType` value ≤ min, scale = the smallest
 *   `paramDType` value ≥ (max − zero) / (2^b − 1); code = clamp(rint((x − zero) / scale), 0, 2^b − 1);
 *   x̂ = code · scale + zero. Rounding the parameters outward keeps every value inside the grid,
 *   so |x − x̂| ≤ scale / 2.
 * - symmetric (abs-max): L = 2^(b−1) − 1, scale = the smallest `paramDType` value ≥ max|x| / L;
 *   code = rint(x / scale) + 2^(b−1) (clamped to [1, 2^b − 1]); x̂ = (code − 2^(b−1)) · scale.
 *
 * Codes are computed in float64 from the stored (rounded) parameters; x̂ is code · scale + zero
 * rounded once to f32 (what a fused multiply-add in f32 gives on a GPU).
 */
export interface UniformQuantAttrs {
  bits: number;
  groupSize: number;
  symmetric: boolean;
  paramDType: ParamDType;
}

export interface UniformQuantized {
  /** u32 [..., wordsPerRow(length, bits, groupSize)]. */
  codes: Tensor;
  /** paramDType [..., groups]. */
  scale: Tensor;
  /** paramDType [..., groups]; absent for symmetric quantization. */
  zero?: Tensor;
}

declare module '@kvkit/tensor-core' {
  interface KernelSignatures {
    kvQuantizeUniform: { inputs: [Tensor]; attrs: UniformQuantAttrs; output: UniformQuantized };
    kvDequantizeUniform: { inputs: Tensor[]; attrs: UniformQuantAttrs & { length: number }; output: Tensor };
  }
}

export const ASYMMETRIC_BITS: readonly number[] = [1, 2, 3, 4, 8];
export const SYMMETRIC_BITS: readonly number[] = [2, 3, 4, 8];

export function assertUniformBits(bits: number, symmetric: boolean, where: string): void {
  const allowed = symmetric ? SYMMETRIC_BITS : ASYMMETRIC_BITS;
  if (!allowed.includes(bits)) throw new UnsupportedBitWidthError(bits, allowed, `${where} (${symmetric ? 'symmetric' : 'asymmetric'})`);
}

function assertGroupSize(groupSize: number, where: string): void {
  if (!Number.isInteger(groupSize) || groupSize <= 0)
    throw new InvalidConfigError(`${where}: groupSize must be a positive integer, got ${groupSize}`);
}

/** The CPU kernel body: quantizes `rows` rows of `length` values. */
export function quantizeUniformHost(x: ArrayLike<number>, rows: number, length: number, attrs: UniformQuantAttrs) {
  const { bits, groupSize, symmetric, paramDType } = attrs;
  const groups = Math.ceil(length / groupSize);
  const codes = new Uint8Array(rows * length);
  const scale = new Float64Array(rows * groups);
  const zero = symmetric ? undefined : new Float64Array(rows * groups);
  const top = 2 ** bits - 1;
  const half = 2 ** (bits - 1);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const start = r * length + g * groupSize;
      const end = r * length + Math.min(length, (g + 1) * groupSize);
      const p = r * groups + g;
      if (zero) {
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = start; i < end; i++) {
          lo = Math.min(lo, x[i]);
          hi = Math.max(hi, x[i]);
        }
        const z = roundDownToParam(lo, paramDType);
        const s = hi > z ? roundUpToParam((hi - z) / top, paramDType) : 0;
        zero[p] = z;
        scale[p] = s;
        for (let i = start; i < end; i++) codes[i] = s > 0 ? Math.min(top, Math.max(0, roundHalfEven((x[i] - z) / s))) : 0;
      } else {
        let absMax = 0;
        for (let i = start; i < end; i++) absMax = Math.max(absMax, Math.abs(x[i]));
        const s = absMax > 0 ? roundUpToParam(absMax / (half - 1), paramDType) : 0;
        scale[p] = s;
        for (let i = start; i < end; i++) codes[i] = half + (s > 0 ? Math.min(half - 1, Math.max(1 - half, roundHalfEven(x[i] / s))) : 0);
      }
    }
  }
  return { codes: packCodes(codes, length, bits, groupSize), scale, zero };
}

/** The CPU kernel body: x̂ of `rows` rows of `length` values. */
export function dequantizeUniformHost(
  words: Uint32Array,
  scale: ArrayLike<number>,
  zero: ArrayLike<number> | undefined,
  length: number,
  attrs: UniformQuantAttrs
): Float32Array {
  const { bits, groupSize } = attrs;
  const codes = unpackCodes(words, length, bits, groupSize);
  const rows = length === 0 ? 0 : codes.length / length;
  const groups = Math.ceil(length / groupSize);
  const offset = zero ? 0 : 2 ** (bits - 1);
  const out = new Float32Array(rows * length);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < length; i++) {
      const p = r * groups + Math.floor(i / groupSize);
      out[r * length + i] = (codes[r * length + i] - offset) * scale[p] + (zero ? zero[p] : 0);
    }
  }
  return out;
}

export const ensureUniformKernels = lazyRegistration(() => {
  registerKernel<'kvQuantizeUniform', CpuBackend>('kvQuantizeUniform', 'cpu', (backend, [x], attrs) => {
    const { rows, length } = rowsOf(x);
    const { codes, scale, zero } = quantizeUniformHost(readFloats(x, 'kvQuantizeUniform'), rows, length, attrs);
    const lead = x.shape.slice(0, -1);
    const groups = Math.ceil(length / attrs.groupSize);
    return {
      codes: output(backend, codes, [...lead, wordsPerRow(length, attrs.bits, attrs.groupSize)], 'u32'),
      scale: output(backend, scale, [...lead, groups], attrs.paramDType),
      zero: zero && output(backend, zero, [...lead, groups], attrs.paramDType),
    };
  });
  registerKernel<'kvDequantizeUniform', CpuBackend>('kvDequantizeUniform', 'cpu', (backend, [codes, scale, zero], attrs) => {
    const values = dequantizeUniformHost(
      readWords(codes),
      readFloats(scale, 'kvDequantizeUniform'),
      zero && readFloats(zero, 'kvDequantizeUniform'),
      attrs.length,
      attrs
    );
    return output(backend, values, [...codes.shape.slice(0, -1), attrs.length], 'f32');
  });
  // GPU implementations, bit-exact with the CPU kernel: picked when the tensors live on that backend.
  registerUniformCudaKernels();
  registerUniformWebGpuKernels();
});

/** Quantizes the last axis of a float tensor (see `UniformQuantAttrs` for the formulas). */
export function quantizeUniform(x: Tensor, attrs: UniformQuantAttrs): UniformQuantized {
  assertUniformBits(attrs.bits, attrs.symmetric, 'quantizeUniform');
  assertGroupSize(attrs.groupSize, 'quantizeUniform');
  ensureUniformKernels();
  return runKernel('kvQuantizeUniform', [x], attrs);
}

/** f32 [..., length] from `quantizeUniform`'s codes, scale and zero. */
export function dequantizeUniform(q: UniformQuantized, length: number, attrs: UniformQuantAttrs): Tensor {
  assertUniformBits(attrs.bits, attrs.symmetric, 'dequantizeUniform');
  assertGroupSize(attrs.groupSize, 'dequantizeUniform');
  if (!attrs.symmetric && !q.zero) throw new InvalidConfigError('dequantizeUniform: asymmetric codes need their zero points');
  ensureUniformKernels();
  return runKernel('kvDequantizeUniform', q.zero ? [q.codes, q.scale, q.zero] : [q.codes, q.scale], { ...attrs, length });
}
