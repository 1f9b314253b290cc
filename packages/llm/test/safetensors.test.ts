import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CorruptModelFileError, f32ArrayToBf16, f32ArrayToF16 } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, parseShardIndex, readFloat32, serializeSafetensors } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';

/** A file from a header (object or raw text) and data bytes; `declaredLength` overrides the length field. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), declaredLength?: number): Uint8Array {
  const json = header instanceof Uint8Array ? header : new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function corrupt(bytes: Uint8Array, pattern: RegExp): void {
  const error = expectKvkitError(() => parseSafetensors(bytes, 'model-00001-of-00002.safetensors'), 'CORRUPT_MODEL_FILE', pattern);
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
  it('reads files written by PyTorch (F32, F16 and BF16)', () => {
    for (const [name, dtype] of [
      ['llama', 'F32'],
      ['llama-f16', 'F16'],
      ['qwen2-bf16-tied', 'BF16'],
    ] as const) {
      const file = parseSafetensors(new Uint8Array(readFileSync(join(TORCH_REFERENCE, name, 'model.safetensors'))), 'model.safetensors');
      expect(file.metadata).toEqual({ format: 'pt' });
      const embed = file.tensors.get('model.embed_tokens.weight');
      expect(embed).toMatchObject({ dtype, shape: [96, 32] });
      const values = readFloat32(file, embed!);
      expect(values).toHaveLength(96 * 32);
      expect(values.every(Number.isFinite)).toBe(true);
      // Embeddings were drawn from N(0, 1): a loose check that the bytes decoded as numbers, not noise.
      const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
      expect(variance).toBeGreaterThan(0.7);
      expect(variance).toBeLessThan(1.3);
    }
  });

  it('round-trips F32, F16 and BF16 tensors through serializeSafetensors', () =>
    withSeed((rng) => {
      const values = Float32Array.from({ length: 6 * 5 }, () => rng.normal() * 3);
      const half = f32ArrayToF16(values);
      const brain = f32ArrayToBf16(values);
      const bytes = serializeSafetensors(
        {
          'a.weight': { dtype: 'F32', shape: [6, 5], data: values },
          'b.weight': { dtype: 'F16', shape: [5, 6], data: half },
          'c.weight': { dtype: 'BF16', shape: [30], data: brain },
          empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
        },
        { format: 'pt' },
      );
      const file = parseSafetensors(bytes, 'x.safetensors');
      expect([...file.tensors.keys()].sort()).toEqual(['a.weight', 'b.weight', 'c.weight', 'empty']);
      expect(Array.from(readFloat32(file, file.tensors.get('a.weight')!))).toEqual(Array.from(values));
      // f16: every value within half an f16 ulp of the original (relative 2^-11).
      const fromHalf = readFloat32(file, file.tensors.get('b.weight')!);
      fromHalf.forEach((v, i) => expect(Math.abs(v - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -11 + 2 ** -24));
      expect(Array.from(readFloat32(file, file.tensors.get('c.weight')!))).toEqual(Array.from(bf16Reference(brain)));
      expect(readFloat32(file, file.tensors.get('empty')!)).toHaveLength(0);
      expect((8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8).toBe(0);
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
      expect(Array.from(readFloat32(file, file.tensors.get('f')!))).toEqual(Array.from(values));
      expect(Array.from(readFloat32(file, file.tensors.get('h')!))).toEqual([1.5]);
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
    corrupt(rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }), /tensor "w": shape must be an array of non-negative integers, got \[-1\]/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }), /shape must be an array of non-negative integers/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8] } }), /tensor "w": data_offsets must be \[begin, end\]/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }), /data_offsets must be \[begin, end\] with 0 <= begin <= end/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(24)), /tensor "w": data_offsets \[0, 20\] hold 20 bytes, but F32 shape \[2, 3\] needs 24/);
    corrupt(rawFile({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] } }, new Uint8Array(16)), /truncated: tensor "w" ends at data byte 24, but the file holds only 16 bytes of data/);
    corrupt(
      rawFile(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
        },
        new Uint8Array(12),
      ),
      /tensors "a" and "b" overlap/,
    );
  });

  it('refuses to read integer tensors as weights, naming the dtype', () => {
    const file = parseSafetensors(serializeSafetensors({ ids: { dtype: 'I32', shape: [2], data: Int32Array.of(1, 2) } }), 'odd.safetensors');
    expectKvkitError(() => readFloat32(file, file.tensors.get('ids')!), 'UNSUPPORTED_DTYPE', /odd\.safetensors: tensor "ids" has dtype I32; supported weight dtypes: F32, F16, BF16/);
  });

  it('parses a shard index and refuses a malformed one', () => {
    const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
    const index = parseShardIndex(enc({ metadata: { total_size: 10 }, weight_map: { a: 'm-1.safetensors', b: 'm-2.safetensors', c: 'm-1.safetensors' } }));
    expect(index.shards).toEqual(['m-1.safetensors', 'm-2.safetensors']);
    expect(index.weightMap.get('b')).toBe('m-2.safetensors');
    const bad = (value: Uint8Array, pattern: RegExp): void => {
      expect(expectKvkitError(() => parseShardIndex(value), 'CORRUPT_MODEL_FILE', pattern).message).toMatch(/^model\.safetensors\.index\.json: /);
    };
    bad(new TextEncoder().encode('{"weight_map": '), /is not valid JSON/);
    bad(enc({ metadata: {} }), /needs a "weight_map" object/);
    bad(enc({ weight_map: {} }), /weight_map is empty/);
    bad(enc({ weight_map: { a: '../secret.safetensors' } }), /weight_map entry "a" must name a shard file in the same directory/);
    bad(enc({ weight_map: { a: 7 } }), /must name a shard file/);
  });
});
