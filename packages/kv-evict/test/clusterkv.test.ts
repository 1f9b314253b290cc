import { tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { type ClusterKVLayer, clusterKV, raggedDenseStore } from '../src/index.js';
import { backend, f32, layerSpec, positions, randomArray, referenceAttention } from './helpers.js';

const d = 8;

describe('ClusterKV', () => {
  it('attends to the clusters nearest the query under the budget, and recalls others later', () =>
    withSeed((rng) => {
      const layer = clusterKV({ budget: 16, sinks: 2, recent: 4, clusterSize: 8, interval: 32, store: raggedDenseStore({ dtype: 'f32' }) })(
        layerSpec({ qHeads: 2, kvHeads: 1, headDim: d }),
      ) as ClusterKVLayer;
      const n = 38;
      const group = (j: number) => (j - 2) % 4; // tokens 2..33 fall in 4 direction groups
      const k = new Float32Array(n * d);
      for (let j = 0; j < n; j++) {
        for (let c = 0; c < d; c++) k[j * d + c] = 0.05 * rng.normal();
        if (j >= 2 && j < 34) k[j * d + group(j)] += 3;
      }
      const v = randomArray(rng, n * d);
      layer.append(tensor(k, [1, n, d], { backend }), tensor(v, [1, n, d], { backend }), { positions: positions(0, n), phase: 'prefill' });
      layer.attend(tensor(randomArray(rng, 2 * n * d), [2, n, d], { backend }), { positions: positions(0, n) });
      expect(layer.clusterCounts()).toEqual([4]);
      let kAll = k;
      let vAll = v;
      for (const [t, target] of [
        [n, 1],
        [n + 1, 3],
      ] as const) {
        const kNew = randomArray(rng, d, 0.05);
        const vNew = randomArray(rng, d);
        kAll = Float32Array.from([...kAll, ...kNew]);
        vAll = Float32Array.from([...vAll, ...vNew]);
        layer.append(tensor(kNew, [1, 1, d], { backend }), tensor(vNew, [1, 1, d], { backend }), { positions: positions(t, 1), phase: 'decode' });
        const q = new Float32Array(2 * d);
        q[target] = 1;
        q[d + target] = 1;
        const out = layer.attend(tensor(q, [2, 1, d], { backend }), { positions: positions(t, 1) }).output;
        // Sinks (2) + unclustered tokens (34 … t) + the 8 tokens of the target group = at most 16.
        const read = [0, 1, ...Array.from({ length: 32 }, (_, i) => i + 2).filter((j) => group(j) === target), ...Array.from({ length: t + 1 - 34 }, (_, i) => 34 + i)].sort((a, b) => a - b);
        expect(layer.selectedTokens()).toEqual([read.length]);
        const head = {
          keys: read.flatMap((j) => Array.from(kAll.subarray(j * d, (j + 1) * d))),
          values: read.flatMap((j) => Array.from(vAll.subarray(j * d, (j + 1) * d))),
          positions: read,
        };
        assertClose(f32(out), referenceAttention(q, 2, 1, d, [head], Int32Array.of(t)).output, 1e-5, `step ${t}`);
      }
      // Nothing was evicted: every token stays resident (recallable), plus centroids and assignments.
      const memory = layer.memory();
      expect(memory.parts.keys).toBe((n + 2) * d * 4);
      expect(memory.parts.centroids).toBe(4 * (d * 4 + 4));
      // One i32 cluster id per token, in a buffer that grows by at most max(16, an eighth) at a time.
      expect(memory.parts.indices).toBeGreaterThanOrEqual((n + 2) * 4);
      expect(memory.parts.indices).toBeLessThanOrEqual((n + 2 + Math.max(16, Math.ceil(n / 8))) * 4);
    }));
});
