import { type Rng, tensor } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KVCalibration, kvquant, type QuantizedCacheLayer } from '../src/index.js';
import { layerSpec, positions, randomArray, referenceAttention, ropeHalf } from './helpers.js';

// Regression: the per-channel key ranges were trimmed by the `outliers` share, but only a fixed
// number of outliers per vector goes to the sparse store, so the remaining out-of-range entries were
// clipped — and a larger `outliers` share clipped more.
const d = 64;
const H = 2;
const spec = layerSpec({ headDim: d, kvHeads: H, qHeads: 4 });

/** [H, n, d] heavy-tailed keys: Laplace channels (exponential tails), two with large offsets. */
function heavyTailedKeys(rng: Rng, n: number): Float32Array {
  const x = Float32Array.from({ length: H * n * d }, () => Math.log(rng.uniform() || 1e-12) * (rng.uniform() < 0.5 ? 1 : -1));
  for (let r = 0; r < H * n; r++) {
    x[r * d + 3] += 8;
    x[r * d + 40] -= 6;
  }
  return x;
}

function relativeError(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  let err = 0;
  let norm = 0;
  for (let i = 0; i < ref.length; i++) {
    err += (out[i] - ref[i]) ** 2;
    norm += ref[i] ** 2;
  }
  return Math.sqrt(err / norm);
}

describe('kvquant outliers (dense-and-sparse) on heavy-tailed keys', () => {
  it('more exact outliers never make 8-bit keys worse, nor attention on average', () =>
    withSeed((rng) => {
      const calibration = KVCalibration.fromSamples({
        kvHeads: H,
        headDim: d,
        qHeads: 4,
        rope: spec.rope,
        layers: [{ keys: heavyTailedKeys(rng, 512), values: randomArray(rng, H * 512 * d), positions: positions(0, 512) }],
      });
      const n = 96;
      const pos = positions(0, n);
      const qPos = Int32Array.of(n - 4, n - 3, n - 2, n - 1);
      const shares = [0, 0.01, 0.1];
      // The attention output's error is not monotone draw by draw (key errors of either sign can
      // cancel in the softmax: seed 3890103108's draw had 1% outliers 25% worse than none), so it
      // is compared as a mean over draws; the keys' own error must fall in every draw.
      const draws = 6;
      const meanOut = new Float64Array(shares.length);
      for (let draw = 0; draw < draws; draw++) {
        const k = heavyTailedKeys(rng, n);
        const v = randomArray(rng, H * n * d);
        const q = randomArray(rng, 4 * 4 * d);
        const exact = referenceAttention(q, ropeHalf(k, H, n, d, pos, spec.rope.invFreq), v, { qHeads: 4, kvHeads: H, m: 4, n, d }, qPos, pos).out;
        const run = (layer: QuantizedCacheLayer) => {
          layer.append(tensor(k, [H, n, d]), tensor(v, [H, n, d]), { positions: pos, phase: 'prefill' });
          const keys = layer.keys.decode().readFloat32Sync();
          const out = layer.attend(tensor(q, [4, 4, d]), { positions: qPos }).output.readFloat32Sync();
          layer.dispose();
          return { keys: relativeError(keys, k), out: relativeError(out, exact) };
        };
        const errors = shares.map((outliers) => run(kvquant({ calibration, bits: 8, outliers, dtype: 'f32' })(spec) as QuantizedCacheLayer));
        for (let i = 1; i < errors.length; i++) expect(errors[i].keys, `draw ${draw}: keys, outliers ${shares[i - 1]} → ${shares[i]}`).toBeLessThanOrEqual(errors[i - 1].keys);
        errors.forEach((error, i) => (meanOut[i] += error.out / draws));
      }
      for (let i = 1; i < shares.length; i++) expect(meanOut[i], `mean attention error, outliers ${shares[i - 1]} → ${shares[i]}`).toBeLessThanOrEqual(meanOut[i - 1] * 1.05);
    }));
});
