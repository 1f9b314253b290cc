import { f16BitsToNumber, numberToF16Bits } from '@kvkit/tensor-core';

/** The dtype scales, zero points and full-precision tokens are stored in. */
export type ParamDType = 'f16' | 'f32';

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** The next representable value after `x` in `dtype`, towards +∞ (`up`) or −∞. */
function step(x: number, dtype: ParamDType, up: boolean): number {
  if (dtype === 'f16') {
    let bits = numberToF16Bits(x);
    const negative = (bits & 0x8000) !== 0;
    if (bits === 0x0000 || bits === 0x8000) bits = up ? 0x0001 : 0x8001;
    else bits = negative === up ? bits - 1 : bits + 1;
    return f16BitsToNumber(bits);
  }
  f32Scratch[0] = x;
  let bits = u32Scratch[0];
  const negative = (bits & 0x80000000) !== 0;
  if (bits === 0 || bits === 0x80000000) bits = up ? 1 : 0x80000001;
  else bits = negative === up ? bits - 1 : bits + 1;
  u32Scratch[0] = bits;
  return f32Scratch[0];
}

/** `x` rounded to nearest (ties to even) in `dtype`. */
export function roundToParam(x: number, dtype: ParamDType): number {
  return dtype === 'f16' ? f16BitsToNumber(numberToF16Bits(x)) : Math.fround(x);
}

/** The largest `dtype` value ≤ x (x finite and within range). */
export function roundDownToParam(x: number, dtype: ParamDType): number {
  const r = roundToParam(x, dtype);
  return r > x ? step(r, dtype, false) : r;
}

/** The smallest `dtype` value ≥ x (x finite and within range). */
export function roundUpToParam(x: number, dtype: ParamDType): number {
  const r = roundToParam(x, dtype);
  return r < x ? step(r, dtype, true) : r;
}

/** Round half to even, the rounding every backend uses for codes (WGSL `round`, CUDA `rintf`). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
