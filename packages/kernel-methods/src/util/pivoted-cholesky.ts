import { cholesky, type Matrix } from '@kvkit/tensor-core';

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
 * z = (FᵀF + αI)⁻¹ r by the Woodbury identity, (r − Fᵀ(αI + FFᵀ)⁻¹F r)/α = (r − WᵀW r)/α with
 * W = L⁻¹F and LLᵀ = αI + FFᵀ: the preconditioner of K + αI from a low-rank K ≈ FᵀF (Gardner et
 * al. 2018 use the pivoted-Cholesky one for GP solves). Building W costs O(n·rank²); each
 * application two passes over W, O(n·rank·columns).
 */
export function lowRankPlusShiftInverse(rows: Float64Array[], alpha: number): (r: Matrix) => Matrix {
  const rank = rows.length;
  const n = rank > 0 ? rows[0].length : 0;
  const inner = new Float64Array(rank * rank);
  for (let a = 0; a < rank; a++) {
    for (let b = a; b < rank; b++) {
      const s = dot(rows[a], rows[b]);
      inner[a * rank + b] = s;
      inner[b * rank + a] = s;
    }
    inner[a * rank + a] += alpha;
  }
  const l = cholesky({ rows: rank, cols: rank, data: inner }).data;
  // W = L⁻¹F by forward substitution over rows.
  const w: Float64Array[] = [];
  for (let a = 0; a < rank; a++) {
    const row = Float64Array.from(rows[a]);
    for (let b = 0; b < a; b++) {
      const c = l[a * rank + b];
      const wb = w[b];
      for (let i = 0; i < n; i++) row[i] -= c * wb[i];
    }
    const scale = 1 / l[a * rank + a];
    for (let i = 0; i < n; i++) row[i] *= scale;
    w.push(row);
  }
  return (r) => {
    const k = r.cols;
    const rd = r.data;
    const out = Float64Array.from(rd);
    const coefficients = new Float64Array(k);
    for (let a = 0; a < rank; a++) {
      const wa = w[a];
      if (k === 1) {
        // The common single-target case without the column loop.
        const c = dot(wa, rd);
        for (let i = 0; i < n; i++) out[i] -= wa[i] * c;
        continue;
      }
      coefficients.fill(0);
      for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) coefficients[c] += wa[i] * rd[i * k + c];
      for (let i = 0; i < n; i++) for (let c = 0; c < k; c++) out[i * k + c] -= wa[i] * coefficients[c];
    }
    const scale = 1 / alpha;
    for (let i = 0; i < out.length; i++) out[i] *= scale;
    return { rows: r.rows, cols: k, data: out };
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
