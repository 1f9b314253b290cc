import { InvalidConfigError, type Matrix, ShapeMismatchError } from '@kvkit/tensor-core';

/**
 * Data points accepted by every kernel method: a float64 `Matrix` (rows = points) or an array of
 * rows. Rows are points, columns are features (the scikit-learn convention).
 */
export type PointsInput = Matrix | readonly (readonly number[])[];

export interface PointsRequirements {
  /** Fewest rows accepted (default 1). */
  minRows?: number;
  /** Required number of columns (features), when it is fixed by a fitted model. */
  cols?: number;
}

/**
 * The points as a validated float64 matrix: rectangular, finite, with enough rows. A Matrix that is
 * already valid is returned as is (not copied); arrays of rows are copied once.
 */
export function asPoints(x: PointsInput, where: string, requirements: PointsRequirements = {}): Matrix {
  const m = Array.isArray(x) ? rowsToMatrix(x as readonly (readonly number[])[], where) : (x as Matrix);
  if (!m || !(m.data instanceof Float64Array) || m.data.length !== m.rows * m.cols) {
    throw new ShapeMismatchError(`${where}: points must be a Matrix {rows, cols, data: Float64Array} or an array of rows`);
  }
  const minRows = requirements.minRows ?? 1;
  if (m.rows < minRows) {
    throw new InvalidConfigError(`${where}: needs at least ${minRows} points, got ${m.rows}`, { rows: m.rows, minRows });
  }
  if (m.cols < 1) throw new ShapeMismatchError(`${where}: points need at least one feature (column), got ${m.cols}`);
  if (requirements.cols !== undefined && m.cols !== requirements.cols) {
    throw new ShapeMismatchError(`${where}: points have ${m.cols} features but ${requirements.cols} are expected (the fitted dimension)`, {
      cols: m.cols,
      expected: requirements.cols,
    });
  }
  requireFinite(m.data, m.cols, where, 'point');
  return m;
}

function rowsToMatrix(rows: readonly (readonly number[])[], where: string): Matrix {
  const n = rows.length;
  const d = n > 0 ? rows[0].length : 0;
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    if (rows[i].length !== d) {
      throw new ShapeMismatchError(`${where}: row ${i} has ${rows[i].length} values but row 0 has ${d}; rows must have equal length`, {
        row: i,
      });
    }
    for (let j = 0; j < d; j++) data[i * d + j] = rows[i][j];
  }
  return { rows: n, cols: d, data };
}

/** Throws InvalidConfigError naming the first NaN or ±Infinity (by row and column). */
export function requireFinite(values: ArrayLike<number>, cols: number, where: string, what = 'value'): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      const row = Math.floor(i / Math.max(cols, 1));
      throw new InvalidConfigError(`${where}: ${what} ${row}, feature ${i - row * cols} is ${values[i]}; inputs must be finite`, {
        row,
        col: i - row * cols,
      });
    }
  }
}

/** A vector of n finite targets (or an n×t matrix of them) as a float64 matrix with n rows. */
export function asTargets(y: ArrayLike<number> | Matrix, n: number, where: string): Matrix {
  const m: Matrix =
    typeof (y as Matrix).rows === 'number' && (y as Matrix).data instanceof Float64Array
      ? (y as Matrix)
      : { rows: (y as ArrayLike<number>).length, cols: 1, data: Float64Array.from(y as ArrayLike<number>) };
  if (m.rows !== n) {
    throw new ShapeMismatchError(`${where}: ${m.rows} targets for ${n} points; there must be one target (row) per point`, { targets: m.rows, points: n });
  }
  requireFinite(m.data, m.cols, where, 'target');
  return m;
}

/** Rows `indices` of `x` as a new matrix. */
export function selectRows(x: Matrix, indices: ArrayLike<number>): Matrix {
  const d = x.cols;
  const out = new Float64Array(indices.length * d);
  for (let i = 0; i < indices.length; i++) out.set(x.data.subarray(indices[i] * d, indices[i] * d + d), i * d);
  return { rows: indices.length, cols: d, data: out };
}

/** Checks an integer option within [min, max]. */
export function requireInteger(value: number, min: number, max: number, where: string, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`${where}: ${name} must be an integer in [${min}, ${max}], got ${value}`, { [name]: value, min, max });
  }
  return value;
}

/** Checks a finite number > 0 (or >= 0 when `allowZero`). */
export function requirePositive(value: number, where: string, name: string, allowZero = false): number {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidConfigError(`${where}: ${name} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${value}`, { [name]: value });
  }
  return value;
}
