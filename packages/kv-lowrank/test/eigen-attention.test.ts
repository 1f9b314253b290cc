import { createCache, tensor } from '@kvkit/tensor-core';
import { assertClose, relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KVCalibrationSet, eigenAttention, fitEigenAttention, fitProjections, uniformAllocation } from '../src/index.js';
import { HostKV, backend, lowRankRows, positions, randomTensor, referenceAttention, rowsInSubspaces, specOf, syntheticCalibration } from './helpers.js';

describe('eigen attention', () => {
  it('rank = headDim reproduces attention exactly over prefill and decode, statistics included', () =>
    withSeed((rng) => {
      const spec = specOf();
      const projections = fitEigenAttention(syntheticCalibration(rng, spec, 64, 3).set);
      const cache = createCache(spec, eigenAttention({ projections, rank: spec.headDim, storage: { dtype: 'f32' } }));
      const layer = cache.layers[1];
      const host = new HostKV(2, 8);
      let t = 0;
      for (const n of [9, 1, 1, 4]) {
        const k = randomTensor(rng, [2, n, 8]);
        const v = randomTensor(rng, [2, n, 8]);
        layer.append(k, v, { positions: positions(t, n), phase: t === 0 ? 'prefill' : 'decode' });
        host.add(k.readFloat32Sync(), v.readFloat32Sync(), positions(t, n));
        t += n;
        const q = randomTensor(rng, [4, n, 8]);
        const got = layer.attend(q, { positions: positions(t - n, n), statistics: true });
        const ref = referenceAttention(q, host.flatKeys(), host.flatValues(), 2, positions(t - n, n), host.keyPositions(), { statistics: true });
        assertClose(got.output.readSync(), ref.output.readSync(), 1e-5, `after ${t} tokens`);
        assertClose(got.statistics!.keySum.readSync(), ref.statistics!.keySum.readSync(), 1e-5, 'keySum');
        assertClose(got.statistics!.keyMax.readSync(), ref.statistics!.keyMax.readSync(), 1e-5, 'keyMax');
      }
      expect(layer.length).toBe(15);
    }));

  it('is exact at low rank when keys and values lie in the fitted subspaces', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 1, headDim: 16 });
      const set = new KVCalibrationSet({ ...spec, maxTokens: 60 });
      const keys = lowRankRows(rng, 2, 60, 16, 4);
      const values = lowRankRows(rng, 2, 60, 16, 5);
      set.add({ layerIndex: 0, key: tensor(keys.data, [2, 60, 16], { backend }), value: tensor(values.data, [2, 60, 16], { backend }) });
      const projections = fitEigenAttention(set);
      expect(projections.key.source).toBe('keys-post-rope');
      const layer = createCache(spec, eigenAttention({ projections, ranks: { key: [[4, 4]], value: [[5, 5]] }, storage: { dtype: 'f32' } })).layers[0];
      const k = rowsInSubspaces(rng, keys.bases, 12);
      const v = rowsInSubspaces(rng, values.bases, 12);
      layer.append(tensor(k, [2, 12, 16], { backend }), tensor(v, [2, 12, 16], { backend }), { positions: positions(0, 12), phase: 'prefill' });
      const q = randomTensor(rng, [4, 3, 16]);
      const got = layer.attend(q, { positions: positions(9, 3) }).output;
      const ref = referenceAttention(q, k, v, 2, positions(9, 3), positions(0, 12)).output;
      assertClose(got.readSync(), ref.readSync(), 1e-5);
      // 4 + 5 latent numbers per head instead of 16 + 16.
      expect(layer.memory().parts.latents).toBe(12 * 2 * (4 + 5) * 4);
    }));

  it('absorbing the projections equals rebuilding K/V at any rank', () =>
    withSeed((rng) => {
      const spec = specOf();
      const projections = fitEigenAttention(syntheticCalibration(rng, spec, 40, 3).set);
      const make = (attend: 'absorb' | 'reconstruct') => createCache(spec, eigenAttention({ projections, rank: 3, storage: { dtype: 'f32' }, attend })).layers[0];
      const absorbed = make('absorb');
      const rebuilt = make('reconstruct');
      const k = randomTensor(rng, [2, 10, 8]);
      const v = randomTensor(rng, [2, 10, 8]);
      for (const layer of [absorbed, rebuilt]) layer.append(k, v, { positions: positions(0, 10), phase: 'prefill' });
      const q = randomTensor(rng, [4, 2, 8]);
      assertClose(absorbed.attend(q, { positions: positions(8, 2) }).output.readSync(), rebuilt.attend(q, { positions: positions(8, 2) }).output.readSync(), 1e-5);
    }));

  it('loses accuracy smoothly with rank, f16 latents stay close to f32, and memory is counted by part', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 1, headDim: 16 });
      const set = new KVCalibrationSet({ ...spec, maxTokens: 80 });
      const data = () => Float32Array.from({ length: 2 * 80 * 16 }, (_, i) => rng.normal() * Math.exp(-(i % 16) / 3));
      set.add({ layerIndex: 0, key: tensor(data(), [2, 80, 16], { backend }), value: tensor(data(), [2, 80, 16], { backend }) });
      const projections = fitProjections(set);
      const k = Float32Array.from({ length: 2 * 20 * 16 }, (_, i) => rng.normal() * Math.exp(-(i % 16) / 3));
      const v = Float32Array.from({ length: 2 * 20 * 16 }, (_, i) => rng.normal() * Math.exp(-(i % 16) / 3));
      const q = randomTensor(rng, [4, 1, 16]);
      const ref = referenceAttention(q, k, v, 2, positions(19, 1), positions(0, 20)).output.readSync();
      const errors = [2, 6, 12, 16].map((rank) => {
        const layer = createCache(spec, eigenAttention({ projections, rank, storage: { dtype: 'f32' } })).layers[0];
        layer.append(tensor(k, [2, 20, 16], { backend }), tensor(v, [2, 20, 16], { backend }), { positions: positions(0, 20), phase: 'prefill' });
        return relativeError(layer.attend(q, { positions: positions(19, 1) }).output.readSync(), ref);
      });
      expect(errors[0]).toBeGreaterThan(errors[2]);
      expect(errors[3]).toBeLessThan(1e-5);
      const half = createCache(spec, eigenAttention({ projections, rank: 8, initialCapacity: 32 })).layers[0];
      const full = createCache(spec, eigenAttention({ projections, rank: 8, storage: { dtype: 'f32' }, initialCapacity: 32 })).layers[0];
      for (const layer of [half, full]) layer.append(tensor(k, [2, 20, 16], { backend }), tensor(v, [2, 20, 16], { backend }), { positions: positions(0, 20), phase: 'prefill' });
      expect(relativeError(half.attend(q, { positions: positions(19, 1) }).output.readSync(), full.attend(q, { positions: positions(19, 1) }).output.readSync())).toBeLessThan(1e-2);
      expect(half.memory()).toEqual({
        bytes: expect.any(Number),
        parts: {
          latents: 20 * 2 * (8 + 8) * 2,
          positions: 20 * 8,
          reserved: 12 * 2 * (8 + 8) * 2 + 12 * 8,
          projections: 2 * 2 * 16 * 8 * 4,
        },
        tokens: 20,
      });
      const m = half.memory();
      expect(m.bytes).toBe(Object.values(m.parts).reduce((a, b) => a + b, 0));
    }));

  it('chooses ranks by energy threshold or allocation', () =>
    withSeed((rng) => {
      const spec = specOf();
      const projections = fitEigenAttention(syntheticCalibration(rng, spec, 40, 3).set);
      const layer = createCache(spec, eigenAttention({ projections, energy: 0.999999 })).layers[0];
      layer.append(randomTensor(rng, [2, 4, 8]), randomTensor(rng, [2, 4, 8]), { positions: positions(0, 4), phase: 'prefill' });
      // Values have rank 3 per head; keys+queries need more directions.
      expect(layer.memory().parts.latents).toBeGreaterThanOrEqual(4 * 2 * 3 * 2 * 2);
      const byAllocation = createCache(spec, eigenAttention({ projections, ranks: uniformAllocation(projections, 0.25) })).layers[0];
      byAllocation.append(randomTensor(rng, [2, 4, 8]), randomTensor(rng, [2, 4, 8]), { positions: positions(0, 4), phase: 'prefill' });
      expect(byAllocation.memory().parts.latents).toBe(4 * 2 * (2 + 2) * 2);
    }));

  it('attends to nothing before the first append, and refuses bad input leaving the layer unchanged', () =>
    withSeed((rng) => {
      const spec = specOf();
      const projections = fitEigenAttention(syntheticCalibration(rng, spec, 30, 3).set);
      const layer = createCache(spec, eigenAttention({ projections, rank: 4 })).layers[0];
      const empty = layer.attend(randomTensor(rng, [4, 1, 8]), { positions: positions(0, 1), statistics: true });
      expect(Array.from(empty.output.readSync())).toEqual(new Array(32).fill(0));
      expect(empty.statistics!.keySum.shape).toEqual([4, 0]);
      const k = randomTensor(rng, [2, 3, 8]);
      layer.append(k, k, { positions: positions(0, 3), phase: 'prefill' });
      const q = randomTensor(rng, [4, 1, 8]);
      const before = layer.attend(q, { positions: positions(3, 1) }).output.readSync();
      const memory = layer.memory();
      const bad: [() => unknown, string][] = [
        [() => layer.append(randomTensor(rng, [3, 2, 8]), k, { positions: positions(3, 2), phase: 'decode' }), 'SHAPE_MISMATCH'],
        [() => layer.append(k, k, { positions: positions(3, 2), phase: 'decode' }), 'SHAPE_MISMATCH'],
        [() => layer.append(k, k, { positions: Int32Array.of(-1, 4, 5), phase: 'decode' }), 'INVALID_CONFIG'],
        [() => layer.append(tensor(new Int32Array(48), [2, 3, 8], { dtype: 'i32', backend }), k, { positions: positions(3, 3), phase: 'decode' }), 'UNSUPPORTED_DTYPE'],
        [() => layer.attend(randomTensor(rng, [3, 1, 8]), { positions: positions(3, 1) }), 'SHAPE_MISMATCH'],
        [() => layer.attend(q, { positions: positions(3, 2) }), 'SHAPE_MISMATCH'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
      expect(layer.length).toBe(3);
      expect(layer.memory()).toEqual(memory);
      expect(Array.from(layer.attend(q, { positions: positions(3, 1) }).output.readSync())).toEqual(Array.from(before));
      layer.dispose();
      expect(() => layer.attend(q, { positions: positions(3, 1) })).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    }));

  it('refuses bad configurations with InvalidConfigError', () =>
    withSeed((rng) => {
      const spec = specOf();
      const { set } = syntheticCalibration(rng, spec, 30, 3);
      const projections = fitEigenAttention(set);
      const preRope = fitProjections(set, { keys: 'keys-pre-rope' });
      const bad: [() => unknown, string][] = [
        [() => eigenAttention({ projections: preRope, rank: 4 }), 'INVALID_CONFIG'],
        [() => eigenAttention({ projections, rank: 4, ratio: 0.5 }), 'INVALID_CONFIG'],
        [() => eigenAttention({ projections, rank: 9 }), 'INVALID_CONFIG'],
        [() => eigenAttention({ projections, ratio: 0 }), 'INVALID_CONFIG'],
        [() => eigenAttention({ projections, energy: 2 }), 'INVALID_CONFIG'],
        [() => eigenAttention({ projections, ranks: { key: [[1, 1]], value: [[1, 1]] } }), 'INVALID_CONFIG'],
        [() => eigenAttention({ projections, storage: { dtype: 'bf16' as 'f16' } }), 'INVALID_CONFIG'],
        [() => eigenAttention({ projections, storage: { bits: 5 } }), 'UNSUPPORTED_BIT_WIDTH'],
        [() => eigenAttention({ projections, storage: { bits: 4, quantGroup: 0 } }), 'INVALID_CONFIG'],
        [() => eigenAttention({ projections, initialCapacity: 0 }), 'INVALID_CONFIG'],
        [() => eigenAttention({ projections, attend: 'both' as 'absorb' }), 'INVALID_CONFIG'],
        [() => eigenAttention({ projections: { ...projections, headDim: 0 } }), 'INVALID_CONFIG'],
        [() => createCache(specOf({ kvHeads: 1, qHeads: 2 }), eigenAttention({ projections })), 'INVALID_CONFIG'],
        [() => createCache(specOf({ numLayers: 3 }), eigenAttention({ projections })), 'INVALID_CONFIG'],
      ];
      for (const [call, code] of bad) expect(call).toThrow(expect.objectContaining({ code }));
    }));
});
