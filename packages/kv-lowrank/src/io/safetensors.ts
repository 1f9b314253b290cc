import { CorruptModelFileError, InvalidConfigError } from '@kvkit/tensor-core';

/**
 * The safetensors container (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] },
 * "__metadata__"?: { string: string } }`, then the raw little-endian tensor bytes, offsets relative
 * to the end of the header. Only the dtypes kv-lowrank writes are supported.
 */
export type SafetensorsDType = 'F64' | 'F32' | 'I32';

export interface SafetensorsEntry {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float64Array | Float32Array | Int32Array;
}

const BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, I32: 4 };

function dtypeOf(data: SafetensorsEntry['data']): SafetensorsDType {
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Float32Array) return 'F32';
  return 'I32';
}

/** Serializes named tensors (and optional string metadata) into one safetensors byte buffer. */
export function encodeSafetensors(tensors: Record<string, SafetensorsEntry>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    if (name === '__metadata__') throw new InvalidConfigError('encodeSafetensors: "__metadata__" is reserved and cannot name a tensor');
    const { dtype, shape, data } = tensors[name];
    if (dtypeOf(data) !== dtype) throw new InvalidConfigError(`encodeSafetensors: tensor "${name}" is declared ${dtype} but holds ${dtypeOf(data)} data`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new InvalidConfigError(`encodeSafetensors: tensor "${name}" has shape [${shape.join(', ')}] (${count} values) but ${data.length} values`);
    }
    const bytes = count * BYTES[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned (what the reference writer does).
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  const base = 8 + headerBytes.length;
  for (const name of names) {
    const { dtype, data } = tensors[name];
    const [begin] = (header[name] as { data_offsets: [number, number] }).data_offsets;
    for (let i = 0; i < data.length; i++) {
      const at = base + begin + i * BYTES[dtype];
      if (dtype === 'F64') view.setFloat64(at, data[i], true);
      else if (dtype === 'F32') view.setFloat32(at, data[i], true);
      else view.setInt32(at, data[i], true);
    }
  }
  return out;
}

export interface DecodedSafetensors {
  tensors: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
}

/**
 * Parses a safetensors buffer. Every inconsistency (truncated file, bad JSON, unknown dtype, offsets
 * that overlap, leave gaps or run past the end, a shape that does not match its byte count) throws
 * CorruptModelFileError naming `file`.
 */
export function decodeSafetensors(bytes: Uint8Array, file = 'safetensors'): DecodedSafetensors {
  if (bytes.length < 8) throw new CorruptModelFileError(file, `${bytes.length} bytes is too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.length - 8)) {
    throw new CorruptModelFileError(file, `header length ${headerLength} runs past the end of the ${bytes.length}-byte file`);
  }
  const n = Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (error) {
    throw new CorruptModelFileError(file, `the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CorruptModelFileError(file, 'the header is not a JSON object');
  const base = 8 + n;
  const dataLength = bytes.length - base;
  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors: Record<string, SafetensorsEntry> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) throw new CorruptModelFileError(file, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new CorruptModelFileError(file, `__metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = entry?.dtype;
    if (dtype !== 'F64' && dtype !== 'F32' && dtype !== 'I32') {
      throw new CorruptModelFileError(file, `tensor "${name}" has dtype ${String(dtype)}; supported: F64, F32, I32`);
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new CorruptModelFileError(file, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offsets = entry.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw new CorruptModelFileError(file, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) throw new CorruptModelFileError(file, `tensor "${name}" ends at byte ${end} but the data section has ${dataLength} bytes`);
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (count * BYTES[dtype] !== end - begin) {
      throw new CorruptModelFileError(file, `tensor "${name}" of shape [${shape.join(', ')}] needs ${count * BYTES[dtype]} bytes but spans ${end - begin}`);
    }
    spans.push({ name, begin, end });
    tensors[name] = { dtype, shape: [...(shape as number[])], data: readValues(view, base + begin, count, dtype) };
  }
  spans.sort((a, b) => a.begin - b.begin);
  let cursor = 0;
  for (const span of spans) {
    if (span.begin !== cursor) {
      throw new CorruptModelFileError(file, `tensor "${span.name}" starts at byte ${span.begin}, expected ${cursor} (overlapping or non-contiguous data)`);
    }
    cursor = span.end;
  }
  if (cursor !== dataLength) throw new CorruptModelFileError(file, `${dataLength - cursor} bytes after the last tensor belong to no tensor`);
  return { tensors, metadata };
}

function readValues(view: DataView, at: number, count: number, dtype: SafetensorsDType): SafetensorsEntry['data'] {
  const out = dtype === 'F64' ? new Float64Array(count) : dtype === 'F32' ? new Float32Array(count) : new Int32Array(count);
  const step = BYTES[dtype];
  for (let i = 0; i < count; i++) {
    const p = at + i * step;
    out[i] = dtype === 'F64' ? view.getFloat64(p, true) : dtype === 'F32' ? view.getFloat32(p, true) : view.getInt32(p, true);
  }
  return out;
}
