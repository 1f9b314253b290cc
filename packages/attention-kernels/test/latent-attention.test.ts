import { attention, randomNormal, type Rng, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { latentAttention } from '../src/index.js';

/** [heads, n, r] latents times per-head bases [heads, cols, r]ᵀ → [heads, n, cols], in float64. */
function expand(lat: Float32Array, basis: Float64Array, heads: number, n: number, r: number, cols: number): Float64Array {
  const out = new Float64Array(heads * n * cols);
  for (let h = 0; h < heads; h++)
    for (let j = 0; j < n; j++)
      for (let c = 0; c < cols; c++) {
        let s = 0;
        for (let i = 0; i < r; i++) s += lat[(h * n + j) * r + i] * basis[(h * cols + c) * r + i];
        out[(h * n + j) * cols + c] = s;
      }
  return out;
}

function normals(rng: Rng, size: number): Float64Array {
  return Float64Array.from({ length: size }, () => rng.normal());
}

describe('latentAttention', () => {
  for (const [m, group] of [[1, 4], [40, 1], [5, 8]]) {
    it(`equals full attention over the expanded cache, projected back (m ${m}, GQA ${group}, r ≠ rv)`, () =>
      withSeed((rng) => {
        const [kvHeads, n, d, dv, r, rv] = [2, 70, 64, 48, 12, 20];
        const qHeads = kvHeads * group;
        const kLat = randomNormal([kvHeads, n, r], rng);
        const vLat = randomNormal([kvHeads, n, rv], rng);
        const B = normals(rng, kvHeads * d * r); // [kvHeads, d, r]
        const C = normals(rng, kvHeads * dv * rv); // [kvHeads, dv, rv]
        const q = normals(rng, qHeads * m * d);
        const k = tensor(expand(kLat.readSync() as Float32Array, B, kvHeads, n, r, d), [kvHeads, n, d]);
        const v = tensor(expand(vLat.readSync() as Float32Array, C, kvHeads, n, rv, dv), [kvHeads, n, dv]);
        const qLat = new Float64Array(qHeads * m * r);
        for (let h = 0; h < qHeads; h++)
          for (let i = 0; i < m; i++)
            for (let a = 0; a < r; a++) {
              let s = 0;
              for (let c = 0; c < d; c++) s += q[(h * m + i) * d + c] * B[(Math.floor(h / group) * d + c) * r + a];
              qLat[(h * m + i) * r + a] = s;
            }
        const scale = 1 / Math.sqrt(d);
        const ref = attention(tensor(q, [qHeads, m, d]), k, v, { scale, statistics: true });
        const got = latentAttention(tensor(qLat, [qHeads, m, r]), kLat, vLat, { scale, statistics: true });
        expect(got.output.shape).toEqual([qHeads, m, rv]);
        const lat = got.output.readSync();
        const back = new Float64Array(qHeads * m * dv);
        for (let h = 0; h < qHeads; h++)
          for (let i = 0; i < m; i++)
            for (let c = 0; c < dv; c++) {
              let s = 0;
              for (let a = 0; a < rv; a++) s += lat[(h * m + i) * rv + a] * C[(Math.floor(h / group) * dv + c) * rv + a];
              back[(h * m + i) * dv + c] = s;
            }
        assertClose(back, ref.output.readSync(), 1e-5, 'output');
        assertClose(got.statistics!.keySum.readSync(), ref.statistics!.keySum.readSync(), 1e-5, 'keySum');
      }));
  }

  it('requires the model scale', () =>
    withSeed((rng) => {
      const x = randomNormal([1, 1, 4], rng);
      expect(() => latentAttention(x, x, x, {} as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));
});
