import { UnsupportedDTypeError } from './errors.js';

/** Element types a tensor can hold. f16 and bf16 are stored as their 16-bit patterns. */
export type DType = 'f32' | 'f16' | 'bf16' | 'i8' | 'u8' | 'i32' | 'u32';

export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'i8', 'u8', 'i32', 'u32'];

/** The typed array a dtype lives in on the host (f16/bf16: raw bit patterns in a Uint16Array). */
export type HostArray = Float32Array | Uint16Array | Int8Array | Uint8Array | Int32Array | Uint32Array;

export interface HostArrayOf {
  f32: Float32Array;
  f16: Uint16Array;
  bf16: Uint16Array;
  i8: Int8Array;
  u8: Uint8Array;
  i32: Int32Array;
  u32: Uint32Array;
}

const BYTES: Record<DType, number> = { f32: 4, f16: 2, bf16: 2, i8: 1, u8: 1, i32: 4, u32: 4 };

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

export function assertDType(value: unknown, where: string): DType {
  if (!isDType(value)) {
    throw new UnsupportedDTypeError(`${where}: unknown dtype ${JSON.stringify(value)}; supported: ${DTYPES.join(', ')}`, {
      dtype: value,
    });
  }
  return value;
}

export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

export function isFloatDType(dtype: DType): boolean {
  return dtype === 'f32' || dtype === 'f16' || dtype === 'bf16';
}

export function isIntegerDType(dtype: DType): boolean {
  return !isFloatDType(dtype);
}

export function allocateHostArray<D extends DType>(dtype: D, length: number): HostArrayOf[D] {
  switch (dtype) {
    case 'f32':
      return new Float32Array(length) as HostArrayOf[D];
    case 'f16':
    case 'bf16':
      return new Uint16Array(length) as HostArrayOf[D];
    case 'i8':
      return new Int8Array(length) as HostArrayOf[D];
    case 'u8':
      return new Uint8Array(length) as HostArrayOf[D];
    case 'i32':
      return new Int32Array(length) as HostArrayOf[D];
    case 'u32':
      return new Uint32Array(length) as HostArrayOf[D];
  }
  throw new UnsupportedDTypeError(`unknown dtype ${String(dtype)}`);
}

/** The dtype a typed array holds when nobody says otherwise (anything but an integer array: f32). */
export function inferHostDType(data: ArrayLike<number>): DType {
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Uint32Array) return 'u32';
  if (data instanceof Int8Array) return 'i8';
  if (data instanceof Uint8Array) return 'u8';
  return 'f32';
}

/** True when `data` is the host array type of `dtype`. */
export function hostArrayMatches(dtype: DType, data: HostArray): boolean {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array;
    case 'f16':
    case 'bf16':
      return data instanceof Uint16Array;
    case 'i8':
      return data instanceof Int8Array;
    case 'u8':
      return data instanceof Uint8Array;
    case 'i32':
      return data instanceof Int32Array;
    case 'u32':
      return data instanceof Uint32Array;
  }
}

/** Integer range of an integer dtype, for range checks on casts and indices. */
export function integerRange(dtype: DType): { min: number; max: number } | undefined {
  switch (dtype) {
    case 'i8':
      return { min: -128, max: 127 };
    case 'u8':
      return { min: 0, max: 255 };
    case 'i32':
      return { min: -2147483648, max: 2147483647 };
    case 'u32':
      return { min: 0, max: 4294967295 };
    default:
      return undefined;
  }
}
