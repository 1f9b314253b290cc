import { ShapeMismatchError } from '../errors.js';
import type { Tensor } from '../tensor.js';

/**
 * A dense row-major float64 matrix on the host: the working type of kvkit's linear algebra
 * (eigendecomposition, SVD, Cholesky), which runs in double precision on the CPU.
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** rows × cols values, row-major. */
  readonly data: Float64Array;
}

/**
 * A matrix known only through products, for randomized algorithms over operators that are never
 * stored (kernel matrices): `multiply(X)` = A·X and `multiplyTransposed(X)` = Aᵀ·X.
 */
export interface LinearOperator {
  readonly rows: number;
  readonly cols: number;
  multiply(x: Matrix): Matrix;
  multiplyTransposed(x: Matrix): Matrix;
}

export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new ShapeMismatchError(`matrix: dimensions must be integers >= 0, got ${rows}×${cols}`);
  }
  if (data && data.length !== rows * cols) {
    throw new ShapeMismatchError(`matrix: ${data.length} values do not fill ${rows}×${cols}`);
  }
  return { rows, cols, data: data ? Float64Array.from(data) : new Float64Array(rows * cols) };
}

/** A 2-D tensor (any float or integer dtype, any backend) read into a float64 matrix. */
export async function matrixFromTensor(t: Tensor): Promise<Matrix> {
  if (t.rank !== 2) throw new ShapeMismatchError(`matrixFromTensor: expected a 2-D tensor, got rank ${t.rank}`);
  return matrix(t.shape[0], t.shape[1], await t.readFloat32());
}
