import { DTypeMismatchError, InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { SAFETENSORS_ARRAYS, type SafetensorsArrayOf, type SafetensorsDType } from './dtypes.js';

/** A tensor to write: its safetensors dtype, shape and raw little-endian elements. */
export type SafetensorsInput = {
  [D in SafetensorsDType]: {
    dtype: D;
    shape: readonly number[];
    /** The elements in the dtype's host array (F16/BF16: Uint16Array of bit patterns). */
    data: SafetensorsArrayOf[D];
  };
}[SafetensorsDType];

/**
 * Serializes tensors into the safetensors format (header padded with spaces to 8 bytes, data in
 * name order), the inverse of `parseSafetensors`.
 */
export function serializeSafetensors(tensors: Record<string, SafetensorsInput>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const names = Object.keys(tensors).sort();
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new InvalidConfigError('serializeSafetensors: "__metadata__" is reserved and cannot name a tensor');
    const { dtype, shape, data } = tensors[name];
    const ArrayType = SAFETENSORS_ARRAYS[dtype];
    if (!ArrayType || !(data instanceof ArrayType)) {
      throw new DTypeMismatchError(
        `serializeSafetensors: tensor "${name}" is declared ${dtype} but holds a ${data?.constructor?.name ?? typeof data}` +
          (ArrayType ? ` (${dtype} is written from a ${ArrayType.name})` : ` (writable dtypes: ${Object.keys(SAFETENSORS_ARRAYS).join(', ')})`),
        { tensor: name, dtype },
      );
    }
    const elements = shape.reduce((a, b) => a * b, 1);
    if (data.length !== elements) {
      throw new ShapeMismatchError(`serializeSafetensors: tensor "${name}": ${data.length} elements do not fill ${dtype} [${shape.join(', ')}]`, { tensor: name });
    }
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8; // padded with spaces so the data starts 8-aligned
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const name of names) {
    const { data } = tensors[name];
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}
