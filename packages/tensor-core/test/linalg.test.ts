import { describe, expect, it } from 'vitest';
import { InvalidConfigError, KvkitError, NotPositiveDefiniteError, ShapeMismatchError } from '../src/errors.js';
import {
  type LinearOperator,
  type Matrix,
  cholesky,
  choleskySolve,
  eigh,
  eigvalsh,
  identityMatrix,
  matmulMatrix,
  matrix,
  operatorFromMatrix,
  qr,
  randomizedSvd,
  randomizedSvdAsync,
  type AsyncLinearOperator,
  solveTriangular,
  lowerTriangularSolver,
  svd,
  transposeMatrix,
  triangularGram,
} from '../src/linalg/index.js';
import { setSimdKernels } from '../src/simd/index.js';
import { createRng, type Rng } from '../src/rng.js';
import { assertClose, freshSeed, withSeed, withUnfusedProducts } from '../src/testing/index.js';
import { bisectionEigenvalues, expectIdentical, naiveMatmul } from './reference.js';
import { applyReflectionsToRows } from '../src/linalg/reflections.js';

// ---------------------------------------------------------------------------------------------
// Independent references: direct loops over the definitions, none of the code under test.

function randomMatrix(rng: Rng, rows: number, cols: number, scale = 1): Matrix {
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = scale * rng.normal();
  return { rows, cols, data };
}

function randomSymmetric(rng: Rng, n: number): Matrix {
  const a = randomMatrix(rng, n, n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < i; j++) {
      const mean = 0.5 * (a.data[i * n + j] + a.data[j * n + i]);
      a.data[i * n + j] = mean;
      a.data[j * n + i] = mean;
    }
  return a;
}

function product(a: Matrix, b: Matrix, ta = false, tb = false): Matrix {
  const m = ta ? a.cols : a.rows;
  const k = ta ? a.rows : a.cols;
  const n = tb ? b.rows : b.cols;
  return { rows: m, cols: n, data: naiveMatmul(a.data, b.data, m, k, n, ta, tb) };
}

/** ‖x‖₂, scaled first so entries near 1e±250 neither overflow nor underflow when squared. */
function frobenius(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  if (max === 0 || !Number.isFinite(max)) return max;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += (values[i] / max) ** 2;
  return max * Math.sqrt(s);
}

/** ‖X − Y‖_F. */
function distance(x: ArrayLike<number>, y: ArrayLike<number>): number {
  return frobenius(Array.from(x, (v, i) => v - y[i]));
}

/** max |(XᵀX − I)ᵢⱼ| over the columns of X (rows when `rows` is set). */
function orthonormalityError(x: Matrix, rows = false): number {
  const gram = rows ? product(x, x, false, true) : product(x, x, true, false);
  let worst = 0;
  for (let i = 0; i < gram.rows; i++)
    for (let j = 0; j < gram.cols; j++) worst = Math.max(worst, Math.abs(gram.data[i * gram.cols + j] - (i === j ? 1 : 0)));
  return worst;
}

/** A Haar-ish random orthogonal n×n matrix as a product of n random Householder reflections. */
function randomOrthogonal(rng: Rng, n: number): Matrix {
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let r = 0; r < n; r++) {
    const v = Array.from({ length: n }, () => rng.normal());
    const vv = v.reduce((s, x) => s + x * x, 0);
    // Q ← Q (I − 2 v vᵀ / vᵀv)
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += q[i * n + j] * v[j];
      for (let j = 0; j < n; j++) q[i * n + j] -= (2 * dot * v[j]) / vv;
    }
  }
  return { rows: n, cols: n, data: q };
}

/** U[:, :r] diag(σ) V[:, :r]ᵀ for random orthogonal U (m×m), V (n×n). */
function withSingularValues(rng: Rng, m: number, n: number, sigma: readonly number[]): Matrix {
  const u = randomOrthogonal(rng, m);
  const v = randomOrthogonal(rng, n);
  const out = new Float64Array(m * n);
  for (let t = 0; t < sigma.length; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) out[i * n + j] += u.data[i * m + t] * sigma[t] * v.data[j * n + t];
  return { rows: m, cols: n, data: out };
}

function scaleColumns(a: Matrix, s: ArrayLike<number>): Matrix {
  const out = Float64Array.from(a.data);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out[i * a.cols + j] *= s[j];
  return { rows: a.rows, cols: a.cols, data: out };
}

/** The index of the largest |entry| of column `col` (rows when `asRow`), first on ties. */
function largestComponent(a: Matrix, index: number, asRow: boolean): number {
  const length = asRow ? a.cols : a.rows;
  let best = -1;
  let value = 0;
  for (let k = 0; k < length; k++) {
    const x = asRow ? a.data[index * a.cols + k] : a.data[k * a.cols + index];
    if (Math.abs(x) > best) {
      best = Math.abs(x);
      value = x;
    }
  }
  return value;
}


function expectCode(fn: () => unknown, errorClass: new (...args: never[]) => KvkitError, code: string, message?: RegExp): KvkitError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(errorClass);
  const error = caught as KvkitError;
  expect(error.code).toBe(code);
  if (message) expect(error.message).toMatch(message);
  return error;
}

// ---------------------------------------------------------------------------------------------

