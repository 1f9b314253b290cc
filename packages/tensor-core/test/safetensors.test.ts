import { describe, expect, it } from 'vitest';
import {
  type CorruptModelFileError,
  type KvkitError,
  f32ArrayToBf16,
  f32ArrayToF16,
  parseSafetensors,
  parseSafetensorsHeader,
  readSafetensorsData,
  readSafetensorsFloat32,
  safetensorsHeaderLength,
  serializeSafetensors,
} from '../src/index.js';
import { withSeed } from '../src/testing/index.js';

/** A file from a header (object or raw text) and data bytes; `declaredLength` overrides the length field. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), declaredLength?: number): Uint8Array {
  const json = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function caught(fn: () => unknown): KvkitError {
  try {
    fn();
  } catch (error) {
    return error as KvkitError;
  }
  throw new Error('expected an error');
}

function corrupt(bytes: Uint8Array, pattern: RegExp): void {
  const error = caught(() => parseSafetensors(bytes, 'model-00001-of-00002.safetensors'));
  expect(error.code).toBe('CORRUPT_MODEL_FILE');
  expect(error.message).toMatch(pattern);
  expect((error as CorruptModelFileError).file).toBe('model-00001-of-00002.safetensors');
  expect(error.message).toMatch(/^model-00001-of-00002\.safetensors: /);
}

/** bf16 → f32 by the definition: the bf16 bits are the top half of an f32. */
function bf16Reference(bits: Uint16Array): Float32Array {
  const view = new DataView(new ArrayBuffer(4));
  return Float32Array.from(bits, (b) => {
    view.setUint32(0, b << 16);
    return view.getFloat32(0);
  });
}

