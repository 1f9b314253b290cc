/** Bytes per element of every safetensors dtype (the format's own list). */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
};

/** Dtypes whose tensors decode to floats (`decodeSafetensorsFloat32`; F64 is narrowed too). */
export const SAFETENSORS_FLOAT_DTYPES = ['F32', 'F16', 'BF16'] as const;

/** The host arrays tensors are written from and read into, by dtype (F16/BF16 as bit patterns). */
export interface SafetensorsArrayOf {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I32: Int32Array;
  U32: Uint32Array;
  I16: Int16Array;
  U16: Uint16Array;
  I8: Int8Array;
  U8: Uint8Array;
  /** float8 codes, raw (a loader decodes them with their scales: @kvkit/llm's block FP8). */
  F8_E4M3: Uint8Array;
  F8_E5M2: Uint8Array;
}

/** The dtypes `serializeSafetensors` writes and `readSafetensorsData` reads. */
export type SafetensorsDType = keyof SafetensorsArrayOf;

export type SafetensorsArray = SafetensorsArrayOf[SafetensorsDType];

type ArrayConstructor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => SafetensorsArray;

/** The typed array class of each supported dtype. */
export const SAFETENSORS_ARRAYS: Readonly<Record<SafetensorsDType, ArrayConstructor>> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I32: Int32Array,
  U32: Uint32Array,
  I16: Int16Array,
  U16: Uint16Array,
  I8: Int8Array,
  U8: Uint8Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
};

export function isSafetensorsDType(dtype: string): dtype is SafetensorsDType {
  return Object.hasOwn(SAFETENSORS_ARRAYS, dtype);
}
