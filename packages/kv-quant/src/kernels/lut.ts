import {
  type CpuBackend,
  InvalidConfigError,
  packCodes,
  registerKernel,
  runKernel,
  ShapeMismatchError,
  type Tensor,
  unpackCodes,
  UnsupportedBitWidthError,
  wordsPerRow,
} from '@kvkit/tensor-core';
import { type ParamDType, roundToParam, roundUpToParam } from '../numeric/param-dtype.js';
import { registerLutCudaKernels } from '../cuda/lut.js';
import { registerLutWebGpuKernels } from '../webgpu/lut.js';
import { lazyRegistration, output, readFloats, readWords, rowsOf } from './host.js';

/**
 * Non-uniform scalar quantization with a lookup table of 2^b sorted levels (a "datatype", as
 * KVQuant calls it). With `normalize: 'minmax'` each group of `groupSize` values along the last axis
 * is first mapped into [−1, 1]: zero = the group's midpoint (rounded to `paramDType`), scale = the
 * smallest `paramDType` value ≥ the largest distance from it; x̂ = level[code] · scale + zero.
 * With `normalize: 'none'` the values are already normalized and x̂ = level[code].
 * The code is the nearest level (ties → the lower one); a NaN (input, or (x − zero)/scale) gets code 0.
 */
export interface LutQuantAttrs {
  bits: number;
  groupSize: number;
  normalize: 'none' | 'minmax';
  paramDType: ParamDType;
}

export interface LutQuantized {
  codes: Tensor;
  /** paramDType [..., groups] (minmax only). */
  scale?: Tensor;
  zero?: Tensor;
}

declare module '@kvkit/tensor-core' {
  interface KernelSignatures {
    kvQuantizeLut: { inputs: [Tensor, Tensor]; attrs: LutQuantAttrs; output: LutQuantized };
    kvDequantizeLut: { inputs: Tensor[]; attrs: LutQuantAttrs & { length: number }; output: Tensor };
  }
}

export const LUT_BITS: readonly number[] = [1, 2, 3, 4, 8];

/** Index of the level nearest to v in the sorted `levels` (ties → lower index; NaN → 0, on every backend). */
export function nearestLevel(levels: ArrayLike<number>, v: number): number {
  if (Number.isNaN(v)) return 0;
  let lo = 0;
  let hi = levels.length - 1;
  if (v <= levels[0]) return 0;
  if (v >= levels[hi]) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (levels[mid] <= v) lo = mid;
    else hi = mid;
  }
  return v - levels[lo] <= levels[hi] - v ? lo : hi;
}

export const ensureLutKernels = lazyRegistration(() => {
  registerKernel<'kvQuantizeLut', CpuBackend>('kvQuantizeLut', 'cpu', (backend, [x, levelsT], attrs) => {
    const { bits, groupSize, normalize, paramDType } = attrs;
    const { rows, length } = rowsOf(x);
    const values = readFloats(x, 'kvQuantizeLut');
    const levels = readFloats(levelsT, 'kvQuantizeLut');
    const groups = Math.ceil(length / groupSize);
    const codes = new Uint8Array(rows * length);
    const scale = normalize === 'minmax' ? new Float64Array(rows * groups) : undefined;
    const zero = normalize === 'minmax' ? new Float64Array(rows * groups) : undefined;
    for (let r = 0; r < rows; r++) {
      for (let g = 0; g < groups; g++) {
        const start = r * length + g * groupSize;
        const end = r * length + Math.min(length, (g + 1) * groupSize);
        let center = 0;
        let half = 1;
        if (scale && zero) {
          let lo = Infinity;
          let hi = -Infinity;
          for (let i = start; i < end; i++) {
            lo = Math.min(lo, values[i]);
            hi = Math.max(hi, values[i]);
          }
          center = roundToParam((lo + hi) / 2, paramDType);
          const spread = Math.max(hi - center, center - lo);
          half = spread > 0 ? roundUpToParam(spread, paramDType) : 0;
          scale[r * groups + g] = half;
          zero[r * groups + g] = center;
        }
        for (let i = start; i < end; i++) codes[i] = nearestLevel(levels, half > 0 ? (values[i] - center) / half : 0);
      }
    }
    const lead = x.shape.slice(0, -1);
    return {
      codes: output(backend, packCodes(codes, length, bits, groupSize), [...lead, wordsPerRow(length, bits, groupSize)], 'u32'),
      scale: scale && output(backend, scale, [...lead, groups], paramDType),
      zero: zero && output(backend, zero, [...lead, groups], paramDType),
    };
  });
  registerKernel<'kvDequantizeLut', CpuBackend>('kvDequantizeLut', 'cpu', (backend, [words, levelsT, scaleT, zeroT], attrs) => {
    const { bits, groupSize, length } = attrs;
    const codes = unpackCodes(readWords(words), length, bits, groupSize);
    const levels = readFloats(levelsT, 'kvDequantizeLut');
    const scale = scaleT && readFloats(scaleT, 'kvDequantizeLut');
    const zero = zeroT && readFloats(zeroT, 'kvDequantizeLut');
    const groups = Math.ceil(length / groupSize);
    const out = new Float32Array(codes.length);
    for (let i = 0; i < codes.length; i++) {
      const level = levels[codes[i]];
      if (!scale || !zero) {
        out[i] = level;
        continue;
      }
      const p = Math.floor(i / length) * groups + Math.floor((i % length) / groupSize);
      out[i] = level * scale[p] + zero[p];
    }
    return output(backend, out, [...words.shape.slice(0, -1), length], 'f32');
  });
  registerLutCudaKernels();
  registerLutWebGpuKernels();
});

function check(levels: Tensor, attrs: LutQuantAttrs, where: string): void {
  if (!LUT_BITS.includes(attrs.bits)) throw new UnsupportedBitWidthError(attrs.bits, LUT_BITS, where);
  if (!Number.isInteger(attrs.groupSize) || attrs.groupSize <= 0)
    throw new InvalidConfigError(`${where}: groupSize must be a positive integer, got ${attrs.groupSize}`);
  if (levels.dtype !== 'f32' || levels.rank !== 1 || levels.shape[0] !== 2 ** attrs.bits) {
    throw new ShapeMismatchError(`${where}: levels must be f32 [${2 ** attrs.bits}], got ${levels.dtype} [${levels.shape.join(', ')}]`);
  }
}

/** Codes (and per-group scale/zero with 'minmax') of the last axis of x against sorted `levels`. */
export function quantizeLut(x: Tensor, levels: Tensor, attrs: LutQuantAttrs): LutQuantized {
  check(levels, attrs, 'quantizeLut');
  ensureLutKernels();
  return runKernel('kvQuantizeLut', [x, levels], attrs);
}

export function dequantizeLut(q: LutQuantized, levels: Tensor, length: number, attrs: LutQuantAttrs): Tensor {
  check(levels, attrs, 'dequantizeLut');
  if (attrs.normalize === 'minmax' && (!q.scale || !q.zero)) throw new InvalidConfigError('dequantizeLut: minmax codes need their scale and zero');
  ensureLutKernels();
  const inputs = attrs.normalize === 'minmax' ? [q.codes, levels, q.scale!, q.zero!] : [q.codes, levels];
  return runKernel('kvDequantizeLut', inputs, { ...attrs, length });
}
