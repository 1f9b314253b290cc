import { CorruptModelFileError } from '../errors.js';
import { SAFETENSORS_DTYPE_BYTES } from './dtypes.js';

/**
 * The safetensors format: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON
 * mapping tensor names to { dtype, shape, data_offsets: [begin, end] } (offsets relative to the
 * data that follows the header; an optional "__metadata__" string map), then the raw little-endian
 * tensor data. Every check below names the file and says what is wrong.
 */

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
  if (typeof dtype !== 'string' || !Object.hasOwn(SAFETENSORS_DTYPE_BYTES, dtype)) {
    fail(`tensor "${name}": unknown dtype ${JSON.stringify(dtype)} (safetensors dtypes: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')})`);
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
  const expected = elements * SAFETENSORS_DTYPE_BYTES[dtype as string];
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
