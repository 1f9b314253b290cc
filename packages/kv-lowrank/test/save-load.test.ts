import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import {
  decodeProjections,
  encodeProjections,
  fitPalu,
  fitProjections,
  loadProjections,
  saveProjections,
  uniformAllocation,
} from '../src/index.js';
import { specOf, syntheticCalibration } from './helpers.js';

function withHeader(header: string, data = new Uint8Array(0)): Uint8Array {
  const bytes = new Uint8Array(8 + header.length + data.length);
  new DataView(bytes.buffer).setUint32(0, header.length, true);
  bytes.set(new TextEncoder().encode(header), 8);
  bytes.set(data, 8 + header.length);
  return bytes;
}

describe('projection files', () => {
  it('refuses a corrupt safetensors container with CorruptModelFileError', () =>
    withSeed((rng) => {
      const { set } = syntheticCalibration(rng, specOf(), 16, 2, { weights: true });
      const { safetensors, sidecar } = encodeProjections(fitPalu(set, { groupSize: 2 }));
      const truncated = safetensors.subarray(0, safetensors.length - 4);
      const overlapping = withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4));
      for (const bytes of [new Uint8Array(5), truncated, withHeader('{not json'), overlapping]) {
        expect(() => decodeProjections(bytes, sidecar, 'p.safetensors')).toThrow(expect.objectContaining({ code: 'CORRUPT_MODEL_FILE' }));
      }
    }));

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
      const { set } = syntheticCalibration(rng, specOf(), 16, 2, { weights: true });
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
