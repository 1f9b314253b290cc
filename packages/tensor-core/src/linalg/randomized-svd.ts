import { InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { createRng, type Rng } from '../rng.js';
import type { LinearOperator, Matrix } from './matrix.js';
import { matmulMatrix, operatorFromMatrix, requireFiniteMatrix, transposeMatrix } from './matrix-ops.js';
import { type ProductSteps, runSteps, runStepsAsync } from './product-steps.js';
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
  return runSteps(randomizedSvdSteps(operator.rows, operator.cols, rank, options), (request) => operator[request.op](request.v));
}

/** A linear operator whose products arrive asynchronously (e.g. computed on a GPU and read back). */
export interface AsyncLinearOperator {
  readonly rows: number;
  readonly cols: number;
  multiply(v: Matrix): Promise<Matrix>;
  multiplyTransposed(v: Matrix): Promise<Matrix>;
}

/**
 * `randomizedSvd` for an operator with asynchronous products: the same sketch from the same seed,
 * the same steps on the host in float64, so with the same products it returns the same result.
 */
export async function randomizedSvdAsync(operator: AsyncLinearOperator, rank: number, options: RandomizedSvdOptions = {}): Promise<SvdResult> {
  return runStepsAsync(randomizedSvdSteps(operator.rows, operator.cols, rank, options), (request) => operator[request.op](request.v));
}

/** A product the randomized SVD needs next: A·v ('multiply') or Aᵀ·v ('multiplyTransposed'). */
interface ProductRequest {
  op: 'multiply' | 'multiplyTransposed';
  v: Matrix;
}

/**
 * The algorithm as an iteration over the products it needs (one body for the synchronous and the
 * asynchronous drivers): validates, yields each product request, checks each product's shape.
 */
function* randomizedSvdSteps(m: number, n: number, rank: number, options: RandomizedSvdOptions): ProductSteps<ProductRequest, Matrix, SvdResult> {
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
  const multiply = function* (v: Matrix): Generator<ProductRequest, Matrix, Matrix> {
    return checkedProduct(yield { op: 'multiply', v }, m, v.cols, 'multiply');
  };
  const multiplyTransposed = function* (v: Matrix): Generator<ProductRequest, Matrix, Matrix> {
    return checkedProduct(yield { op: 'multiplyTransposed', v }, n, v.cols, 'multiplyTransposed');
  };

  const omega = new Float64Array(n * sketchSize);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  let basis = qr(yield* multiply({ rows: n, cols: sketchSize, data: omega })).q;
  for (let iteration = 0; iteration < powerIterations; iteration++) {
    const rowSpace = qr(yield* multiplyTransposed(basis)).q;
    basis = qr(yield* multiply(rowSpace)).q;
  }

  // B = Qᵀ A, formed as (Aᵀ Q)ᵀ so only the operator's two products are needed.
  const small = transposeMatrix(yield* multiplyTransposed(basis));
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
