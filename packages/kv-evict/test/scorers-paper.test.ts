import { rope, ropeInverseFrequencies, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { a2sf, type CompressingLayer, h2o, l2norm, raggedDenseStore, snapKV, streamingLLM, tova } from '../src/index.js';
import { backend, layerSpec, positions, randomArray, referenceAttention } from './helpers.js';

/**
 * A hand-checkable attention pattern: d = 4, key j points along axis c(j), query i along a(i),
 * scaled so a matching pair scores ln 9 (weight 9) and any other pair 0 (weight 1).
 *   c = [0, 1, 2, 1, 3, 2], a = [0, 1, 1, 1, 1, 2]
 * Query 0 sees key 0: p = 1. Query 1: key 1 matches → 9/10, key 0 → 1/10. Query 2: 9/11 to key 1,
 * 1/11 to keys 0 and 2. Query 3: keys 1 and 3 match → 9/20 each, 1/20 to 0 and 2. Query 4: 9/21 to
 * 1 and 3, 1/21 to 0, 2, 4. Query 5: keys 2 and 5 match → 9/22 each, 1/22 to 0, 1, 3, 4.
 */
const keyAxis = [0, 1, 2, 1, 3, 2];
const queryAxis = [0, 1, 1, 1, 1, 2];
const spec = layerSpec({ qHeads: 1, kvHeads: 1, headDim: 4 });
const exact = raggedDenseStore({ dtype: 'f32' });

function prefill(layer: CompressingLayer): void {
  const k = new Float32Array(24);
  keyAxis.forEach((c, j) => (k[j * 4 + c] = 1));
  const q = new Float32Array(24);
  queryAxis.forEach((a, i) => (q[i * 4 + a] = 2 * Math.log(9))); // · 1/√4 → ln 9
  layer.append(tensor(k, [1, 6, 4], { backend }), tensor(k, [1, 6, 4], { backend }), { positions: positions(0, 6), phase: 'prefill' });
  layer.attend(tensor(q, [1, 6, 4], { backend }), { positions: positions(0, 6) });
}

const P = [
  [1, 0, 0, 0, 0, 0],
  [1 / 10, 9 / 10, 0, 0, 0, 0],
  [1 / 11, 9 / 11, 1 / 11, 0, 0, 0],
  [1 / 20, 9 / 20, 1 / 20, 9 / 20, 0, 0],
  [1 / 21, 9 / 21, 1 / 21, 9 / 21, 1 / 21, 0],
  [1 / 22, 1 / 22, 9 / 22, 1 / 22, 1 / 22, 9 / 22],
];

describe('scorers against their papers, on a hand-checkable attention matrix', () => {
  it('H2O keeps the heavy hitters (column sums) plus the recent window', () => {
    const layer = h2o({ budget: 4, sinks: 0, recent: 1, store: exact })(spec) as CompressingLayer;
    // Column sums: 1.334, 2.642, 0.598, 0.924, 0.093, 0.409 → heavy hitters 1, 0, 3; token 5 is recent.
    const columnSums = P[0].map((_, j) => P.reduce((s, row) => s + row[j], 0));
    prefill(layer);
    expect([...layer.storedPositions(0)]).toEqual([0, 1, 3, 5]);
    assertClose(layer.table.column(0, 'accumulated'), [0, 1, 3, 5].map((j) => columnSums[j]), 1e-6, 'accumulated attention of the kept tokens');
  });

  it('A2SF forgets: with λ = 0.5 the early token 0 loses to tokens 2 and 3', () => {
    const layer = a2sf({ budget: 4, sinks: 0, recent: 1, decay: 0.5, store: exact })(spec) as CompressingLayer;
    prefill(layer);
    // S_j = Σ_i 0.5^(5−i) p_ij: 0.131, 0.531, 0.457, 0.372, 0.069, 0.409 → keep 1, 2, 3 + recent 5.
    expect([...layer.storedPositions(0)]).toEqual([1, 2, 3, 5]);
    const decayed = P[0].map((_, j) => P.reduce((s, row, i) => s + 0.5 ** (5 - i) * row[j], 0));
    assertClose(layer.table.column(0, 'accumulated'), [1, 2, 3, 5].map((j) => decayed[j]), 1e-6, 'decayed scores');
  });

  it('TOVA keeps what the last query attends to (ties go to the more recent token)', () => {
    const layer = tova({ budget: 3, store: exact })(spec) as CompressingLayer;
    prefill(layer);
    // Last row: 9/22 on tokens 2 and 5, 1/22 elsewhere → 2, 5 and the most recent of the tied rest (4).
    expect([...layer.storedPositions(0)]).toEqual([2, 4, 5]);
  });

  it('StreamingLLM keeps the sinks and the most recent tokens, whatever the attention', () => {
    const layer = streamingLLM({ sinks: 1, window: 2, store: exact })(spec) as CompressingLayer;
    prefill(layer);
    expect([...layer.storedPositions(0)]).toEqual([0, 4, 5]);
  });

  it('SnapKV scores = pooled attention of the observation window (random inputs vs the float64 definition)', () =>
    withSeed((rng) => {
      const n = 24;
      const window = 5;
      const kernel = 3;
      const s = layerSpec({ qHeads: 2, kvHeads: 1, headDim: 4 });
      const k = randomArray(rng, n * 4);
      const v = randomArray(rng, n * 4);
      const q = randomArray(rng, 2 * n * 4, 2);
      const budget = 12;
      const layer = snapKV({ budget, observationWindow: window, kernel, pooling: 'avg', sinks: 0, store: exact })(s) as CompressingLayer;
      layer.append(tensor(k, [1, n, 4], { backend }), tensor(v, [1, n, 4], { backend }), { positions: positions(0, n), phase: 'prefill' });
      layer.attend(tensor(q, [2, n, 4], { backend }), { positions: positions(0, n) });
      const ref = referenceAttention(q, 2, n, 4, [{ keys: k, values: v, positions: positions(0, n) }], positions(0, n));
      // Window sums, mean over the 2 query heads, then avg-pooling with zero padding (÷ kernel).
      const sums = Array.from({ length: n }, (_, j) => [0, 1].reduce((acc, g) => acc + ref.probabilities[g].slice(n - window).reduce((t, row) => t + row[j], 0) / 2, 0));
      const pooled = sums.map((_, j) => ((sums[j - 1] ?? 0) + sums[j] + (sums[j + 1] ?? 0)) / kernel);
      const candidates = pooled.slice(0, n - window).map((score, j) => ({ score, j })).sort((a, b) => b.score - a.score);
      const picked = candidates.slice(0, budget - window).map((c) => c.j);
      const margin = candidates[budget - window - 1].score - candidates[budget - window].score;
      expect(margin).toBeGreaterThan(1e-6); // continuous random scores: no tie at the boundary
      const expected = [...picked, ...Array.from({ length: window }, (_, i) => n - window + i)].sort((a, b) => a - b);
      expect([...layer.storedPositions(0)]).toEqual(expected);
    }));

  it('the L2-norm scorer keeps the lowest-norm keys and skips the first layers', () =>
    withSeed((rng) => {
      const n = 16;
      const norms = Array.from({ length: n }, () => 0.5 + 3 * rng.uniform());
      const k = new Float32Array(n * 4);
      norms.forEach((norm, j) => {
        const dir = randomArray(rng, 4);
        const len = Math.hypot(...dir);
        for (let c = 0; c < 4; c++) k[j * 4 + c] = (dir[c] / len) * norm;
      });
      const run = (layerIndex: number) => {
        const layer = l2norm({ budget: 5, store: exact })(layerSpec({ qHeads: 1, kvHeads: 1, headDim: 4, layerIndex })) as CompressingLayer;
        layer.append(tensor(k, [1, n, 4], { backend }), tensor(k, [1, n, 4], { backend }), { positions: positions(0, n), phase: 'prefill' });
        layer.attend(tensor(randomArray(rng, n * 4), [1, n, 4], { backend }), { positions: positions(0, n) });
        return [...layer.storedPositions(0)];
      };
      const lowest = norms.map((norm, j) => ({ norm, j })).sort((a, b) => a.norm - b.norm).slice(0, 5).map((x) => x.j).sort((a, b) => a - b);
      expect(run(2)).toEqual(lowest);
      expect(run(1)).toHaveLength(n); // layers 0 and 1 stay whole (the paper's choice)
    }));

  it('the L2-norm scorer reads post-RoPE keys and keeps the tokens the pre-RoPE norms pick (RoPE is a rotation)', () =>
    withSeed((rng) => {
      // The paper (and kvpress's KnormPress) scores the keys as cached, i.e. after RoPE; the rotation
      // keeps every norm, so the pre-RoPE ranking is the same. Checked at positions far apart.
      const n = 16;
      const d = 8;
      const norms = Array.from({ length: n }, () => 0.5 + 3 * rng.uniform());
      const k = new Float32Array(n * d);
      norms.forEach((norm, j) => {
        const dir = randomArray(rng, d);
        const len = Math.hypot(...dir);
        for (let c = 0; c < d; c++) k[j * d + c] = (dir[c] / len) * norm;
      });
      const at = Int32Array.from({ length: n }, (_, j) => 37 * j + 5);
      const rotated = rope(tensor(k, [1, n, d], { backend }), tensor(at, [n], { dtype: 'i32', backend }), tensor(ropeInverseFrequencies(d, 10000), [d / 2], { backend }));
      const layer = l2norm({ budget: 5, store: exact })(layerSpec({ qHeads: 1, kvHeads: 1, headDim: d, layerIndex: 2 })) as CompressingLayer;
      layer.append(rotated, rotated, { positions: at, phase: 'prefill' });
      layer.attend(tensor(randomArray(rng, n * d), [1, n, d], { backend }), { positions: at });
      const lowest = norms.map((norm, j) => ({ norm, j })).sort((a, b) => a.norm - b.norm).slice(0, 5).map((x) => at[x.j]).sort((a, b) => a - b);
      expect([...layer.storedPositions(0)]).toEqual(lowest);
    }));
});
