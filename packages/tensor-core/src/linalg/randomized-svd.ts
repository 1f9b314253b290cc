import { InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { createRng, type Rng } from '../rng.js';
import type { LinearOperator, Matrix } from './matrix.js';
import { matmulMatrix, operatorFromMatrix, requireFiniteMatrix, transposeMatrix } from './matrix-ops.js';
import { qr } from './qr.js';
import { type SvdResult, svd } from './svd.js';

export interface RandomizedSvdOptions {
  /** Extra sketch columns beyond `rank` (default 10): they make the captured subspace reliable. */
  oversample?: number;
  /** Power (subspace) iterations (default 2): each sharpens a slowly decaying spectrum. */
  powerIterations?: number;
  /** The generator for the Gaussian sketch; takes precedence over `seed`. */
  rng?: Rng;
  /** Seed for the Gaussian sketch when no `rng` is given (default 0, so results are reproducible). */
  seed?: number;
}

/**
 * The leading `rank` singular triplets of A (a stored matrix or an operator known only through
 * products) by the randomized range finder of Halko, Martinsson & Tropp (2011, Alg. 4.4 + 5.1):
 * sketch Y = A Ω with a Gaussian Ω of rank + oversample columns, run power iterations with a QR
 * re-orthonormalization after every product (so small singular directions are not lost to
 * rounding), then take the exact SVD of the small B = Qᵀ A and lift its left vectors by Q.
 */
export function randomizedSvd(a: Matrix | LinearOperator, rank: number, options: RandomizedSvdOptions = {}): SvdResult {
  if (!isLinearOperator(a)) requireFiniteMatrix(a, 'randomizedSvd');
  const operator: LinearOperator = isLinearOperator(a) ? a : operatorFromMatrix(a);
  const { rows: m, cols: n } = operator;
  const smaller = Math.min(m, n);
  if (!Number.isInteger(rank) || rank < 1 || rank > smaller) {
    throw new InvalidConfigError(`randomizedSvd: rank must be an integer in [1, ${smaller}] for a ${m}×${n} matrix, got ${rank}`, {
      rank,
      rows: m,
      cols: n,
    });
  }
  const oversample = options.oversample ?? 10;
  if (!Number.isInteger(oversample) || oversample < 0) {
    throw new InvalidConfigError(`randomizedSvd: oversample must be an integer >= 0, got ${oversample}`);
  }
  const powerIterations = options.powerIterations ?? 2;
  if (!Number.isInteger(powerIterations) || powerIterations < 0) {
    throw new InvalidConfigError(`randomizedSvd: powerIterations must be an integer >= 0, got ${powerIterations}`);
  }
  const rng = options.rng ?? createRng(options.seed ?? 0);
  const sketchSize = Math.min(rank + oversample, smaller);

  const omega = new Float64Array(n * sketchSize);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  let basis = qr(checkedProduct(operator.multiply({ rows: n, cols: sketchSize, data: omega }), m, sketchSize, 'multiply')).q;
  for (let iteration = 0; iteration < powerIterations; iteration++) {
    const rowSpace = qr(checkedProduct(operator.multiplyTransposed(basis), n, sketchSize, 'multiplyTransposed')).q;
    basis = qr(checkedProduct(operator.multiply(rowSpace), m, sketchSize, 'multiply')).q;
  }

  // B = Qᵀ A, formed as (Aᵀ Q)ᵀ so only the operator's two products are needed.
  const small = transposeMatrix(checkedProduct(operator.multiplyTransposed(basis), n, sketchSize, 'multiplyTransposed'));
  const factors = svd(small);
  const u = matmulMatrix(basis, factors.u);
  return {
    u: leadingColumns(u, rank),
    s: factors.s.slice(0, rank),
    vt: { rows: rank, cols: n, data: factors.vt.data.slice(0, rank * n) },
  };
}

function isLinearOperator(a: Matrix | LinearOperator): a is LinearOperator {
  return typeof (a as Partial<LinearOperator>).multiply === 'function';
}

/** An operator's product, checked for the shape it must have. */
function checkedProduct(product: Matrix, rows: number, cols: number, which: string): Matrix {
  if (product.rows !== rows || product.cols !== cols || product.data.length !== rows * cols) {
    throw new ShapeMismatchError(
      `randomizedSvd: the operator's ${which} returned ${product.rows}×${product.cols}, expected ${rows}×${cols}`,
      { rows: product.rows, cols: product.cols, expectedRows: rows, expectedCols: cols },
    );
  }
  return product;
}

function leadingColumns(a: Matrix, count: number): Matrix {
  if (count === a.cols) return a;
  const out = new Float64Array(a.rows * count);
  for (let i = 0; i < a.rows; i++) out.set(a.data.subarray(i * a.cols, i * a.cols + count), i * count);
  return { rows: a.rows, cols: count, data: out };
}
