import { bf16ArrayToF32, CorruptModelFileError, f16ArrayToF32, ShapeMismatchError, UnsupportedDTypeError } from '@kvkit/tensor-core';

/**
 * The safetensors format: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON
 * mapping tensor names to { dtype, shape, data_offsets: [begin, end] } (offsets relative to the
 * data that follows the header; an optional "__metadata__" string map), then the raw little-endian
 * tensor data. Every check below names the file and says what is wrong.
 */

/** Bytes per element of each safetensors dtype. */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
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

/** Dtypes whose tensors can be read as floats. */
export const SUPPORTED_WEIGHT_DTYPES = ['F32', 'F16', 'BF16'] as const;

/** A larger header is refused as corrupt (the reference implementation's limit). */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte range of the tensor's data inside the whole file. */
  begin: number;
  end: number;
}

/** The parsed header of a safetensors file: its tensors with absolute byte ranges. */
export interface SafetensorsHeader {
  fileName: string;
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsEntry>;
  /** Bytes of the 8-byte length field plus the JSON header: where the data section starts. */
  dataStart: number;
}

/** A safetensors file held in memory. */
export interface SafetensorsFile extends SafetensorsHeader {
  bytes: Uint8Array;
}

/**
 * Reads the header length from the first 8 bytes of a file of `fileSize` bytes and checks it, so a
 * reader can fetch exactly the header next. Returns the header's byte length.
 */
export function safetensorsHeaderLength(first8: Uint8Array, fileSize: number, fileName: string): number {
  if (fileSize < 8 || first8.length < 8) {
    throw new CorruptModelFileError(fileName, `truncated: ${fileSize} bytes, fewer than the 8-byte header length that starts a safetensors file`);
  }
  const headerLength = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new CorruptModelFileError(fileName, `header length ${headerLength} is larger than the ${MAX_HEADER_BYTES}-byte limit: not a safetensors file, or corrupt`);
  }
  if (8 + Number(headerLength) > fileSize) {
    throw new CorruptModelFileError(fileName, `truncated header: its length field says ${headerLength} bytes but only ${fileSize - 8} follow`, {
      headerLength: Number(headerLength),
      available: fileSize - 8,
    });
  }
  return Number(headerLength);
}

/**
 * Parses and checks the JSON header (the bytes after the length field) of a safetensors file of
 * `fileSize` bytes: dtypes, shapes, offsets that match them, lie inside the file and do not overlap.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, fileSize: number, fileName: string): SafetensorsHeader {
  const fail = (problem: string, details: Record<string, unknown> = {}): never => {
    throw new CorruptModelFileError(fileName, problem, details);
  };
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    fail(`header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) return fail('header must be a JSON object mapping tensor names to { dtype, shape, data_offsets }');
  const dataStart = 8 + headerBytes.length;
  const dataLength = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isPlainObject(raw) || Object.values(raw).some((v) => typeof v !== 'string')) fail('"__metadata__" must be an object of strings');
      Object.assign(metadata, raw);
      continue;
    }
    tensors.set(name, parseEntry(name, raw, dataStart, dataLength, fail));
  }
  assertNoOverlap([...tensors.values()], fail);
  return { fileName, metadata, tensors, dataStart };
}

/** Parses and checks a safetensors file held in memory. The tensor data is not copied. */
export function parseSafetensors(bytes: Uint8Array, fileName: string): SafetensorsFile {
  const headerLength = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.length, fileName);
  return { ...parseSafetensorsHeader(bytes.subarray(8, 8 + headerLength), bytes.length, fileName), bytes };
}

