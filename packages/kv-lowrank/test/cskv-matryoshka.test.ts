import { type Matrix, createCache, rope, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { allocateRanksByEnergy, allocationCost, budgetFor, cskv, eigenAttention, fitCskv, fitMatryoshka, matryoshka, rankUnits } from '../src/index.js';
import { HostKV, backend, positions, randomTensor, referenceAttention, specOf, syntheticCalibration } from './helpers.js';

/** x_group ↦ P_r P_rᵀ x_group for every token of heads-first [heads, n, d] data (one group of all heads). */
function projectGroup(data: number[], heads: number, n: number, d: number, basis: Matrix, rank: number): number[] {
  const out = new Array<number>(data.length).fill(0);
  for (let t = 0; t < n; t++) {
    const x = Array.from({ length: heads * d }, (_, i) => data[(Math.floor(i / d) * n + t) * d + (i % d)]);
    for (let c = 0; c < rank; c++) {
      let z = 0;
      for (let i = 0; i < heads * d; i++) z += basis.data[i * basis.cols + c] * x[i];
      for (let i = 0; i < heads * d; i++) out[(Math.floor(i / d) * n + t) * d + (i % d)] += basis.data[i * basis.cols + c] * z;
    }
  }
  return out;
}

describe('cskv', () => {
  it('keeps the window exact and compresses older tokens (pre-RoPE, rotated after rebuilding)', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 1 });
      const projections = fitCskv(syntheticCalibration(rng, spec, 48, 3).set);
      expect(projections.key.groupSize).toBe(2);
      const rank = 5;
      const window = 4;
      const layer = createCache(spec, cskv({ projections, rank, window, storage: { dtype: 'f32' } })).layers[0];
      expect(layer.keyInput).toBe('pre-rope');
      const host = new HostKV(2, 8);
      let t = 0;
      for (const n of [7, 1, 2, 1, 6]) {
        const k = randomTensor(rng, [2, n, 8]);
        const v = randomTensor(rng, [2, n, 8]);
        layer.append(k, v, { positions: positions(t, n), phase: t === 0 ? 'prefill' : 'decode' });
        host.add(k.readFloat32Sync(), v.readFloat32Sync(), positions(t, n));
        t += n;
        const old = t - window;
        // Reference: tokens before the window through P_r P_rᵀ (keys before RoPE), the window exact.
        const mix = (flat: number[], basis: Matrix) => {
          const projected = projectGroup(flat, 2, t, 8, basis, rank);
          return flat.map((x, i) => (Math.floor(i / 8) % t < old ? projected[i] : x));
        };
        const keysPre = mix(host.flatKeys(), projections.key.layers[0][0].basis);
        const values = mix(host.flatValues(), projections.value.layers[0][0].basis);
        const pos = host.keyPositions();
        const keys = rope(tensor(Float32Array.from(keysPre), [2, t, 8], { backend }), tensor(pos, [t], { dtype: 'i32', backend }), tensor(spec.rope.invFreq, [4], { backend })).readFloat32Sync();
        const q = randomTensor(rng, [4, 2, 8]);
        const ref = referenceAttention(q, keys, values, 2, positions(t - 2, 2), pos).output;
        assertClose(layer.attend(q, { positions: positions(t - 2, 2) }).output.readSync(), ref.readSync(), 1e-5, `after ${t} tokens`);
      }
      expect(layer.memory().parts).toMatchObject({ window: 2 * window * 2 * 8 * 4, latents: (t - window) * 2 * rank * 4 });
    }));

  it('full rank is exact, and a failed append leaves window and latents as they were', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 1 });
      const projections = fitCskv(syntheticCalibration(rng, spec, 48, 3).set);
      const layer = createCache(spec, cskv({ projections, rank: 16, window: 3, storage: { dtype: 'f32' } })).layers[0];
      // Fewer tokens than the window: everything is still exact, nothing is compressed yet.
      const early = createCache(spec, cskv({ projections, rank: 2, window: 3, storage: { dtype: 'f32' } })).layers[0];
      const k2 = randomTensor(rng, [2, 2, 8]);
      early.append(k2, k2, { positions: positions(0, 2), phase: 'prefill' });
      expect(early.memory().parts.latents).toBeUndefined();
      const q2 = randomTensor(rng, [4, 1, 8]);
      const rotated = rope(k2, tensor(positions(0, 2), [2], { dtype: 'i32', backend }), tensor(spec.rope.invFreq, [4], { backend })).readFloat32Sync();
      assertClose(early.attend(q2, { positions: positions(1, 1) }).output.readSync(), referenceAttention(q2, rotated, k2.readFloat32Sync(), 2, positions(1, 1), positions(0, 2)).output.readSync(), 1e-6);
      const k = randomTensor(rng, [2, 5, 8]);
      const v = randomTensor(rng, [2, 5, 8]);
      layer.append(k, v, { positions: positions(0, 5), phase: 'prefill' });
      const q = randomTensor(rng, [4, 1, 8]);
      const keys = rope(k, tensor(positions(0, 5), [5], { dtype: 'i32', backend }), tensor(spec.rope.invFreq, [4], { backend })).readFloat32Sync();
      const ref = referenceAttention(q, keys, v.readFloat32Sync(), 2, positions(4, 1), positions(0, 5)).output.readSync();
      assertClose(layer.attend(q, { positions: positions(4, 1) }).output.readSync(), ref, 1e-5);
      const memory = layer.memory();
      expect(() => layer.append(k, randomTensor(rng, [2, 4, 8]), { positions: positions(5, 5), phase: 'decode' })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      expect(layer.memory()).toEqual(memory);
      assertClose(layer.attend(q, { positions: positions(4, 1) }).output.readSync(), ref, 1e-5);
      expect(() => cskv({ projections, window: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => cskv(undefined as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));

  it('quantizes the compressed branch while the window stays full precision', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 1 });
      const projections = fitCskv(syntheticCalibration(rng, spec, 48, 3).set);
      const layer = createCache(spec, cskv({ projections, ratio: 0.5, window: 4, storage: { bits: 4 } })).layers[0];
      layer.append(randomTensor(rng, [2, 10, 8]), randomTensor(rng, [2, 10, 8]), { positions: positions(0, 10), phase: 'prefill' });
      const parts = layer.memory().parts;
      expect(parts.codes).toBe(2 * 6 * 4); // keys + values, 6 tokens, 8 latents × 4 bits = one word
      expect(parts.window).toBe(2 * 4 * 2 * 8 * 2);
      expect(parts.latents).toBeUndefined();
    }));
});

