import { attention, createCache, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { eigenAttention, fitEigenAttention } from '../src/index.js';
import { backend, positions, randomTensor, specOf, syntheticCalibration } from './helpers.js';

describe('eigen attention', () => {
  it('rank = headDim reproduces attention exactly over prefill and decode', () =>
    withSeed((rng) => {
      const spec = specOf();
      const { set } = syntheticCalibration(rng, spec, 64, 3);
      const projections = fitEigenAttention(set);
      const cache = createCache(spec, eigenAttention({ projections, rank: spec.headDim, storage: { dtype: 'f32' } }));
      const layer = cache.layers[1];
      const ks: number[][] = [[], []];
      const vs: number[][] = [[], []];
      let t = 0;
      for (const n of [9, 1, 1, 4]) {
        const k = randomTensor(rng, [2, n, 8]);
        const v = randomTensor(rng, [2, n, 8]);
        layer.append(k, v, { positions: positions(t, n), phase: t === 0 ? 'prefill' : 'decode' });
        const kd = k.readFloat32Sync();
        const vd = v.readFloat32Sync();
        for (let h = 0; h < 2; h++) {
          ks[h].push(...kd.subarray(h * n * 8, (h + 1) * n * 8));
          vs[h].push(...vd.subarray(h * n * 8, (h + 1) * n * 8));
        }
        t += n;
        const q = randomTensor(rng, [4, n, 8]);
        const got = layer.attend(q, { positions: positions(t - n, n) }).output;
        const ref = attention(q, tensor([...ks[0], ...ks[1]], [2, t, 8], { backend }), tensor([...vs[0], ...vs[1]], [2, t, 8], { backend }), {
          queryPositions: tensor(positions(t - n, n), [n], { dtype: 'i32', backend }),
          keyPositions: tensor(positions(0, t), [t], { dtype: 'i32', backend }),
        }).output;
        assertClose(got.readSync(), ref.readSync(), 1e-5, `after ${t} tokens`);
      }
      expect(layer.length).toBe(15);
    }));
});
