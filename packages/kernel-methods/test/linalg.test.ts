import { type Matrix, matrix } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, it } from 'vitest';
import { scaledLowerGram } from '../src/util/linalg.js';

describe('scaledLowerGram', () => {
  it('equals c·TᵀT of the lower triangle written out in float64 (upper entries ignored)', () =>
    withSeed((rng) => {
      for (const m of [1, 2, 5, 17]) {
        const t: Matrix = matrix(m, m, Array.from({ length: m * m }, () => rng.normal()));
        const c = 0.5 + rng.uniform();
        const expected = new Float64Array(m * m);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < m; j++) {
            let s = 0;
            for (let k = 0; k < m; k++) if (k >= i && k >= j) s += t.data[k * m + i] * t.data[k * m + j];
            expected[i * m + j] = c * s;
          }
        }
        assertClose(scaledLowerGram(t, c).data, expected, 1e-14, `m = ${m}`);
      }
    }));
});
