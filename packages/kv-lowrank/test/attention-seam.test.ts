import { tensor } from '@kvkit/tensor-core';
import { assertClose, referenceLogSumExp, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { lowRankHeadAttention } from '../src/index.js';
import { backend, positions, randomValues } from './helpers.js';

/** Rows Z·Bᵀ (n × d, float64) of latents Z (n × r) and a basis B (d × r). */
function rebuild(z: Float32Array, basis: Float32Array, n: number, d: number, r: number): Float64Array {
  return Float64Array.from({ length: n * d }, (_, i) => {
    let s = 0;
    for (let k = 0; k < r; k++) s += z[Math.floor(i / d) * r + k] * basis[(i % d) * r + k];
    return s;
  });
}

/** Causal attention written out in float64 over keys K = Z_k·Bᵀ and values V = Z_v·Cᵀ rebuilt explicitly. */
function float64Reference(q: Float32Array, zk: Float32Array, b: Float32Array, zv: Float32Array, c: Float32Array, g: number, m: number, n: number, d: number, r: number, scale: number, qPos: Int32Array): Float64Array {
  const keys = rebuild(zk, b, n, d, r);
  const values = rebuild(zv, c, n, d, r);
  const out = new Float64Array(g * m * d);
  for (let row = 0; row < g * m; row++) {
    const visible = Array.from({ length: n }, (_, j) => j).filter((j) => j <= qPos[row % m]);
    const scores = visible.map((j) => {
      let s = 0;
      for (let x = 0; x < d; x++) s += q[row * d + x] * keys[j * d + x];
      return s * scale;
    });
    const max = Math.max(...scores);
    const weights = scores.map((s) => Math.exp(s - max));
    const total = weights.reduce((a, w) => a + w, 0);
    visible.forEach((j, i) => {
      for (let x = 0; x < d; x++) out[row * d + x] += (weights[i] / total) * values[j * d + x];
    });
  }
  return out;
}

describe('lowRankHeadAttention (the attention seam, on attention-kernels)', () => {
  it.each([1, 3, 40])('with latent keys and values equals float64 attention over the rebuilt K/V (%i queries)', (m) =>
    withSeed((rng) => {
      const [g, n, d, r] = [2, 45, 16, 6];
      const scale = 1 / Math.sqrt(d);
      const [q, zk, b, zv, c] = [randomValues(rng, g * m * d), randomValues(rng, n * r), randomValues(rng, d * r), randomValues(rng, n * r), randomValues(rng, d * r)];
      const qPos = positions(n - m, m);
      const f32 = (data: Float32Array, shape: number[]) => tensor(data, shape, { backend });
      const result = lowRankHeadAttention(f32(q, [g, m, d]), { kind: 'latent', latents: f32(zk, [1, n, r]), basis: f32(b, [d, r]) }, { kind: 'latent', latents: f32(zv, [1, n, r]), basis: f32(c, [d, r]) }, {
        scale,
        causal: true,
        queryPositions: tensor(qPos, [m], { dtype: 'i32', backend }),
        keyPositions: tensor(positions(0, n), [n], { dtype: 'i32', backend }),
        statistics: true,
        returnLse: true,
      });
      expect(result.output.shape).toEqual([g, m, d]);
      assertClose(result.output.readFloat32Sync(), float64Reference(q, zk, b, zv, c, g, m, n, d, r, scale, qPos), 1e-5, 'output');
      const lse = referenceLogSumExp(q, rebuild(zk, b, n, d, r), { qHeads: g, kvHeads: 1, m, n, d }, qPos, positions(0, n), { scale });
      assertClose(result.lse!.readFloat32Sync(), lse, 1e-5, 'log-sum-exp');
      expect(result.statistics?.keySum.shape).toEqual([g, n]);
    }));
});
