import { describe, expect, it } from 'vitest';
import { cholesky } from '../src/linalg/index.js';
import { withSeed } from '../src/testing/index.js';

// cholesky computes rows four at a time plus a remainder; these sizes hit every remainder (0–3)
// with several blocks, checked against the definition L Lᵀ = A in float64 by a direct loop.
describe('cholesky (four-row blocking)', () => {
  for (const n of [66, 67, 129, 131]) {
    it(`L Lᵀ = A for a random SPD ${n}×${n} matrix`, () => {
      withSeed((rng) => {
        const b = Float64Array.from({ length: n * n }, () => rng.normal());
        const a = new Float64Array(n * n);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let s = i === j ? n : 0;
            for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
            a[i * n + j] = s;
          }
        const l = cholesky({ rows: n, cols: n, data: a }).data;
        let diff = 0;
        let norm = 0;
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            if (j > i) expect(l[i * n + j]).toBe(0);
            let s = 0;
            for (let k = 0; k <= Math.min(i, j); k++) s += l[i * n + k] * l[j * n + k];
            diff += (s - a[i * n + j]) ** 2;
            norm += a[i * n + j] ** 2;
          }
        expect(Math.sqrt(diff / norm)).toBeLessThan(1e-14);
      });
    });
  }

  it('names a failing pivot inside a block (row 6 of 9 depends on rows 4 and 5)', () => {
    // Identity except rows/cols 4..6 hold a rank-2 block: pivot 6 is zero.
    const n = 9;
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) a[i * n + i] = 1;
    const v = [
      [1, 0],
      [0, 1],
      [1, 1],
    ];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) a[(4 + r) * n + 4 + c] = v[r][0] * v[c][0] + v[r][1] * v[c][1];
    expect(() => cholesky({ rows: n, cols: n, data: a })).toThrow(expect.objectContaining({ code: 'NOT_POSITIVE_DEFINITE', message: expect.stringMatching(/pivot 6/) }));
  });
});