describe('matrix operations', () => {
  it('matmulMatrix matches the naive triple loop for every transpose combination', () => {
    withSeed((rng) => {
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const a = ta ? randomMatrix(rng, 7, 5) : randomMatrix(rng, 5, 7);
        const b = tb ? randomMatrix(rng, 4, 7) : randomMatrix(rng, 7, 4);
        const c = matmulMatrix(a, b, { transposeA: ta, transposeB: tb });
        expect([c.rows, c.cols]).toEqual([5, 4]);
        assertClose(c.data, product(a, b, ta, tb).data, 1e-14, `matmul ta=${ta} tb=${tb}`);
      }
    });
  });

  it('matmulMatrix rejects mismatched inner dimensions', () => {
    expectCode(() => matmulMatrix(matrix(2, 3), matrix(2, 3)), ShapeMismatchError, 'SHAPE_MISMATCH', /inner dimensions/);
    expect(matmulMatrix(matrix(2, 3), matrix(2, 3), { transposeB: true }).rows).toBe(2);
  });

  it('transposeMatrix, identityMatrix and operatorFromMatrix', () => {
    withSeed((rng) => {
      const a = randomMatrix(rng, 3, 6);
      const t = transposeMatrix(a);
      expect([t.rows, t.cols]).toEqual([6, 3]);
      for (let i = 0; i < 3; i++) for (let j = 0; j < 6; j++) expect(t.data[j * 3 + i]).toBe(a.data[i * 6 + j]);
      const eye = identityMatrix(4);
      expect(Array.from(eye.data)).toEqual([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
      const op = operatorFromMatrix(a);
      const x = randomMatrix(rng, 6, 2);
      const y = randomMatrix(rng, 3, 2);
      assertClose(op.multiply(x).data, product(a, x).data, 1e-14, 'A x');
      assertClose(op.multiplyTransposed(y).data, product(a, y, true).data, 1e-14, 'Aᵀ y');
    });
  });
});

describe('qr', () => {
  for (const [m, n] of [
    [1, 1],
    [6, 6],
    [40, 12],
    [12, 40],
    [300, 20],
    [25, 90],
  ] as const) {
    it(`factors a random ${m}×${n} matrix`, () => {
      withSeed((rng) => {
        const a = randomMatrix(rng, m, n);
        const { q, r } = qr(a);
        const k = Math.min(m, n);
        expect([q.rows, q.cols, r.rows, r.cols]).toEqual([m, k, k, n]);
        assertClose(product(q, r).data, a.data, 1e-13, 'QR = A');
        expect(orthonormalityError(q)).toBeLessThan(1e-13);
        for (let i = 0; i < k; i++) {
          expect(r.data[i * n + i]).toBeGreaterThanOrEqual(0);
          for (let j = 0; j < i; j++) expect(r.data[i * n + j]).toBe(0);
        }
      });
    });
  }

  it('gives the same Q and R bit for bit with its row loops in SIMD (from 1024 entries) as in JavaScript, rank-deficient input included', () => {
    withSeed((rng) => {
      const cases = [randomMatrix(rng, 300, 20), randomMatrix(rng, 25, 90), product(randomMatrix(rng, 200, 3), randomMatrix(rng, 3, 12))];
      for (const a of cases) {
        const simd = qr(a);
        setSimdKernels(false);
        let plain;
        try {
          plain = qr(a);
        } finally {
          setSimdKernels(true);
        }
        expectIdentical(simd.q.data, plain.q.data, `Q of ${a.rows}×${a.cols}`);
        expectIdentical(simd.r.data, plain.r.data, `R of ${a.rows}×${a.cols}`);
        expect(orthonormalityError(simd.q)).toBeLessThan(1e-13);
      }
    });
  });

  it('keeps Q orthonormal for a rank-deficient input', () => {
    withSeed((rng) => {
      const a = product(randomMatrix(rng, 30, 3), randomMatrix(rng, 3, 10));
      const { q, r } = qr(a);
      expect(orthonormalityError(q)).toBeLessThan(1e-13);
      assertClose(product(q, r).data, a.data, 1e-13, 'QR = A');
    });
  });
});

describe('eigh', () => {
  function checkDecomposition(a: Matrix, tolerance = 1e-10): ReturnType<typeof eigh> {
    const { values, vectors } = eigh(a);
    const n = a.rows;
    expect([vectors.rows, vectors.cols]).toEqual([n, n]);
    const residual = distance(product(a, vectors).data, scaleColumns(vectors, values).data);
    expect(residual / Math.max(frobenius(a.data), Number.MIN_VALUE)).toBeLessThan(tolerance);
    expect(orthonormalityError(vectors)).toBeLessThan(tolerance);
    for (let j = 1; j < n; j++) expect(values[j]).toBeLessThanOrEqual(values[j - 1]);
    for (let j = 0; j < n; j++) expect(largestComponent(vectors, j, false)).toBeGreaterThan(0);
    return { values, vectors };
  }

  // 200: the accumulation of Q takes its later blocks of reflections in compact WY form; 100 and
  // up: divide and conquer; 460: the tridiagonalization in panels (two column panels, a short block).
  for (const n of [1, 2, 3, 17, 100, 200, 460]) {
    it(`decomposes a random symmetric ${n}×${n} matrix (AV = VΛ, VᵀV = I, Σλ = trace)`, () => {
      withSeed((rng) => {
        const a = randomSymmetric(rng, n);
        const { values } = checkDecomposition(a);
        let trace = 0;
        for (let i = 0; i < n; i++) trace += a.data[i * n + i];
        expect(Math.abs(values.reduce((s, x) => s + x, 0) - trace)).toBeLessThan(1e-10 * n);
      });
    });

    it(`recovers known eigenvalues (with repeats) of Q diag(λ) Qᵀ at n = ${n}`, () => {
      withSeed((rng) => {
        const lambda = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 2.5 : Math.round(10 * rng.normal()) / 4));
        const q = randomOrthogonal(rng, n);
        const a = product(scaleColumns(q, lambda), q, false, true);
        for (let i = 0; i < n; i++)
          for (let j = 0; j < i; j++) a.data[i * n + j] = a.data[j * n + i]; // exact symmetry
        const { values } = checkDecomposition(a);
        const expected = [...lambda].sort((x, y) => y - x);
        const scale = Math.max(...expected.map(Math.abs));
        for (let i = 0; i < n; i++) expect(Math.abs(values[i] - expected[i])).toBeLessThan(1e-12 * scale * Math.sqrt(n));
      });
    });
  }

  it('gives the same values and vectors with and without SIMD, bit for bit (tridiagonalization kernels, odd and even orders, in panels from 448)', () =>
    withUnfusedProducts(() => withSeed((rng) => {
      for (const n of [31, 32, 33, 64, 151, 449]) {
        const a = randomSymmetric(rng, n);
        const simd = eigh(a);
        const simdValues = eigvalsh(a);
        setSimdKernels(false);
        try {
          const plain = eigh(a);
          expectIdentical(simd.values, plain.values, `n = ${n} values`);
          expectIdentical(simd.vectors.data, plain.vectors.data, `n = ${n} vectors`);
          expectIdentical(simdValues, eigvalsh(a), `n = ${n} eigvalsh`);
        } finally {
          setSimdKernels(true);
        }
      }
    })));

  it('returns the first `count` eigenpairs in either order (QL, divide and conquer, panels): the full decomposition’s, n × count', () =>
    withSeed((rng) => {
      for (const n of [17, 100, 460]) {
        const a = randomSymmetric(rng, n);
        for (const order of ['descending', 'ascending'] as const) {
          const full = eigh(a, { order });
          for (const count of [1, 7, n]) {
            const { values, vectors } = eigh(a, { order, count });
            expect([vectors.rows, vectors.cols]).toEqual([n, count]);
            const scale = Math.abs(full.values[0]) + Math.abs(full.values[n - 1]);
            for (let j = 0; j < count; j++) {
              expect(Math.abs(values[j] - full.values[j]), `n = ${n}, ${order}, count ${count}: λ${j}`).toBeLessThan(1e-13 * scale);
              let worst = 0;
              for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(vectors.data[i * count + j] - full.vectors.data[i * n + j]));
              expect(worst, `n = ${n}, ${order}, count ${count}: vector ${j}`).toBeLessThan(1e-9);
            }
          }
        }
      }
      const a = randomSymmetric(rng, 5);
      expect(eigh(a, { count: 0 }).vectors).toEqual({ rows: 5, cols: 0, data: new Float64Array(0) });
      for (const count of [-1, 1.5, 6, Number.NaN]) expectCode(() => eigh(a, { count }), InvalidConfigError, 'INVALID_CONFIG', /count must be an integer in \[0, 5\]/);
    }));

  it('eigvalsh gives eigh’s values without the vectors: known spectra, both orders, and the same input errors', () => {
    withSeed((rng) => {
      for (const n of [0, 1, 2, 9, 60]) {
        const lambda = Array.from({ length: n }, (_, i) => (i % 4 === 0 ? -1.5 : Math.round(8 * rng.normal()) / 4));
        const q = randomOrthogonal(rng, n);
        const a = product(scaleColumns(q, lambda), q, false, true);
        for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a.data[i * n + j] = a.data[j * n + i];
        const descending = [...lambda].sort((x, y) => y - x);
        const scale = Math.max(1, ...descending.map(Math.abs));
        const values = eigvalsh(a);
        expect(values.length).toBe(n);
        for (let i = 0; i < n; i++) expect(Math.abs(values[i] - descending[i])).toBeLessThan(1e-12 * scale * Math.sqrt(n));
        if (n > 0) assertClose(values, eigh(a).values, 1e-13, `n = ${n}: eigvalsh vs eigh`);
        const ascending = eigvalsh(a, { order: 'ascending' });
        expect(Array.from(ascending)).toEqual(Array.from(values).reverse());
      }
    });
    expectCode(() => eigvalsh(matrix(2, 3)), ShapeMismatchError, 'SHAPE_MISMATCH');
    expectCode(() => eigvalsh(matrix(2, 2, [1, 2, 0, 1])), InvalidConfigError, 'INVALID_CONFIG', /eigvalsh: the matrix is not symmetric/);
    expectCode(() => eigvalsh(matrix(2, 2, [1, NaN, NaN, 1])), InvalidConfigError, 'INVALID_CONFIG');
  });

  it('matches the closed form of a 2×2 matrix', () => {
    withSeed((rng) => {
      for (let trial = 0; trial < 20; trial++) {
        const [p, q, r] = [rng.normal(), rng.normal(), rng.normal()];
        const mean = (p + r) / 2;
        const radius = Math.hypot((p - r) / 2, q);
        const { values } = checkDecomposition(matrix(2, 2, [p, q, q, r]), 1e-14);
        expect(Math.abs(values[0] - (mean + radius))).toBeLessThan(1e-14 * (Math.abs(mean) + radius));
        expect(Math.abs(values[1] - (mean - radius))).toBeLessThan(1e-14 * (Math.abs(mean) + radius));
      }
    });
  });

  it('returns a diagonal matrix’s entries with unit vectors', () => {
    const diagonal = [3, -1, 7, 0, 2];
    const n = diagonal.length;
    const a = matrix(n, n);
    diagonal.forEach((x, i) => (a.data[i * n + i] = x));
    const { values, vectors } = eigh(a);
    expect(Array.from(values)).toEqual([7, 3, 2, 0, -1]);
    const sources = [2, 0, 4, 3, 1];
    for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) expect(vectors.data[i * n + j]).toBe(i === sources[j] ? 1 : 0);
  });

  it('matches Sturm-sequence bisection on tridiagonal matrices, incl. Wilkinson’s W21+', () => {
    withSeed((rng) => {
      const n = 21;
      const w21 = { diagonal: Array.from({ length: n }, (_, i) => Math.abs(10 - i)), off: new Array(n - 1).fill(1) };
      const random = { diagonal: Array.from({ length: 30 }, () => rng.normal()), off: Array.from({ length: 29 }, () => rng.normal()) };
      for (const { diagonal, off } of [w21, random]) {
        const size = diagonal.length;
        const t = matrix(size, size);
        for (let i = 0; i < size; i++) {
          t.data[i * size + i] = diagonal[i];
          if (i + 1 < size) t.data[i * size + i + 1] = t.data[(i + 1) * size + i] = off[i];
        }
        // Orthogonality of a backward-stable eigensolver degrades as O(n·ε): over 3000 seeds of the random
        // 30×30 case the worst max-entry |VᵀV − I| was 1.9·n·ε, so a fixed 1e-14 failed now and then.
        const { values } = checkDecomposition(t, 8 * size * Number.EPSILON);
        const expected = bisectionEigenvalues(diagonal, off);
        for (let i = 0; i < size; i++) expect(Math.abs(values[i] - expected[i])).toBeLessThan(1e-13);
      }
    });
    const ones = checkDecomposition(matrix(6, 6, new Array(36).fill(1)), 1e-14);
    expect(Math.abs(ones.values[0] - 6)).toBeLessThan(1e-14);
    for (let i = 1; i < 6; i++) expect(Math.abs(ones.values[i])).toBeLessThan(1e-14);
  });

  it('orders ascending on request, with the same vectors', () => {
    withSeed((rng) => {
      const a = randomSymmetric(rng, 9);
      const down = eigh(a);
      const up = eigh(a, { order: 'ascending' });
      for (let j = 0; j < 9; j++) {
        expect(up.values[j]).toBe(down.values[8 - j]);
        for (let i = 0; i < 9; i++) expect(up.vectors.data[i * 9 + j]).toBe(down.vectors.data[i * 9 + 8 - j]);
      }
    });
  });

  it('is deterministic and scale-safe (huge, tiny, zero)', () => {
    withSeed((rng) => {
      const a = randomSymmetric(rng, 12);
      const first = eigh(a);
      const again = eigh(a);
      expect(Array.from(again.values)).toEqual(Array.from(first.values));
      expect(Array.from(again.vectors.data)).toEqual(Array.from(first.vectors.data));
      for (const scale of [1e200, 1e-200]) {
        const scaled = { rows: 12, cols: 12, data: a.data.map((x) => x * scale) };
        const { values } = checkDecomposition(scaled);
        assertClose(values.map((x) => x / scale), first.values, 1e-12, `eigenvalues × ${scale}`);
      }
      const zero = eigh(matrix(4, 4));
      expect(Array.from(zero.values)).toEqual([0, 0, 0, 0]);
      expect(orthonormalityError(zero.vectors)).toBe(0);
      expect(eigh(matrix(0, 0)).values.length).toBe(0);
    });
  });

  it('rejects non-square, non-finite and asymmetric input', () => {
    expectCode(() => eigh(matrix(2, 3)), ShapeMismatchError, 'SHAPE_MISMATCH');
    expectCode(() => eigh(matrix(2, 2, [1, NaN, NaN, 1])), InvalidConfigError, 'INVALID_CONFIG', /NaN/);
    expectCode(() => eigh(matrix(2, 2, [1, Infinity, Infinity, 1])), InvalidConfigError, 'INVALID_CONFIG', /Infinity/);
    const error = expectCode(
      () => eigh(matrix(3, 3, [1, 2, 3, 2, 1, 5, 3, 4, 1])),
      InvalidConfigError,
      'INVALID_CONFIG',
      /not symmetric.*a\[1\]\[2\]/,
    );
    expect(error.details).toMatchObject({ row: 1, col: 2, asymmetry: 1 });
    // Within the tolerance the matrix is symmetrized.
    const nearly = matrix(2, 2, [2, 1, 1 + 1e-10, 2]);
    assertClose(eigh(nearly).values, [3 + 5e-11, 1 - 5e-11], 1e-15, 'symmetrized eigenvalues');
    expectCode(() => eigh(nearly, { tolerance: 1e-12 }), InvalidConfigError, 'INVALID_CONFIG');
  });
});

