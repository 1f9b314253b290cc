import { createCache, tensor } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { chunkKV, type CompressingLayer, raggedDenseStore, snapKV } from '../src/index.js';
import { backend, cacheSpec, layerSpec, positions, randomArray } from './helpers.js';

const d = 8;

describe('ChunkKV', () => {
  it('keeps whole chunks: the best chunks by summed scores, plus the protected window', () =>
    withSeed((rng) => {
      const spec = layerSpec({ qHeads: 2, kvHeads: 1, headDim: d });
      const n = 48;
      const k = randomArray(rng, n * d);
      const v = randomArray(rng, n * d);
      const q = randomArray(rng, 2 * n * d, 2);
      const run = (layer: CompressingLayer) => {
        layer.append(tensor(k, [1, n, d], { backend }), tensor(v, [1, n, d], { backend }), { positions: positions(0, n), phase: 'prefill' });
        layer.attend(tensor(q, [2, n, d], { backend }), { positions: positions(0, n) });
      };
      const chunked = chunkKV({ budget: 20, chunk: 4, observationWindow: 4, store: raggedDenseStore({ dtype: 'f32' }) })(spec) as CompressingLayer;
      const reference = snapKV({ budget: 1, observationWindow: 4, store: raggedDenseStore({ dtype: 'f32' }) })(spec) as CompressingLayer;
      run(chunked);
      run(reference);
      const scores = reference.allocationSignal().scores[0]; // SnapKV scores of all 48 tokens (normalized)
      const chunkScores = Array.from({ length: 11 }, (_, c) => ({ c, s: scores.slice(4 * c, 4 * c + 4).reduce((a, b) => a + b, 0) })).sort((a, b) => b.s - a.s);
      const expected = [...chunkScores.slice(0, 4).flatMap(({ c }) => [4 * c, 4 * c + 1, 4 * c + 2, 4 * c + 3]), 44, 45, 46, 47].sort((a, b) => a - b);
      expect([...chunked.storedPositions(0)]).toEqual(expected);
    }));

  it('reuses the first layer’s kept positions in the next layers of its group', () =>
    withSeed((rng) => {
      const spec = cacheSpec({ numLayers: 4, qHeads: 4, kvHeads: 2, headDim: d });
      const cache = createCache(spec, chunkKV({ budget: 0.3, chunk: 5, reuse: 2, recent: 4, observationWindow: 8 }));
      const n = 60;
      // Every query leans on channel 0; the first group's keys make chunk 3 (positions 15–19) stand out and
      // chunk 1 (5–9) invisible, the second group's the other way round, so the groups must select differently.
      const [chunkA, chunkB] = [3, 1];
      const feed = (start: number, count: number, phase: 'prefill' | 'decode') => {
        for (const layer of cache.layers) {
          const keys = randomArray(rng, 2 * count * d);
          const [liked, shunned] = layer.layerIndex < 2 ? [chunkA, chunkB] : [chunkB, chunkA];
          for (let h = 0; h < 2; h++) {
            for (let i = 0; i < count; i++) {
              const chunk = Math.floor((start + i) / 5);
              if (chunk === liked) keys[(h * count + i) * d] += 6;
              if (chunk === shunned) keys[(h * count + i) * d] -= 6;
            }
          }
          const queries = randomArray(rng, 4 * count * d);
          for (let r = 0; r < 4 * count; r++) queries[r * d] += 2;
          layer.append(tensor(keys, [2, count, d], { backend }), tensor(randomArray(rng, 2 * count * d), [2, count, d], { backend }), {
            positions: positions(start, count),
            phase,
          });
          layer.attend(tensor(queries, [4, count, d], { backend }), { positions: positions(start, count) });
        }
      };
      feed(0, n, 'prefill');
      for (let t = n; t < n + 5; t++) feed(t, 1, 'decode');
      const kept = (l: number, h: number) => [...(cache.layers[l] as CompressingLayer).storedPositions(h)];
      for (const h of [0, 1]) {
        expect(kept(1, h)).toEqual(kept(0, h));
        expect(kept(3, h)).toEqual(kept(2, h));
      }
      // a new group selects on its own
      const chunkPositions = (c: number) => [5 * c, 5 * c + 1, 5 * c + 2, 5 * c + 3, 5 * c + 4];
      for (const h of [0, 1]) {
        expect(kept(0, h)).toEqual(expect.arrayContaining(chunkPositions(chunkA)));
        expect(kept(0, h)).not.toContain(5 * chunkB);
        expect(kept(2, h)).toEqual(expect.arrayContaining(chunkPositions(chunkB)));
        expect(kept(2, h)).not.toContain(5 * chunkA);
      }
      expect((cache.layers[1] as CompressingLayer).describe().scorer).toBe('recency'); // followers compute no scores
    }));
});
