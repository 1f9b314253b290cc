import { CorruptModelFileError } from '@kvkit/tensor-core';

/** Little-endian bytes of a typed array as base64 (for JSON round trips of float data). */
export function typedArrayToBase64(values: Float32Array | Float64Array): string {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  return btoa(binary);
}

/** The inverse of `typedArrayToBase64`; `expected` values of `kind`, or CorruptModelFileError. */
export function base64ToTypedArray<T extends Float32Array | Float64Array>(
  text: unknown,
  kind: { new (length: number): T; BYTES_PER_ELEMENT: number },
  expected: number,
  file: string,
  what: string,
): T {
  if (typeof text !== 'string') throw new CorruptModelFileError(file, `${what} must be a base64 string`);
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new CorruptModelFileError(file, `${what} is not valid base64`);
  }
  if (binary.length !== expected * kind.BYTES_PER_ELEMENT) {
    throw new CorruptModelFileError(file, `${what} holds ${binary.length} bytes, expected ${expected * kind.BYTES_PER_ELEMENT}`);
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const out = new kind(expected);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