describe('applyReflectionsToRows', () => {
  it('equals the reflections applied one at a time in float64, in blocks (compact WY) and singly, with τ = 0 among them', () =>
    withSeed((rng) => {
      // Q's accumulation shape: reflection j starts at column k + 1 (k = count − 1 − j). From the
      // identity, rows above its start are zero there and skipped; from a dense matrix (eigh's
      // Zᵀ·Qᵀ) every row takes every reflection.
      for (const [rows, cols, dense] of [[40, 40, false], [300, 300, false], [180, 260, false], [40, 40, true], [300, 300, true], [90, 150, true]] as const) {
        const count = Math.min(rows, cols) - 2;
        const target = dense ? randomMatrix(rng, rows, cols).data : new Float64Array(rows * cols);
        if (!dense) for (let i = 0; i < Math.min(rows, cols); i++) target[i * cols + i] = 1;
        const vectors = new Float64Array(count * cols);
        const offsets = new Int32Array(count);
        const starts = new Int32Array(count);
        const taus = new Float64Array(count);
        for (let j = 0; j < count; j++) {
          const start = count - j;
          starts[j] = start;
          offsets[j] = j * cols;
          let norm = 0;
          for (let c = 0; c < cols - start; c++) {
            vectors[j * cols + c] = rng.normal();
            norm += vectors[j * cols + c] ** 2;
          }
          taus[j] = j % 37 === 5 ? 0 : 2 / norm; // an exact reflection, or none
        }
        const expected = Float64Array.from(target);
        for (let j = 0; j < count; j++) {
          for (let r = 0; r < rows; r++) {
            let dot = 0;
            for (let c = starts[j]; c < cols; c++) dot += expected[r * cols + c] * vectors[offsets[j] + c - starts[j]];
            for (let c = starts[j]; c < cols; c++) expected[r * cols + c] -= taus[j] * dot * vectors[offsets[j] + c - starts[j]];
          }
        }
        applyReflectionsToRows(target, rows, cols, count, vectors, offsets, starts, taus, !dense);
        assertClose(target, expected, 1e-12, `${rows}×${cols}${dense ? ', dense rows' : ''}`);
      }
    }));
});

