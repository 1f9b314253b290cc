import { type Matrix, NotConvergedError, type ProductSteps, runSteps, runStepsAsync } from '@kvkit/tensor-core';

/** Column means of a matrix. */
export function columnMeans(m: Matrix): Float64Array {
  const out = new Float64Array(m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[j] += m.data[i * m.cols + j];
  for (let j = 0; j < m.cols; j++) out[j] /= m.rows;
  return out;
}

/** A copy of m with its column means subtracted. */
export function centerColumns(m: Matrix, means: Float64Array = columnMeans(m)): Matrix {
  const out = Float64Array.from(m.data);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[i * m.cols + j] -= means[j];
  return { rows: m.rows, cols: m.cols, data: out };
}

/** The leading `count` columns of m. */
export function leadingColumns(m: Matrix, count: number): Matrix {
  if (count === m.cols) return m;
  const out = new Float64Array(m.rows * count);
  for (let i = 0; i < m.rows; i++) out.set(m.data.subarray(i * m.cols, i * m.cols + count), i * count);
  return { rows: m.rows, cols: count, data: out };
}

/** m with column j scaled by s[j]. */
export function scaleColumns(m: Matrix, s: ArrayLike<number>): Matrix {
  const out = Float64Array.from(m.data);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[i * m.cols + j] *= s[j];
  return { rows: m.rows, cols: m.cols, data: out };
}

/** A + c·I for square A (a copy). */
export function addToDiagonal(a: Matrix, c: number): Matrix {
  const out = Float64Array.from(a.data);
  for (let i = 0; i < a.rows; i++) out[i * a.cols + i] += c;
  return { rows: a.rows, cols: a.cols, data: out };
}

/** Frobenius norm. */
export function frobenius(m: Matrix | Float64Array): number {
  const d = m instanceof Float64Array ? m : m.data;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i] * d[i];
  return Math.sqrt(s);
}

export interface ConjugateGradientOptions {
  /** Stop when ‖r‖ <= tolerance·‖b‖ for every column (default 1e-8). */
  tolerance?: number;
  /** Most iterations (default 1000). */
  maxIterations?: number;
  /** z = M⁻¹ r for a preconditioner M (default: none). */
  precondition?: (r: Matrix) => Matrix;
  where?: string;
}

export interface ConjugateGradientResult {
  x: Matrix;
  iterations: number;
  /** ‖r‖/‖b‖ per column at the end. */
  relativeResiduals: Float64Array;
}

/**
 * (Preconditioned) conjugate gradients for A X = B with symmetric positive definite A given by its
 * product, all columns of B at once (one product per iteration for all of them, each column with
 * its own step sizes). Throws NotConvergedError after maxIterations.
 */
export function conjugateGradient(apply: (v: Matrix) => Matrix, b: Matrix, options: ConjugateGradientOptions = {}): ConjugateGradientResult {
  return runSteps(conjugateGradientSteps(b, options), apply);
}

/** `conjugateGradient` with an asynchronous product (a KernelMatrix on a device engine). */
export function conjugateGradientAsync(apply: (v: Matrix) => Promise<Matrix>, b: Matrix, options: ConjugateGradientOptions = {}): Promise<ConjugateGradientResult> {
  return runStepsAsync(conjugateGradientSteps(b, options), apply);
}

/** The CG iteration: yields each search direction P (n × k), expects A·P back. */
export function* conjugateGradientSteps(b: Matrix, options: ConjugateGradientOptions): ProductSteps<Matrix, Matrix, ConjugateGradientResult> {
  const tolerance = options.tolerance ?? 1e-8;
  const maxIterations = options.maxIterations ?? 1000;
  const where = options.where ?? 'conjugateGradient';
  const { rows: n, cols: k } = b;
  const x = new Float64Array(n * k);
  const r = Float64Array.from(b.data);
  const precondition = options.precondition ?? ((v: Matrix) => v);
  let z = precondition({ rows: n, cols: k, data: r }).data;
  const p = Float64Array.from(z);
  const bNorm = columnNorms(b.data, n, k);
  const rz = columnDots(r, z, n, k);
  const residual = new Float64Array(k);
  const done = (): boolean => {
    const norms = columnNorms(r, n, k);
    let all = true;
    for (let j = 0; j < k; j++) {
      residual[j] = bNorm[j] > 0 ? norms[j] / bNorm[j] : norms[j];
      if (!(residual[j] <= tolerance)) all = false;
    }
    return all;
  };
  let iterations = 0;
  while (!done()) {
    if (iterations >= maxIterations || residual.some((v) => Number.isNaN(v))) {
      throw new NotConvergedError(
        `${where}: conjugate gradients did not reach relative residual ${tolerance} in ${maxIterations} iterations (worst ${Math.max(...residual)}); raise maxIterations, loosen tolerance or increase the regularization`,
        { iterations, residual: Math.max(...residual) },
      );
    }
    const ap = (yield { rows: n, cols: k, data: p }).data;
    const pap = columnDots(p, ap, n, k);
    for (let j = 0; j < k; j++) {
      if (residual[j] <= tolerance) continue; // converged columns stay put
      const a = rz[j] / pap[j];
      for (let i = 0; i < n; i++) {
        x[i * k + j] += a * p[i * k + j];
        r[i * k + j] -= a * ap[i * k + j];
      }
    }
    z = precondition({ rows: n, cols: k, data: r }).data;
    const rzNew = columnDots(r, z, n, k);
    for (let j = 0; j < k; j++) {
      const beta = rz[j] > 0 ? rzNew[j] / rz[j] : 0;
      rz[j] = rzNew[j];
      for (let i = 0; i < n; i++) p[i * k + j] = z[i * k + j] + beta * p[i * k + j];
    }
    iterations++;
  }
  return { x: { rows: n, cols: k, data: x }, iterations, relativeResiduals: residual };
}

function columnNorms(v: Float64Array, n: number, k: number): Float64Array {
  return columnDots(v, v, n, k).map(Math.sqrt);
}

function columnDots(a: Float64Array, b: Float64Array, n: number, k: number): Float64Array {
  const out = new Float64Array(k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) out[j] += a[i * k + j] * b[i * k + j];
  return out;
}