describe('matryoshka (PCA)', () => {
  it('spends the budget across heads by energy and stores exactly the allocated latents', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 2, headDim: 8 });
      const projections = fitMatryoshka(syntheticCalibration(rng, spec, 40, 2).set);
      const layer = createCache(spec, matryoshka({ projections, ratio: 0.25, storage: { dtype: 'f32' } })).layers[1];
      layer.append(randomTensor(rng, [2, 3, 8]), randomTensor(rng, [2, 3, 8]), { positions: positions(0, 3), phase: 'prefill' });
      const budget = budgetFor(rankUnits(projections, 'group'), 0.25, 'test');
      expect(budget).toBe(Math.floor(0.25 * 2 * 2 * 2 * 8));
      const ranks = allocateRanksByEnergy(projections, { ratio: 0.25 });
      expect(allocationCost(ranks)).toBe(budget);
      // Values have rank 2 per head: their third direction has no energy, so it is never bought.
      for (const layerRanks of ranks.value) for (const r of layerRanks) expect(r).toBeLessThanOrEqual(2);
      const layerCost = [...ranks.key[1], ...ranks.value[1]].reduce((a, b) => a + b, 0);
      expect(layer.memory().parts.latents).toBe(3 * layerCost * 4);
      expect(() => matryoshka({ projections, ratio: 0.5, ranks: { key: [], value: [] } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => matryoshka({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));

  it('nested ranks: a per-head allocation equals eigen attention with the same ranks', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 1 });
      const projections = fitMatryoshka(syntheticCalibration(rng, spec, 40, 3).set);
      const ranks = { key: [[2, 6]], value: [[5, 1]] };
      expect(allocationCost(ranks)).toBe(14);
      const a = createCache(spec, matryoshka({ projections, ranks, storage: { dtype: 'f32' } })).layers[0];
      const b = createCache(spec, eigenAttention({ projections, ranks, storage: { dtype: 'f32' } })).layers[0];
      const k = randomTensor(rng, [2, 6, 8]);
      const v = randomTensor(rng, [2, 6, 8]);
      for (const layer of [a, b]) layer.append(k, v, { positions: positions(0, 6), phase: 'prefill' });
      const q = randomTensor(rng, [4, 1, 8]);
      expect(a.attend(q, { positions: positions(5, 1) }).output.readSync()).toEqual(b.attend(q, { positions: positions(5, 1) }).output.readSync());
      expect(a.memory().parts.latents).toBe(6 * 14 * 4);
    }));
});