describe('svd', () => {
  function checkSvd(a: Matrix, tolerance = 1e-10): ReturnType<typeof svd> {
    const result = svd(a);
    const { u, s, vt } = result;
    const r = Math.min(a.rows, a.cols);
    expect([u.rows, u.cols, s.length, vt.rows, vt.cols]).toEqual([a.rows, r, r, r, a.cols]);
    const reconstructed = product(scaleColumns(u, s), vt);
    expect(distance(reconstructed.data, a.data) / Math.max(frobenius(a.data), Number.MIN_VALUE)).toBeLessThan(tolerance);
    expect(orthonormalityError(u)).toBeLessThan(tolerance);
    expect(orthonormalityError(vt, true)).toBeLessThan(tolerance);
    for (let i = 0; i < r; i++) {
      expect(s[i]).toBeGreaterThanOrEqual(0);
      if (i > 0) expect(s[i]).toBeLessThanOrEqual(s[i - 1]);
      expect(largestComponent(vt, i, true)).toBeGreaterThan(0);
    }
    return result;
  }

  for (const [m, n] of [
    [1, 1],
    [1, 6],
    [6, 1],
    [5, 3],
    [3, 5],
    [30, 30],
    [80, 25],
    [25, 80],
  ] as const) {
    it(`decomposes a random ${m}×${n} matrix; s² are the eigenvalues of the Gram matrix`, () => {
      withSeed((rng) => {
        const a = randomMatrix(rng, m, n);
        const { s } = checkSvd(a);
        const gram = m >= n ? product(a, a, true, false) : product(a, a, false, true);
        const expected = eigh(gram).values.map((x) => Math.sqrt(Math.max(x, 0)));
        // s² vs eigenvalues of AᵀA agree to ε‖A‖², so compare in absolute terms against s₀.
        for (let i = 0; i < s.length; i++) expect(Math.abs(s[i] - expected[i])).toBeLessThan(1e-7 * s[0]);
        assertClose(s, expected, 1e-8, 'singular values');
      });
    });
  }

  it('recovers known singular values (with repeats and zeros) of U Σ Vᵀ', () => {
    withSeed((rng) => {
      const sigma = [10, 4, 4, 1, 1e-3, 1e-6, 0, 0];
      for (const [m, n] of [
        [20, 8],
        [8, 20],
        [8, 8],
      ] as const) {
        const a = withSingularValues(rng, m, n, sigma);
        const { s } = checkSvd(a);
        for (let i = 0; i < sigma.length; i++) expect(Math.abs(s[i] - sigma[i])).toBeLessThan(1e-13 * sigma[0]);
        // Well-separated leading values are recovered to near full relative precision.
        expect(Math.abs(s[4] - 1e-3) / 1e-3).toBeLessThan(1e-10);
      }
    });
  });

  it('handles a rank-2 50×30 matrix with orthonormal factors', () => {
    withSeed((rng) => {
      const a = product(randomMatrix(rng, 50, 2), randomMatrix(rng, 2, 30));
      const { s } = checkSvd(a, 1e-12);
      for (let i = 2; i < 30; i++) expect(s[i]).toBeLessThan(1e-13 * s[0]);
      expect(s[1]).toBeGreaterThan(1e-3 * s[0]);
      checkSvd(transposeMatrix(a), 1e-12);
    });
  });

  it('handles zero, scaled and empty matrices and is deterministic', () => {
    withSeed((rng) => {
      const zero = checkSvd(matrix(6, 4));
      expect(Array.from(zero.s)).toEqual([0, 0, 0, 0]);
      const a = randomMatrix(rng, 7, 5);
      const base = svd(a);
      for (const scale of [1e250, 1e-250]) {
        const { s } = checkSvd({ rows: 7, cols: 5, data: a.data.map((x) => x * scale) });
        assertClose(s.map((x) => x / scale), base.s, 1e-13, `singular values × ${scale}`);
      }
      const again = svd(a);
      expect(Array.from(again.u.data)).toEqual(Array.from(base.u.data));
      expect(Array.from(again.vt.data)).toEqual(Array.from(base.vt.data));
      const empty = svd(matrix(0, 3));
      expect([empty.u.rows, empty.u.cols, empty.s.length, empty.vt.rows, empty.vt.cols]).toEqual([0, 0, 0, 0, 3]);
    });
  });

  it('chases zeros off the bidiagonal (exactly singular inputs)', () => {
    // The nilpotent shift, an upper bidiagonal matrix with a zero in the middle of its diagonal,
    // one with a zero last, and the all-ones matrix.
    const shift = checkSvd(matrix(4, 4, [0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]), 1e-15);
    expect(Array.from(shift.s)).toEqual([1, 1, 1, 0]);
    const middle = checkSvd(matrix(4, 4, [1, 2, 0, 0, 0, 0, 3, 0, 0, 0, 4, 5, 0, 0, 0, 6]), 1e-14);
    expect(middle.s[3]).toBeLessThan(1e-15);
    const last = checkSvd(matrix(3, 3, [1, 2, 0, 0, 3, 4, 0, 0, 0]), 1e-14);
    expect(last.s[2]).toBe(0);
    const ones = checkSvd(matrix(5, 4, new Array(20).fill(1)), 1e-14);
    expect(Math.abs(ones.s[0] - Math.sqrt(20))).toBeLessThan(1e-14);
    for (let i = 1; i < 4; i++) expect(ones.s[i]).toBeLessThan(1e-15);
  });

  it('gives the same factors with and without SIMD, bit for bit, zero-chasing steps included', () =>
    withSeed((rng) => {
      // A 40×40 upper bidiagonal with zeros inside and at the end of its diagonal (both chases run
      // on U and V between batched rotations), and random 70×40 / 40×70 matrices.
      const bidiagonal = matrix(40, 40);
      for (let i = 0; i < 40; i++) {
        bidiagonal.data[i * 41] = i === 17 || i === 39 ? 0 : 1 + rng.uniform();
        if (i + 1 < 40) bidiagonal.data[i * 41 + 1] = 1 + rng.uniform();
      }
      for (const a of [bidiagonal, randomMatrix(rng, 70, 40), randomMatrix(rng, 40, 70)]) {
        const simd = checkSvd(a, 1e-12);
        setSimdKernels(false);
        try {
          const plain = svd(a);
          expectIdentical(simd.s, plain.s, 's');
          expectIdentical(simd.u.data, plain.u.data, 'U');
          expectIdentical(simd.vt.data, plain.vt.data, 'Vᵀ');
        } finally {
          setSimdKernels(true);
        }
      }
      expect(svd(bidiagonal).s[39]).toBe(0);
    }));

  it('rejects non-finite input', () => {
    expectCode(() => svd(matrix(2, 2, [1, 2, NaN, 4])), InvalidConfigError, 'INVALID_CONFIG', /\(1, 0\)/);
  });
});

