import { cholesky, choleskySolve, type Matrix } from '@kvkit/tensor-core';

export interface PivotedCholeskyResult {
  /** The factor F as `rank` rows of length n: K ≈ FᵀF. */
  rows: Float64Array[];
  /** The pivots, in the order they were chosen. */
  pivots: Int32Array;
  /** Trace of the remainder K − FᵀF. */
  residualTrace: number;
}

/**
 * Greedy partial pivoted Cholesky of a PSD matrix given by its diagonal and columns: each step takes
 * the column with the largest remaining diagonal (Harbrecht, Peters & Schneider 2012), so K − FᵀF
 * shrinks fastest where K is largest. Stops at `maxRank` or once the remainder's trace is at most
 * `traceTolerance`. Costs `rank` columns of K and O(n·rank²).
 */
export function pivotedCholesky(diagonal: Float64Array, column: (pivot: number, out: Float64Array) => void, maxRank: number, traceTolerance: number): PivotedCholeskyResult {
  const n = diagonal.length;
  const remaining = Float64Array.from(diagonal);
  const rows: Float64Array[] = [];
  const pivots: number[] = [];
  let trace = remaining.reduce((a, b) => a + b, 0);
  const scratch = new Float64Array(n);
  while (rows.length < Math.min(maxRank, n) && trace > traceTolerance) {
    let pivot = 0;
    for (let i = 1; i < n; i++) if (remaining[i] > remaining[pivot]) pivot = i;
    const d = remaining[pivot];
    if (!(d > 0)) break;
    column(pivot, scratch);
    const row = new Float64Array(n);
    for (let i = 0; i < n; i++) row[i] = scratch[i];
    for (const previous of rows) {
      const c = previous[pivot];
      if (c !== 0) for (let i = 0; i < n; i++) row[i] -= c * previous[i];
    }
    const scale = 1 / Math.sqrt(d);
    trace = 0;
    for (let i = 0; i < n; i++) {
      row[i] *= scale;
      remaining[i] = Math.max(remaining[i] - row[i] * row[i], 0);
      trace += remaining[i];
    }
    remaining[pivot] = 0;
    rows.push(row);
    pivots.push(pivot);
  }
  return { rows, pivots: Int32Array.from(pivots), residualTrace: trace };
}

/**
 * z = (FᵀF + αI)⁻¹ r by the Woodbury identity, (r − Fᵀ(αI + FFᵀ)⁻¹F r)/α: the preconditioner of
 * K + αI from a low-rank K ≈ FᵀF (Gardner et al. 2018 use the pivoted-Cholesky one for GP
 * solves). Building it costs O(n·rank²); each application O(n·rank·columns).
 */
export function lowRankPlusShiftInverse(rows: Float64Array[], alpha: number): (r: Matrix) => Matrix {
  const rank = rows.length;
  if (rank === 0) return (r) => ({ rows: r.rows, cols: r.cols, data: r.data.map((v) => v / alpha) });
  const n = rows[0].length;
  const inner = new Float64Array(rank * rank);
  for (let a = 0; a < rank; a++) {
    for (let b = a; b < rank; b++) {
      const fa = rows[a];
      const fb = rows[b];
      let s = 0;
      for (let i = 0; i < n; i++) s += fa[i] * fb[i];
      inner[a * rank + b] = s;
      inner[b * rank + a] = s;
    }
    inner[a * rank + a] += alpha;
  }
  const factor = cholesky({ rows: rank, cols: rank, data: inner });
  return (r) => {
    const k = r.cols;
    const projected = new Float64Array(rank * k);
    for (let a = 0; a < rank; a++) {
      const fa = rows[a];
      for (let i = 0; i < n; i++) {
        const f = fa[i];
        for (let l = 0; l < k; l++) projected[a * k + l] += f * r.data[i * k + l];
      }
    }
    const solved = choleskySolve(factor, { rows: rank, cols: k, data: projected }).data;
    const out = Float64Array.from(r.data);
    for (let a = 0; a < rank; a++) {
      const fa = rows[a];
      for (let i = 0; i < n; i++) {
        const f = fa[i];
        for (let l = 0; l < k; l++) out[i * k + l] -= f * solved[a * k + l];
      }
    }
    for (let i = 0; i < out.length; i++) out[i] /= alpha;
    return { rows: r.rows, cols: k, data: out };
  };
}