function parseEntry(name: string, raw: unknown, headerEnd: number, dataLength: number, fail: (problem: string, details?: Record<string, unknown>) => never): SafetensorsEntry {
  if (!isPlainObject(raw)) fail(`tensor "${name}": entry must be an object with dtype, shape and data_offsets`);
  const entry = raw as Record<string, unknown>;
  const dtype = entry.dtype;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    fail(`tensor "${name}": unknown dtype ${JSON.stringify(dtype)} (safetensors dtypes: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  const shape = entry.shape;
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    fail(`tensor "${name}": shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0) || offsets[0] > offsets[1]) {
    fail(`tensor "${name}": data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const elements = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = elements * DTYPE_BYTES[dtype as string];
  if (end - begin !== expected) {
    fail(`tensor "${name}": data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype} shape [${(shape as number[]).join(', ')}] needs ${expected}`, {
      tensor: name,
    });
  }
  if (end > dataLength) {
    fail(`truncated: tensor "${name}" ends at data byte ${end}, but the file holds only ${dataLength} bytes of data after its header`, {
      tensor: name,
      end,
      dataLength,
    });
  }
  return { name, dtype: dtype as string, shape: shape as number[], begin: headerEnd + begin, end: headerEnd + end };
}

function assertNoOverlap(entries: SafetensorsEntry[], fail: (problem: string) => never): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) fail(`tensors "${sorted[i - 1].name}" and "${sorted[i].name}" overlap in the data section`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A typed-array view of `bytes`, copying them first when they are not aligned for `elementBytes`. */
function aligned(bytes: Uint8Array, elementBytes: number): { buffer: ArrayBufferLike; byteOffset: number; length: number } {
  const length = bytes.length / elementBytes;
  if (bytes.byteOffset % elementBytes === 0) return { buffer: bytes.buffer, byteOffset: bytes.byteOffset, length };
  return { buffer: bytes.slice().buffer, byteOffset: 0, length };
}

/**
 * Decodes a tensor's raw bytes (exactly its data range) to f32 (a fresh array), from F32, F16, BF16
 * (or F64) storage.
 */
export function decodeFloat32(bytes: Uint8Array, entry: SafetensorsEntry, fileName: string): Float32Array {
  switch (entry.dtype) {
    case 'F32': {
      const { buffer, byteOffset, length } = aligned(bytes, 4);
      return new Float32Array(buffer, byteOffset, length).slice();
    }
    case 'F16':
    case 'BF16': {
      const { buffer, byteOffset, length } = aligned(bytes, 2);
      const bits = new Uint16Array(buffer, byteOffset, length);
      return entry.dtype === 'F16' ? f16ArrayToF32(bits) : bf16ArrayToF32(bits);
    }
    case 'F64': {
      const { buffer, byteOffset, length } = aligned(bytes, 8);
      return Float32Array.from(new Float64Array(buffer, byteOffset, length));
    }
    default:
      throw new UnsupportedDTypeError(
        `${fileName}: tensor "${entry.name}" has dtype ${entry.dtype}; supported weight dtypes: ${SUPPORTED_WEIGHT_DTYPES.join(', ')} (and F64)`,
        { file: fileName, tensor: entry.name, dtype: entry.dtype },
      );
  }
}

/** A tensor of an in-memory file decoded to f32. */
export function readFloat32(file: SafetensorsFile, entry: SafetensorsEntry): Float32Array {
  return decodeFloat32(file.bytes.subarray(entry.begin, entry.end), entry, file.fileName);
}

/** A tensor to write: its safetensors dtype, shape and raw little-endian elements. */
export interface SafetensorsInput {
  dtype: 'F32' | 'F16' | 'BF16' | 'I32' | 'U8';
  shape: readonly number[];
  /** F32: Float32Array; F16/BF16: Uint16Array of bit patterns; I32: Int32Array; U8: Uint8Array. */
  data: Float32Array | Uint16Array | Int32Array | Uint8Array;
}

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
    const { dtype, shape, data } = tensors[name];
    const elements = shape.reduce((a, b) => a * b, 1);
    if (data.length !== elements || data.BYTES_PER_ELEMENT !== DTYPE_BYTES[dtype]) {
      throw new ShapeMismatchError(`serializeSafetensors: tensor "${name}": ${data.length} ${data.constructor.name} elements do not fit ${dtype} [${shape.join(', ')}]`);
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