describe('randomizedSvd', () => {
  const m = 120;
  const n = 90;
  const decaying = Array.from({ length: n }, (_, i) => 5 * 0.5 ** i);

  it('recovers the leading singular values of a fast-decaying spectrum', () => {
    withSeed((rng, seed) => {
      const a = withSingularValues(rng, m, n, decaying);
      const k = 8;
      const { u, s, vt } = randomizedSvd(a, k, { seed });
      expect([u.rows, u.cols, s.length, vt.rows, vt.cols]).toEqual([m, k, k, k, n]);
      for (let i = 0; i < k; i++) expect(Math.abs(s[i] - decaying[i]) / decaying[i]).toBeLessThan(1e-6);
      expect(orthonormalityError(u)).toBeLessThan(1e-12);
      expect(orthonormalityError(vt, true)).toBeLessThan(1e-12);
      // The rank-k truncation is as good as the optimal one: ‖A − U S Vᵀ‖_F ≈ sqrt(Σ_{i≥k} σᵢ²).
      const tail = Math.sqrt(decaying.slice(k).reduce((t, x) => t + x * x, 0));
      const error = distance(product(scaleColumns(u, s), vt).data, a.data);
      expect(error).toBeLessThan(tail * (1 + 1e-6));
      // The exact SVD agrees on the singular vectors (same sign convention).
      const exact = svd(a);
      const exactTop = { rows: k, cols: n, data: exact.vt.data.slice(0, k * n) };
      assertClose(vt.data, exactTop.data, 1e-6, 'right singular vectors');
    });
  });

  it('works through operatorFromMatrix and a never-stored operator; same seed → identical result', () => {
    withSeed((rng, seed) => {
      const a = withSingularValues(rng, m, n, decaying);
      const direct = randomizedSvd(a, 5, { seed });
      const viaOperator = randomizedSvd(operatorFromMatrix(a), 5, { seed });
      expect(Array.from(viaOperator.s)).toEqual(Array.from(direct.s));
      expect(Array.from(viaOperator.u.data)).toEqual(Array.from(direct.u.data));
      expect(Array.from(viaOperator.vt.data)).toEqual(Array.from(direct.vt.data));
      const again = randomizedSvd(a, 5, { seed });
      expect(Array.from(again.vt.data)).toEqual(Array.from(direct.vt.data));
      const other = randomizedSvd(a, 5, { seed: seed + 1, powerIterations: 3, oversample: 5 });
      assertClose(other.s, direct.s, 1e-8, 'another sketch');

      // diag(d) known only through its products.
      const d = Array.from({ length: 60 }, (_, i) => 3 * 0.4 ** i);
      const scaleRows = (x: Matrix): Matrix => {
        const out = Float64Array.from(x.data);
        for (let i = 0; i < x.rows; i++) for (let j = 0; j < x.cols; j++) out[i * x.cols + j] *= d[i];
        return { rows: x.rows, cols: x.cols, data: out };
      };
      const diagonal: LinearOperator = { rows: 60, cols: 60, multiply: scaleRows, multiplyTransposed: scaleRows };
      const fromOperator = randomizedSvd(diagonal, 4, { rng });
      for (let i = 0; i < 4; i++) expect(Math.abs(fromOperator.s[i] - d[i]) / d[i]).toBeLessThan(1e-10);
    });
  });

  it('rejects an invalid rank, oversample or power iteration count', () => {
    const a = matrix(5, 4, Array.from({ length: 20 }, (_, i) => i));
    for (const rank of [0, -1, 1.5, 5, NaN]) expectCode(() => randomizedSvd(a, rank), InvalidConfigError, 'INVALID_CONFIG', /rank/);
    expectCode(() => randomizedSvd(a, 2, { oversample: -1 }), InvalidConfigError, 'INVALID_CONFIG');
    expectCode(() => randomizedSvd(a, 2, { powerIterations: 0.5 }), InvalidConfigError, 'INVALID_CONFIG');
    expect(randomizedSvd(a, 4).s.length).toBe(4);
    expectCode(() => randomizedSvd(matrix(2, 2, [1, Infinity, 0, 1]), 1), InvalidConfigError, 'INVALID_CONFIG', /Infinity/);
    const broken: LinearOperator = { rows: 5, cols: 4, multiply: () => matrix(5, 1), multiplyTransposed: () => matrix(4, 1) };
    expectCode(() => randomizedSvd(broken, 2), ShapeMismatchError, 'SHAPE_MISMATCH', /multiply returned 5×1, expected 5×4/);
  });

  it('randomizedSvdAsync with asynchronous products returns exactly the synchronous result; bad input rejects the same way', async () => {
    const seed = freshSeed();
    const rng = createRng(seed);
    const a = withSingularValues(rng, m, n, decaying);
    const operator = operatorFromMatrix(a);
    let products = 0;
    const asyncOperator: AsyncLinearOperator = {
      rows: m,
      cols: n,
      multiply: async (v) => (products++, operator.multiply(v)),
      multiplyTransposed: async (v) => (products++, operator.multiplyTransposed(v)),
    };
    const expected = randomizedSvd(a, 6, { seed, powerIterations: 3 });
    const got = await randomizedSvdAsync(asyncOperator, 6, { seed, powerIterations: 3 });
    expect(Array.from(got.s), `seed ${seed}`).toEqual(Array.from(expected.s));
    expect(Array.from(got.u.data)).toEqual(Array.from(expected.u.data));
    expect(Array.from(got.vt.data)).toEqual(Array.from(expected.vt.data));
    expect(products).toBe(2 + 2 * 3); // sketch, B, and two per power iteration
    await expect(randomizedSvdAsync(asyncOperator, 0)).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    const broken: AsyncLinearOperator = { rows: 5, cols: 4, multiply: async () => matrix(5, 1), multiplyTransposed: async () => matrix(4, 1) };
    await expect(randomizedSvdAsync(broken, 2)).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
  });
});

