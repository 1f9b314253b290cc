import { bytesPerElement, type DType, isFloatDType } from '../../dtype.js';

/**
 * How each tensor dtype lives in a WGSL storage buffer and in registers.
 *
 * - f32, i32, u32: one element per 32-bit word.
 * - f16, bf16: two elements per u32 word, element 2w in the low half (little-endian, the host
 *   layout), unless the device has `shader-f16`, where f16 buffers are `array<f16>`.
 * - i8, u8: four elements per u32 word, element 4w in the lowest byte.
 *
 * Kernels compute in the dtype's *compute type*: f32 for floats, i32 for i8/i32, u32 for u8/u32.
 * "Raw" values are an element's bit pattern, zero-extended to u32 (used by copies, which must
 * move NaN payloads and integers untouched).
 */
export type WgslScalar = 'f32' | 'i32' | 'u32';

export function computeType(dtype: DType): WgslScalar {
  if (isFloatDType(dtype)) return 'f32';
  return dtype === 'i8' || dtype === 'i32' ? 'i32' : 'u32';
}

/** Elements per 32-bit word in the packed layout (1, 2 or 4). */
export function elementsPerWord(dtype: DType): number {
  return 4 / bytesPerElement(dtype);
}

/** WGSL expression: the raw bits (u32) of the compute-type value `v` stored as `dtype`. */
export function encodeExpr(dtype: DType, v: string): string {
  switch (dtype) {
    case 'f32':
    case 'i32':
      return `bitcast<u32>(${v})`;
    case 'u32':
      return `(${v})`;
    case 'f16':
      return `f32_to_f16_bits(${v})`;
    case 'bf16':
      return `f32_to_bf16_bits(${v})`;
    case 'i8':
      return `(bitcast<u32>(${v}) & 0xffu)`;
    case 'u8':
      return `((${v}) & 0xffu)`;
  }
}

/** WGSL expression: the compute-type value of the zero-extended raw bits `b` of a `dtype` element. */
export function decodeExpr(dtype: DType, b: string): string {
  switch (dtype) {
    case 'f32':
      return `bitcast<f32>(${b})`;
    case 'i32':
      return `bitcast<i32>(${b})`;
    case 'u32':
    case 'u8':
      return `(${b})`;
    case 'f16':
      return `f16_bits_to_f32(${b})`;
    case 'bf16':
      return `bf16_bits_to_f32(${b})`;
    case 'i8':
      return `(bitcast<i32>((${b}) << 24u) >> 24u)`;
  }
}

/** Literal of the compute type (`0` → `0.0`, `0i`, `0u`). */
export function literal(type: WgslScalar, value: number): string {
  if (type === 'f32') return Number.isInteger(value) ? `${value}.0` : `${value}`;
  return type === 'i32' ? `${value}i` : `${value >>> 0}u`;
}

/**
 * The dtype a raw (bit-moving) kernel binds a tensor as: u32, bf16 or u8 by element width. Copies
 * then share one pipeline per width, and f16 never takes the `shader-f16` path (bits move untouched).
 */
export function rawAlias(dtype: DType): DType {
  const bytes = bytesPerElement(dtype);
  return bytes === 4 ? 'u32' : bytes === 2 ? 'bf16' : 'u8';
}
