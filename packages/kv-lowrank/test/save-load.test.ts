import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import {
  decodeProjections,
  decodeSafetensors,
  encodeProjections,
  encodeSafetensors,
  fitPalu,
  fitProjections,
  loadProjections,
  saveProjections,
  uniformAllocation,
} from '../src/index.js';
import { specOf, syntheticCalibration } from './helpers.js';

/** A safetensors file written byte by byte from the format's definition. */
function handMade(): Uint8Array {
  const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1,1],"data_offsets":[8,12]},"__metadata__":{"k":"v"}}';
  const bytes = new Uint8Array(8 + header.length + 12);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, header.length, true);
  bytes.set(new TextEncoder().encode(header), 8);
  view.setFloat32(8 + header.length, 1.5, true);
  view.setFloat32(12 + header.length, -2.25, true);
  view.setInt32(16 + header.length, -7, true);
  return bytes;
}

function withHeader(header: string, data = new Uint8Array(0)): Uint8Array {
  const bytes = new Uint8Array(8 + header.length + data.length);
  new DataView(bytes.buffer).setUint32(0, header.length, true);
  bytes.set(new TextEncoder().encode(header), 8);
  bytes.set(data, 8 + header.length);
  return bytes;
}

describe('safetensors', () => {
  it('reads a file written from the format definition', () => {
    const { tensors, metadata } = decodeSafetensors(handMade());
    expect(Array.from(tensors.a.data)).toEqual([1.5, -2.25]);
    expect(tensors.b).toEqual({ dtype: 'I32', shape: [1, 1], data: Int32Array.of(-7) });
    expect(metadata).toEqual({ k: 'v' });
  });

  it('round-trips F64, F32 and I32 tensors with an 8-byte aligned data section', () =>
    withSeed((rng) => {
      const tensors = {
        x: { dtype: 'F64' as const, shape: [2, 3], data: Float64Array.from({ length: 6 }, () => rng.normal()) },
        y: { dtype: 'F32' as const, shape: [3], data: Float32Array.from({ length: 3 }, () => rng.normal()) },
        z: { dtype: 'I32' as const, shape: [0], data: new Int32Array(0) },
      };
      const bytes = encodeSafetensors(tensors, { note: 'hi' });
      const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + headerLength) % 8).toBe(0);
      const decoded = decodeSafetensors(bytes);
      expect(decoded.tensors).toEqual(tensors);
      expect(decoded.metadata).toEqual({ note: 'hi' });
    }));

  it('refuses inconsistent tensors when writing', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => encodeSafetensors({ a: { dtype: 'F64', shape: [2], data: new Float32Array(2) } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [0], data: new Float32Array(0) } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });

  it('rejects corrupt files with CorruptModelFileError', () => {
    const four = new Uint8Array(4);
    const good = handMade();
    const tooLong = good.slice();
    new DataView(tooLong.buffer).setUint32(0, 10_000, true);
    const cases = [
      new Uint8Array(5),
      tooLong,
      withHeader('{not json'),
      withHeader('[1]'),
      withHeader('{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', four),
      withHeader('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', four),
      withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', four),
      withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}', four),
      withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', four),
      withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', four),
      withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)),
      withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(8)),
      withHeader('{"__metadata__":{"k":1}}'),
    ];
    for (const bytes of cases) expect(() => decodeSafetensors(bytes, 'f.safetensors')).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
  });
});

describe('projection files', () => {
  it('round-trip bit-exactly in F64 and to f32 precision in F32, with ranks and metadata', () =>
    withSeed((rng) => {
      const { set } = syntheticCalibration(rng, specOf(), 32, 3, { weights: true });
      const projections = fitPalu(set, { groupSize: 2 });
      const ranks = uniformAllocation(projections, 0.25);
      const exact = encodeProjections(projections, { basisDtype: 'F64', ranks, metadata: { model: 'synthetic' } });
      const back = decodeProjections(exact.safetensors, JSON.parse(JSON.stringify(exact.sidecar)));
      expect(back.projections).toEqual(projections);
      expect(back.ranks).toEqual(ranks);
      expect(back.metadata).toEqual({ model: 'synthetic' });
      const compact = encodeProjections(projections);
      const f32 = decodeProjections(compact.safetensors, compact.sidecar).projections;
      expect(compact.safetensors.length).toBeLessThan(exact.safetensors.length);
      f32.key.layers.forEach((groups, l) =>
        groups.forEach((g, j) => {
          expect(g.basis.data).toEqual(projections.key.layers[l][j].basis.data.map(Math.fround));
          expect(g.spectrum).toEqual(projections.key.layers[l][j].spectrum);
          expect(g.totalEnergy).toBe(projections.key.layers[l][j].totalEnergy);
        }),
      );
    }));

  it('save to disk and load back (Node helpers)', () =>
    withSeed(async (rng) => {
      const { set } = syntheticCalibration(rng, specOf(), 24, 2);
      const projections = fitProjections(set, { keys: 'keys-pre-rope', keyGroupSize: 2 });
      const dir = await mkdtemp(join(tmpdir(), 'kv-lowrank-'));
      try {
        const paths = await saveProjections(join(dir, 'model'), projections, { basisDtype: 'F64' });
        expect(paths.tensors.endsWith('model.safetensors')).toBe(true);
        const { projections: loaded } = await loadProjections(join(dir, 'model'));
        expect(loaded).toEqual(projections);
        await writeFile(join(dir, 'model.json'), '{oops');
        await expect(loadProjections(join(dir, 'model'))).rejects.toMatchObject({ code: 'CORRUPT_MODEL_FILE' });
        await expect(loadProjections(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
      } finally {
        await rm(dir, { recursive: true });
      }
    }));

  it('refuses a sidecar that does not match its tensors', () =>
    withSeed((rng) => {
      const { set } = syntheticCalibration(rng, specOf(), 16, 2);
      const projections = fitProjections(set);
      const { safetensors, sidecar } = encodeProjections(projections);
      const bad = [
        { ...sidecar, format: 'x' },
        { ...sidecar, key: { ...sidecar.key, source: 'magic' } },
        { ...sidecar, numLayers: 3 },
        { ...sidecar, kvHeads: 4 },
        { ...sidecar, key: { ...sidecar.key, groupSize: 0 } },
        { ...sidecar, basisDtype: 'F64' },
        { ...sidecar, headDim: 4 },
        { ...sidecar, keyInput: 'pre-rope' },
        { ...sidecar, ranks: { key: [[99, 1], [1, 1]], value: [[1, 1], [1, 1]] } },
      ];
      for (const s of bad) expect(() => decodeProjections(safetensors, s)).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
      expect(() => encodeProjections(projections, { basisDtype: 'F16' as 'F32' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));
});