describe('cholesky', () => {
  function randomSpd(rng: Rng, n: number): Matrix {
    return lowRankSpd(rng, n, n);
  }

  /** B·Bᵀ + n·I for a random n × rank B: positive definite, and cheap to form for large n. */
  function lowRankSpd(rng: Rng, n: number, rank: number): Matrix {
    const b = randomMatrix(rng, n, rank);
    const a = product(b, b, false, true);
    for (let i = 0; i < n; i++) a.data[i * n + i] += n;
    return a;
  }

  // 64 and up run blocked (panels of 32 columns, SIMD trailing update) where WebAssembly SIMD is available.
  for (const n of [1, 5, 40, 64, 97, 130]) {
    it(`factors a random SPD ${n}×${n} matrix and solves with it`, () => {
      withSeed((rng) => {
        const a = randomSpd(rng, n);
        const l = cholesky(a);
        for (let i = 0; i < n; i++) {
          expect(l.data[i * n + i]).toBeGreaterThan(0);
          for (let j = i + 1; j < n; j++) expect(l.data[i * n + j]).toBe(0);
        }
        assertClose(product(l, l, false, true).data, a.data, 1e-14, 'L Lᵀ = A');
        const b = randomMatrix(rng, n, 3);
        const x = choleskySolve(l, b);
        assertClose(product(a, x).data, b.data, 1e-12, 'A X = B');
      });
    });
  }

  it('reads only the lower triangle', () => {
    withSeed((rng) => {
      for (const n of [6, 70]) {
        const a = randomSpd(rng, n);
        const spoiled = Float64Array.from(a.data);
        for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) spoiled[i * n + j] = 1e3 * rng.normal();
        expect(Array.from(cholesky({ rows: n, cols: n, data: spoiled }).data)).toEqual(Array.from(cholesky(a).data));
      }
    });
  });

  it('gives the same factor blocked with SIMD and row by row without it, to rounding', () => {
    try {
      withSeed((rng) => {
        // 300: the trailing updates of the first panels go to the worker threads; 1030: L no
        // longer fits the kept scratch arena (a one-off one, one thread).
        for (const n of [64, 65, 99, 160, 300, 1030]) {
          const a = n > 500 ? lowRankSpd(rng, n, 40) : randomSpd(rng, n);
          const blocked = cholesky(a, { jitter: 0.5 });
          setSimdKernels(false);
          const rows = cholesky(a, { jitter: 0.5 });
          setSimdKernels(true);
          assertClose(blocked.data, rows.data, 1e-14, `n = ${n}`);
          let upper = 0;
          for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (blocked.data[i * n + j] !== 0) upper++;
          expect(upper, `non-zero entries above the diagonal, n = ${n}`).toBe(0);
        }
      });
    } finally {
      setSimdKernels(true);
    }
  });

  it('names the failing pivot in the blocked path too (a pivot in a later panel, and one inside the trailing update)', () => {
    const n = 80;
    const diagonal = matrix(n, n);
    for (let i = 0; i < n; i++) diagonal.data[i * n + i] = i === 66 ? -1 : 2;
    expectCode(() => cholesky(diagonal), NotPositiveDefiniteError, 'NOT_POSITIVE_DEFINITE', /pivot 66 is -1/);
    // Rows 40 and 41 equal (rank-deficient): pivot 41 is the rounding-level remainder of the update.
    withSeed((rng) => {
      const b = randomMatrix(rng, n, n);
      for (let k = 0; k < n; k++) b.data[41 * n + k] = b.data[40 * n + k];
      const a = product(b, b, false, true);
      const error = expectCode(() => cholesky(a), NotPositiveDefiniteError, 'NOT_POSITIVE_DEFINITE', /pivot 41/);
      expect(error.details).toMatchObject({ pivot: 41 });
    });
  });

  it('rejects a matrix that is not positive definite, naming the pivot', () => {
    const error = expectCode(
      () => cholesky(matrix(3, 3, [4, 2, 0, 2, 1, 0, 0, 0, 1])),
      NotPositiveDefiniteError,
      'NOT_POSITIVE_DEFINITE',
      /pivot 1/,
    );
    expect(error.details).toMatchObject({ pivot: 1 });
    expectCode(() => cholesky(matrix(2, 2, [-1, 0, 0, 1])), NotPositiveDefiniteError, 'NOT_POSITIVE_DEFINITE', /pivot 0 is -1/);
    withSeed((rng) => {
      // Q diag(λ) Qᵀ with a single negative eigenvalue.
      const lambda = [5, 4, 3, 2, 1, 1, 2, 3, 4, -0.5];
      const q = randomOrthogonal(rng, 10);
      const a = product(scaleColumns(q, lambda), q, false, true);
      expectCode(() => cholesky(a), NotPositiveDefiniteError, 'NOT_POSITIVE_DEFINITE');
    });
  });

  it('factors a singular PSD matrix once jitter is added', () => {
    withSeed((rng) => {
      const b = randomMatrix(rng, 8, 2);
      const a = product(b, b, false, true); // rank 2
      expectCode(() => cholesky(a), NotPositiveDefiniteError, 'NOT_POSITIVE_DEFINITE');
      const jitter = 1e-6;
      const l = cholesky(a, { jitter });
      const shifted = Float64Array.from(a.data);
      for (let i = 0; i < 8; i++) shifted[i * 8 + i] += jitter;
      assertClose(product(l, l, false, true).data, shifted, 1e-12, 'L Lᵀ = A + jitter·I');
    });
    expectCode(() => cholesky(identityMatrix(2), { jitter: -1 }), InvalidConfigError, 'INVALID_CONFIG');
    expectCode(() => cholesky(matrix(2, 3)), ShapeMismatchError, 'SHAPE_MISMATCH');
    expectCode(() => choleskySolve(identityMatrix(2), matrix(3, 1)), ShapeMismatchError, 'SHAPE_MISMATCH');
  });
});

