import { tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import {
  type CompressingLayer,
  evictThenMergePolicy,
  gaussianMergePolicy,
  h2o,
  kvMerger,
  type PolicyContext,
  raggedDenseStore,
  recallMergePolicy,
  TokenTable,
} from '../src/index.js';
import { backend, layerSpec, positions, randomArray } from './helpers.js';

const d = 4;
const spec = layerSpec({ qHeads: 1, kvHeads: 1, headDim: d });

/** A one-head f32 store holding `keys`/`values` rows, with a table and the given scores. */
function context(keys: number[][], values: number[][], scores: number[]): PolicyContext {
  const store = raggedDenseStore({ dtype: 'f32' })({ kvHeads: 1, headDim: d, backend, layerIndex: 0 });
  const n = keys.length;
  store.append(tensor(keys.flat(), [1, n, d], { backend }), tensor(values.flat(), [1, n, d], { backend }), positions(0, n));
  const table = new TokenTable(1);
  table.append(n);
  return { store, table, scores: Float64Array.from(scores), phase: 'prefill' };
}

const dist2 = (a: number[], b: number[]) => a.reduce((s, x, c) => s + (x - b[c]) ** 2, 0);
const combine = (vectors: number[][], weights: number[]) => {
  const total = weights.reduce((a, b) => a + b, 0);
  return vectors[0].map((_, c) => vectors.reduce((s, v, i) => s + weights[i] * v[c], 0) / total);
};

describe('merging policies against their papers', () => {
  it('KVMerger: runs of similar neighbours merge into their kept token with Gaussian-kernel weights', () => {
    const keys = [
      [1, 0, 0, 0],
      [0.9, 0.1, 0, 0],
      [0.95, 0, 0.1, 0],
      [0, 1, 0, 0],
      [0, 0.9, 0.2, 0],
      [0, 0, 0, 1],
    ];
    const values = keys.map((_, i) => [i, 2 * i, 0, 1]);
    const ctx = context(keys, values, [0, 1, 0, 1, 0, 1]);
    // Adjacent cosines: 0.994, 0.993 | 0.11 | 0.976 | 0 → runs {0,1,2}, {3,4}, {5}. Keep 1, 3, 5.
    gaussianMergePolicy({ threshold: 0.8 })(spec).apply(0, Int32Array.of(1, 3, 5), ctx);
    const after = ctx.store.read(0);
    const expectMerged = (pivot: number, members: number[]) => {
      const others = members.filter((m) => m !== pivot);
      const sigma2 = others.reduce((s, m) => s + dist2(keys[m], keys[pivot]), 0) / others.length; // σ = RMS distance
      const w = members.map((m) => Math.exp(-dist2(keys[m], keys[pivot]) / (2 * sigma2)));
      return { k: combine(members.map((m) => keys[m]), w), v: combine(members.map((m) => values[m]), w) };
    };
    const first = expectMerged(1, [0, 1, 2]);
    const second = expectMerged(3, [3, 4]);
    assertClose(after.keys, [...first.k, ...second.k, ...keys[5]], 1e-6, 'merged keys');
    assertClose(after.values, [...first.v, ...second.v, ...values[5]], 1e-6, 'merged values');
    expect([...ctx.store.positions(0)]).toEqual([1, 3, 5]);
  });

  it('D2O: a dropped token merges into its most similar kept token when the similarity reaches the EMA threshold', () => {
    const keys = [
      [1, 0, 0, 0],
      [0.8, 0.6, 0, 0], // cos 0.8 with token 0
      [0, 1, 0, 0],
      [0, 0.28, 0.96, 0], // cos 0.28 with token 2
    ];
    const values = [
      [1, 1, 1, 1],
      [3, 3, 3, 3],
      [5, 5, 5, 5],
      [7, 7, 7, 7],
    ];
    const policy = recallMergePolicy({ beta: 0.9 })(spec) as ReturnType<ReturnType<typeof recallMergePolicy>> & { thresholds: Float64Array };
    const ctx = context(keys, values, [1, 0, 1, 0]);
    policy.apply(0, Int32Array.of(0, 2), ctx);
    // τ starts at the mean best similarity (0.8 + 0.28) / 2 = 0.54: token 1 merges into 0, token 3 is dropped.
    const denominator = Math.exp(0.8) + Math.E;
    const w0 = Math.E / denominator;
    const w1 = Math.exp(0.8) / denominator;
    const after = ctx.store.read(0);
    assertClose(after.keys, [...keys[0].map((x, c) => w0 * x + w1 * keys[1][c]), ...keys[2]], 1e-6, 'recalled keys');
    assertClose(after.values, [...values[0].map((x, c) => w0 * x + w1 * values[1][c]), ...values[2]], 1e-6, 'recalled values');
    expect(policy.thresholds[0]).toBeCloseTo(0.54, 6); // keys are stored as f32
    // A second compression moves τ by (1 − β) toward that step's mean.
    const next = context([keys[0], keys[1], keys[2]], [values[0], values[1], values[2]], [1, 0, 1]);
    policy.apply(0, Int32Array.of(0, 2), next);
    expect(policy.thresholds[0]).toBeCloseTo(0.9 * 0.54 + 0.1 * 0.8, 6);
  });

  it('EMS: evicts the least important share of the overflow and merges the rest by score', () => {
    const keys = [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0.9, 0.1, 0, 0],
      [0.1, 0.9, 0, 0],
      [0.5, 0.5, 0, 0],
      [0, 0, 1, 0],
    ];
    const values = keys.map((_, i) => [i, i, i, i]);
    const scores = [5, 4, 0.3, 0.2, 0.05, 0.01];
    const ctx = context(keys, values, scores);
    evictThenMergePolicy({ evict: 0.5 })(spec).apply(0, Int32Array.of(0, 1), ctx);
    // Overflow 2,3,4,5 by score: 5 (0.01), 4 (0.05) evicted; 2 merges into 0, 3 into 1 (most similar keys).
    const after = ctx.store.read(0);
    assertClose(after.keys, [...combine([keys[0], keys[2]], [5, 0.3]), ...combine([keys[1], keys[3]], [4, 0.2])], 1e-6, 'ems keys');
    assertClose(after.values, [...combine([values[0], values[2]], [5, 0.3]), ...combine([values[1], values[3]], [4, 0.2])], 1e-6, 'ems values');
  });

  it('merging costs no bytes over evicting and changes what attention reads', () =>
    withSeed((rng) => {
      const s = layerSpec({ qHeads: 2, kvHeads: 1, headDim: d });
      // Smooth keys (neighbours similar) so KVMerger finds merging sets.
      const n = 40;
      const base = randomArray(rng, d);
      const k = Float32Array.from({ length: n * d }, (_, i) => base[i % d] + 0.05 * rng.normal());
      const v = randomArray(rng, n * d);
      const q = randomArray(rng, 2 * n * d);
      const run = (layer: CompressingLayer) => {
        layer.append(tensor(k, [1, n, d], { backend }), tensor(v, [1, n, d], { backend }), { positions: positions(0, n), phase: 'prefill' });
        layer.attend(tensor(q, [2, n, d], { backend }), { positions: positions(0, n) });
        return Array.from(layer.attend(tensor(q.subarray(0, 2 * d), [2, 1, d], { backend }), { positions: Int32Array.of(n - 1) }).output.readFloat32Sync());
      };
      const evicting = h2o({ budget: 10, store: raggedDenseStore({ dtype: 'f32' }) })(s) as CompressingLayer;
      const merging = kvMerger({ budget: 10, threshold: 0.5, store: raggedDenseStore({ dtype: 'f32' }) })(s) as CompressingLayer;
      const a = run(evicting);
      const b = run(merging);
      expect(merging.memory().bytes).toBe(evicting.memory().bytes);
      expect([...merging.storedPositions(0)]).toEqual([...evicting.storedPositions(0)]);
      expect(a).not.toEqual(b);
    }));
});
