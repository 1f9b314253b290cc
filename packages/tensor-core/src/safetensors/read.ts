import { UnsupportedDTypeError } from '../errors.js';
import { bf16ArrayToF32, f16ArrayToF32 } from '../float16.js';
import { isSafetensorsDType, SAFETENSORS_ARRAYS, SAFETENSORS_FLOAT_DTYPES, type SafetensorsArray } from './dtypes.js';
import type { SafetensorsEntry, SafetensorsFile } from './parse.js';

/**
 * A typed array over `bytes` (a whole number of elements), viewing them in place when they are
 * aligned for the element size and copying them first when not (a file's tensors need not be).
 */
function typedView(bytes: Uint8Array, dtype: keyof typeof SAFETENSORS_ARRAYS): { array: SafetensorsArray; copied: boolean } {
  const ArrayType = SAFETENSORS_ARRAYS[dtype];
  const size = (ArrayType as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const length = bytes.length / size;
  if (bytes.byteOffset % size === 0) return { array: new ArrayType(bytes.buffer, bytes.byteOffset, length), copied: false };
  return { array: new ArrayType(bytes.slice().buffer, 0, length), copied: true };
}

/**
 * Decodes a tensor's raw bytes (exactly its data range) to f32 (a fresh array), from F32, F16, BF16
 * (or F64) storage.
 */
export function decodeSafetensorsFloat32(bytes: Uint8Array, entry: SafetensorsEntry, fileName: string): Float32Array {
  switch (entry.dtype) {
    case 'F32': {
      const { array, copied } = typedView(bytes, 'F32');
      return copied ? (array as Float32Array) : (array as Float32Array).slice();
    }
    case 'F16':
    case 'BF16': {
      const bits = typedView(bytes, 'F16').array as Uint16Array;
      return entry.dtype === 'F16' ? f16ArrayToF32(bits) : bf16ArrayToF32(bits);
    }
    case 'F64':
      return Float32Array.from(typedView(bytes, 'F64').array as Float64Array);
    default:
      throw new UnsupportedDTypeError(
        `${fileName}: tensor "${entry.name}" has dtype ${entry.dtype}; supported weight dtypes: ${SAFETENSORS_FLOAT_DTYPES.join(', ')} (and F64)`,
        { file: fileName, tensor: entry.name, dtype: entry.dtype },
      );
  }
}

/** A tensor of an in-memory file decoded to f32. */
export function readSafetensorsFloat32(file: SafetensorsFile, entry: SafetensorsEntry): Float32Array {
  return decodeSafetensorsFloat32(file.bytes.subarray(entry.begin, entry.end), entry, file.fileName);
}

/**
 * A tensor of an in-memory file in its stored representation (F64 → Float64Array, I32 →
 * Int32Array, F16/BF16 → Uint16Array bit patterns, …; see `SafetensorsArrayOf`), as a fresh array
 * that does not share the file's memory.
 */
export function readSafetensorsData(file: SafetensorsFile, entry: SafetensorsEntry): SafetensorsArray {
  if (!isSafetensorsDType(entry.dtype)) {
    throw new UnsupportedDTypeError(
      `${file.fileName}: tensor "${entry.name}" has dtype ${entry.dtype}; readable dtypes: ${Object.keys(SAFETENSORS_ARRAYS).join(', ')}`,
      { file: file.fileName, tensor: entry.name, dtype: entry.dtype },
    );
  }
  const { array, copied } = typedView(file.bytes.subarray(entry.begin, entry.end), entry.dtype);
  return copied ? array : array.slice();
}