describe('solveTriangular', () => {
  /** A random triangular matrix with garbage in the other triangle (which must not be read). */
  function randomTriangular(rng: Rng, n: number, lower: boolean): { stored: Matrix; clean: Matrix } {
    const stored = randomMatrix(rng, n, n);
    const clean = matrix(n, n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        if (i === j) stored.data[i * n + j] = (rng.uniform() < 0.5 ? -1 : 1) * (1 + rng.uniform());
        const inside = lower ? j <= i : j >= i;
        if (inside) clean.data[i * n + j] = stored.data[i * n + j] * (i === j ? 1 : 0.3);
        if (inside) stored.data[i * n + j] = clean.data[i * n + j];
        else stored.data[i * n + j] = 1e6 * rng.normal();
      }
    return { stored, clean };
  }

  for (const lower of [true, false])
    for (const transpose of [false, true])
      for (const unitDiagonal of [false, true]) {
        it(`solves with lower=${lower} transpose=${transpose} unitDiagonal=${unitDiagonal}`, () => {
          withSeed((rng) => {
            const n = 25;
            const { stored, clean } = randomTriangular(rng, n, lower);
            if (unitDiagonal) for (let i = 0; i < n; i++) clean.data[i * n + i] = 1;
            const b = randomMatrix(rng, n, 4);
            const x = solveTriangular(stored, b, { lower, transpose, unitDiagonal });
            assertClose(product(clean, x, transpose, false).data, b.data, 1e-12, 'op(T) X = B');
          });
        });
      }

  it('solves one column with the same values as the first column of a multi-column solve, for every orientation', () => {
    withSeed((rng) => {
      const n = 40;
      for (const lower of [true, false])
        for (const transpose of [false, true])
          for (const unitDiagonal of [false, true]) {
            const { stored } = randomTriangular(rng, n, lower);
            const b = randomMatrix(rng, n, 3);
            const column: Matrix = { rows: n, cols: 1, data: Float64Array.from({ length: n }, (_, i) => b.data[i * 3]) };
            const options = { lower, transpose, unitDiagonal };
            const all = solveTriangular(stored, b, options);
            const one = solveTriangular(stored, column, options);
            expect(Array.from(one.data), JSON.stringify(options)).toEqual(Array.from({ length: n }, (_, i) => all.data[i * 3]));
          }
    });
  });

  it('rejects a zero pivot and mismatched shapes', () => {
    const t = matrix(3, 3, [1, 0, 0, 2, 0, 0, 3, 4, 5]);
    const error = expectCode(() => solveTriangular(t, matrix(3, 1, [1, 2, 3])), InvalidConfigError, 'INVALID_CONFIG', /singular triangular matrix/);
    expect(error.details).toMatchObject({ index: 1 });
    expect(solveTriangular(t, matrix(3, 1, [1, 2, 3]), { unitDiagonal: true }).rows).toBe(3);
    expectCode(() => solveTriangular(t, matrix(2, 1)), ShapeMismatchError, 'SHAPE_MISMATCH');
    expectCode(() => solveTriangular(matrix(2, 3), matrix(2, 1)), ShapeMismatchError, 'SHAPE_MISMATCH');
  });

  it('lowerTriangularSolver (L resident in WebAssembly memory) solves L x = b and Lᵀ x = b, vectors and blocks of up to 16 columns a pass, many times', () => {
    withSeed((rng) => {
      // Orders around the dot kernel's groups of four, and one where the solves run long.
      for (const n of [1, 2, 5, 8, 130]) {
        const { stored, clean } = randomTriangular(rng, n, true);
        const solve = lowerTriangularSolver(stored);
        for (let repeat = 0; repeat < 3; repeat++) {
          for (const transpose of [false, true]) {
            const column = randomMatrix(rng, n, 1);
            const x = solve(column, transpose);
            assertClose(product(clean, x, transpose, false).data, column.data, 1e-12, `op(L) x = b, n ${n}, transpose ${transpose}`);
            assertClose(x.data, solveTriangular(stored, column, { transpose }).data, 1e-12, 'as solveTriangular');
            // Blocks: eight columns at a time, then pairs, an odd last one, and passes of 16.
            for (const k of [3, 8, 11, 16, 35]) {
              const block = randomMatrix(rng, n, k);
              const solved = solve(block, transpose);
              assertClose(product(clean, solved, transpose, false).data, block.data, 1e-12, `op(L) X = B, n ${n}, k ${k}`);
              // Unfused, each entry is solveTriangular's sum bit for bit.
              const plain = withUnfusedProducts(() => lowerTriangularSolver(stored)(block, transpose));
              expectIdentical(plain.data, solveTriangular(stored, block, { transpose }).data, `n ${n}, k ${k}, transpose ${transpose}: as solveTriangular`);
            }
          }
        }
      }
    });
    expectCode(() => lowerTriangularSolver(matrix(3, 3, [1, 0, 0, 2, 0, 0, 3, 4, 5])), InvalidConfigError, 'INVALID_CONFIG', /singular triangular matrix/);
    expectCode(() => lowerTriangularSolver(matrix(2, 3)), ShapeMismatchError, 'SHAPE_MISMATCH');
    expectCode(() => lowerTriangularSolver(matrix(2, 2, [1, 0, 0, 1]))(matrix(3, 1)), ShapeMismatchError, 'SHAPE_MISMATCH');
  });
});