describe('safetensors', () => {
  it('reads every element type from bytes laid out by hand (little-endian, header offsets relative to the data)', () =>
    withSeed((rng) => {
      const f64 = Array.from({ length: 3 }, () => rng.normal() * 1e10);
      const i32 = [-7, 2 ** 31 - 1, -(2 ** 31)];
      const i16 = [-300, 12345];
      const data = new Uint8Array(24 + 12 + 4 + 2);
      const view = new DataView(data.buffer);
      f64.forEach((v, i) => view.setFloat64(i * 8, v, true));
      i32.forEach((v, i) => view.setInt32(24 + i * 4, v, true));
      i16.forEach((v, i) => view.setInt16(36 + i * 2, v, true));
      data.set([250, 3], 40);
      const header = {
        __metadata__: { format: 'kvkit' },
        d: { dtype: 'F64', shape: [3], data_offsets: [0, 24] },
        i: { dtype: 'I32', shape: [1, 3], data_offsets: [24, 36] },
        s: { dtype: 'I16', shape: [2], data_offsets: [36, 40] },
        u: { dtype: 'U8', shape: [2], data_offsets: [40, 42] },
      };
      const file = parseSafetensors(rawFile(header, data), 'hand.safetensors');
      expect(file.metadata).toEqual({ format: 'kvkit' });
      const get = (name: string) => readSafetensorsData(file, file.tensors.get(name)!);
      expect(get('d')).toBeInstanceOf(Float64Array);
      expect(Array.from(get('d'))).toEqual(f64);
      expect(get('i')).toBeInstanceOf(Int32Array);
      expect(Array.from(get('i'))).toEqual(i32);
      expect(Array.from(get('s'))).toEqual(i16);
      expect(Array.from(get('u'))).toEqual([250, 3]);
      // a fresh array: changing it leaves the file as it was
      const again = get('d');
      again[0] = 0;
      expect(get('d')[0]).toBe(f64[0]);
      // F64 weights narrow to f32
      expect(Array.from(readSafetensorsFloat32(file, file.tensors.get('d')!))).toEqual(Array.from(Float32Array.from(f64)));
    }));

  it('serializes byte for byte what the format says, and round-trips F64, F32, F16, BF16 and integer tensors', () =>
    withSeed((rng) => {
      const values = Float32Array.from({ length: 6 * 5 }, () => rng.normal() * 3);
      const wide = Float64Array.from({ length: 4 }, () => rng.normal());
      const half = f32ArrayToF16(values);
      const brain = f32ArrayToBf16(values);
      const ids = Int32Array.of(-1, 5, 2 ** 30);
      const bytes = serializeSafetensors(
        {
          'a.weight': { dtype: 'F32', shape: [6, 5], data: values },
          'b.weight': { dtype: 'F16', shape: [5, 6], data: half },
          'c.weight': { dtype: 'BF16', shape: [30], data: brain },
          basis: { dtype: 'F64', shape: [2, 2], data: wide },
          ids: { dtype: 'I32', shape: [3], data: ids },
          empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
        },
        { format: 'pt' },
      );
      // The layout itself: the length field, the JSON header padded with spaces to 8 bytes, data in name order.
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + headerLength) % 8).toBe(0);
      const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
      expect(headerText.trimEnd().length).toBeGreaterThan(0);
      expect(/^ *$/.test(headerText.slice(headerText.trimEnd().length))).toBe(true);
      const header = JSON.parse(headerText);
      expect(header.__metadata__).toEqual({ format: 'pt' });
      expect(header['a.weight']).toEqual({ dtype: 'F32', shape: [6, 5], data_offsets: [0, 120] });
      expect(header['b.weight']).toEqual({ dtype: 'F16', shape: [5, 6], data_offsets: [120, 180] });
      expect(header['c.weight']).toEqual({ dtype: 'BF16', shape: [30], data_offsets: [212, 272] });
      expect(header.basis).toEqual({ dtype: 'F64', shape: [2, 2], data_offsets: [180, 212] }); // '.' sorts before 'a'
      expect(header.empty).toEqual({ dtype: 'F32', shape: [0, 4], data_offsets: [272, 272] });
      expect(header.ids).toEqual({ dtype: 'I32', shape: [3], data_offsets: [272, 284] });
      expect(bytes.length).toBe(8 + headerLength + 284);
      const data = new DataView(bytes.buffer, 8 + headerLength);
      values.forEach((v, i) => expect(data.getFloat32(i * 4, true)).toBe(v));
      wide.forEach((v, i) => expect(data.getFloat64(180 + i * 8, true)).toBe(v));
      ids.forEach((v, i) => expect(data.getInt32(272 + i * 4, true)).toBe(v));

      const file = parseSafetensors(bytes, 'x.safetensors');
      expect([...file.tensors.keys()].sort()).toEqual(['a.weight', 'b.weight', 'basis', 'c.weight', 'empty', 'ids']);
      const float = (name: string) => readSafetensorsFloat32(file, file.tensors.get(name)!);
      expect(Array.from(float('a.weight'))).toEqual(Array.from(values));
      // f16: every value within half an f16 ulp of the original (relative 2^-11).
      float('b.weight').forEach((v, i) => expect(Math.abs(v - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -11 + 2 ** -24));
      expect(Array.from(float('c.weight'))).toEqual(Array.from(bf16Reference(brain)));
      expect(float('empty')).toHaveLength(0);
      expect(Array.from(readSafetensorsData(file, file.tensors.get('b.weight')!))).toEqual(Array.from(half));
      expect(Array.from(readSafetensorsData(file, file.tensors.get('basis')!))).toEqual(Array.from(wide));
      expect(Array.from(readSafetensorsData(file, file.tensors.get('ids')!))).toEqual(Array.from(ids));

      // Reading the header alone (a lazy reader fetches the 8 bytes, then the header) gives the same entries.
      const length = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.length, 'x.safetensors');
      const lazy = parseSafetensorsHeader(bytes.subarray(8, 8 + length), bytes.length, 'x.safetensors');
      expect(lazy.tensors).toEqual(file.tensors);
      expect(lazy.dataStart).toBe(8 + headerLength);
    }));

  it('reads tensors whose data is not aligned in the file', () =>
    withSeed((rng) => {
      const values = Float32Array.from({ length: 7 }, () => rng.normal());
      const data = new Uint8Array(2 + 28);
      data.set(new Uint8Array(f32ArrayToF16(Float32Array.of(1.5)).buffer), 0);
      data.set(new Uint8Array(values.buffer), 2); // the f32 tensor starts 2 bytes into the data
      let header = JSON.stringify({ h: { dtype: 'F16', shape: [1], data_offsets: [0, 2] }, f: { dtype: 'F32', shape: [7], data_offsets: [2, 30] } });
      while ((8 + header.length + 2) % 4 === 0) header += ' ';
      const file = parseSafetensors(rawFile(header, data), 'odd.safetensors');
      expect(Array.from(readSafetensorsFloat32(file, file.tensors.get('f')!))).toEqual(Array.from(values));
      expect(Array.from(readSafetensorsData(file, file.tensors.get('f')!))).toEqual(Array.from(values));
      expect(Array.from(readSafetensorsFloat32(file, file.tensors.get('h')!))).toEqual([1.5]);
    }));

  it('names the file and the problem for malformed files', () => {
    corrupt(new Uint8Array(0), /truncated: 0 bytes, fewer than the 8-byte header length/);
    corrupt(new Uint8Array(5), /truncated: 5 bytes/);
    corrupt(rawFile('{}', new Uint8Array(0), 4096), /truncated header: its length field says 4096 bytes but only 2 follow/);
    corrupt(rawFile('{}', new Uint8Array(0), 2 ** 40), /header length 1099511627776 is larger than the 100000000-byte limit/);
    corrupt(rawFile('{"a": '), /header is not valid UTF-8 JSON/);
    corrupt(rawFile(new Uint8Array([0x7b, 0xff, 0x7d])), /header is not valid UTF-8 JSON/);
    corrupt(rawFile('[1, 2]'), /header must be a JSON object/);
    corrupt(rawFile({ __metadata__: { format: 3 } }), /"__metadata__" must be an object of strings/);
    corrupt(rawFile({ w: 3 }), /tensor "w": entry must be an object/);
    corrupt(rawFile({ w: { dtype: 'F24', shape: [1], data_offsets: [0, 3] } }), /tensor "w": unknown dtype "F24"/);
    corrupt(rawFile({ w: { dtype: 'toString', shape: [1], data_offsets: [0, 3] } }), /tensor "w": unknown dtype "toString"/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }), /tensor "w": shape must be an array of non-negative integers, got \[-1\]/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }), /shape must be an array of non-negative integers/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8] } }), /tensor "w": data_offsets must be \[begin, end\]/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }), /data_offsets must be \[begin, end\] with 0 <= begin <= end/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(24)), /tensor "w": data_offsets \[0, 20\] hold 20 bytes, but F32 shape \[2, 3\] needs 24/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } }, new Uint8Array(16)), /truncated: tensor "w" ends at data byte 24, but the file holds only 16 bytes of data/);
    corrupt(
      rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)),
      /tensors "a" and "b" overlap/,
    );
  });

  it('refuses to read integer tensors as floats, and dtypes it has no array for, naming the dtype', () => {
    const file = parseSafetensors(serializeSafetensors({ ids: { dtype: 'I32', shape: [2], data: Int32Array.of(1, 2) } }), 'odd.safetensors');
    const asFloat = caught(() => readSafetensorsFloat32(file, file.tensors.get('ids')!));
    expect(asFloat.code).toBe('UNSUPPORTED_DTYPE');
    expect(asFloat.message).toMatch(/odd\.safetensors: tensor "ids" has dtype I32; supported weight dtypes: F32, F16, BF16/);
    const wide = parseSafetensors(rawFile({ n: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), 'wide.safetensors');
    const noArray = caught(() => readSafetensorsData(wide, wide.tensors.get('n')!));
    expect(noArray.code).toBe('UNSUPPORTED_DTYPE');
    expect(noArray.message).toMatch(/wide\.safetensors: tensor "n" has dtype I64; readable dtypes: F64, F32/);
  });

  it('writes and reads float8 codes raw (F8_E4M3, F8_E5M2), which no float reader decodes without their scales', () => {
    const codes = Uint8Array.of(0x00, 0x38, 0x7e, 0xfe, 0x01);
    const file = parseSafetensors(serializeSafetensors({ q: { dtype: 'F8_E4M3', shape: [5], data: codes }, r: { dtype: 'F8_E5M2', shape: [1], data: Uint8Array.of(0x3c) } }), 'fp8.safetensors');
    expect(Array.from(readSafetensorsData(file, file.tensors.get('q')!))).toEqual(Array.from(codes));
    expect(file.tensors.get('r')!.dtype).toBe('F8_E5M2');
    expect(caught(() => readSafetensorsFloat32(file, file.tensors.get('q')!)).code).toBe('UNSUPPORTED_DTYPE');
  });

  it('refuses to write data that does not hold the declared dtype or fill the shape', () => {
    const wrongArray = caught(() => serializeSafetensors({ w: { dtype: 'I32', shape: [2], data: Float32Array.of(1, 2) as unknown as Int32Array } }));
    expect(wrongArray.code).toBe('DTYPE_MISMATCH');
    expect(wrongArray.message).toMatch(/tensor "w" is declared I32 but holds a Float32Array \(I32 is written from a Int32Array\)/);
    const unknown = caught(() => serializeSafetensors({ w: { dtype: 'F8' as 'F32', shape: [1], data: Float32Array.of(1) } }));
    expect(unknown.code).toBe('DTYPE_MISMATCH');
    const short = caught(() => serializeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: Float32Array.of(1, 2) } }));
    expect(short.code).toBe('SHAPE_MISMATCH');
    expect(short.message).toMatch(/tensor "w": 2 elements do not fill F32 \[2, 2\]/);
    expect(caught(() => serializeSafetensors({ __metadata__: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } })).code).toBe('INVALID_CONFIG');
  });
});