describe('triangularGram', () => {
  /** Σ_{k ≥ max(i, j)} L[k][i]·L[k][j], summed in ascending k, written out. */
  function directGram(l: Matrix): Float64Array {
    const n = l.rows;
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let k = Math.max(i, j); k < n; k++) sum += l.data[k * n + i] * l.data[k * n + j];
        out[i * n + j] = sum;
      }
    return out;
  }

  it('equals LᵀL summed in ascending k, bit for bit, with and without SIMD, ignoring the upper triangle', () => {
    try {
      withUnfusedProducts(() => withSeed((rng) => {
        for (const n of [0, 1, 5, 31, 32, 33, 70]) {
          const l = randomMatrix(rng, n, n);
          const clean = matrix(n, n);
          for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) clean.data[i * n + j] = l.data[i * n + j];
          for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) l.data[i * n + j] = Number.NaN;
          const expected = Array.from(directGram(clean));
          expect(Array.from(triangularGram(l).data), `n = ${n}, SIMD`).toEqual(expected);
          setSimdKernels(false);
          expect(Array.from(triangularGram(l).data), `n = ${n}, JavaScript`).toEqual(expected);
          setSimdKernels(true);
          assertClose(triangularGram(l).data, product(clean, clean, true, false).data, 1e-14, `n = ${n}: LᵀL`);
        }
      }));
    } finally {
      setSimdKernels(true);
    }
    expectCode(() => triangularGram(matrix(2, 3)), ShapeMismatchError, 'SHAPE_MISMATCH');
  });
});
