import { InvalidConfigError, NotPositiveDefiniteError, ShapeMismatchError } from '../errors.js';
import type { Matrix } from './matrix.js';
import { addressOf, type DenseSimdKernels, type SimdArena } from '../simd/simd-arena.js';
import { runRowBlocks } from '../simd/row-blocks.js';
import { scratchAreas, threadedAreas } from '../simd/scratch-arena.js';
import { balancedRanges } from '../simd/work-split.js';
import { dotProduct, requireFiniteLowerTriangle, requireSquareMatrix } from './matrix-ops.js';
import { solveTriangular } from './triangular.js';

export interface CholeskyOptions {
  /** Added to every diagonal entry before factoring (default 0): regularizes a semidefinite matrix. */
  jitter?: number;
}

/**
 * Lower-triangular L with A + jitter·I = L Lᵀ. Only the lower triangle of A is read. A pivot that is
 * not positive, or that is below the rounding level ε·max(diagonal) — where it would be noise rather
 * than information — means A is not numerically positive definite: NotPositiveDefiniteError names
 * the pivot. From order 64 on, where WebAssembly SIMD is available, it runs blocked (see
 * `blockedCholesky`); below that, or without SIMD, row by row.
 */
export function cholesky(a: Matrix, options: CholeskyOptions = {}): Matrix {
  requireSquareMatrix(a, 'cholesky');
  requireFiniteLowerTriangle(a, 'cholesky');
  const jitter = requireJitter(options.jitter, 'cholesky');
  const n = a.rows;
  const ad = a.data;
  const pivot = pivotRule(a, jitter, Number.EPSILON);
  const l = (n >= BLOCKED_MIN_ORDER ? blockedCholesky(ad, n, pivot) : null) ?? rowCholesky(ad, n, pivot);
  return { rows: n, cols: n, data: l };
}

/** A diagonal shift as the factorizations take it: finite and ≥ 0 (default 0), else INVALID_CONFIG naming `where`. */
export function requireJitter(jitter: number | undefined, where: string): number {
  const value = jitter ?? 0;
  if (!Number.isFinite(value) || value < 0) throw new InvalidConfigError(`${where}: jitter must be a finite number >= 0, got ${value}`, { jitter: value });
  return value;
}

/** The jitter added to each pivot and the floor a pivot must exceed. */
export interface PivotRule {
  jitter: number;
  floor: number;
}

/** The pivot rule of A + jitter·I at a working precision's rounding level `epsilon`: pivots must exceed epsilon·max |diagonal|. */
export function pivotRule(a: Matrix, jitter: number, epsilon: number): PivotRule {
  const n = a.rows;
  let maxDiagonal = 0;
  for (let i = 0; i < n; i++) maxDiagonal = Math.max(maxDiagonal, Math.abs(a.data[i * n + i] + jitter));
  return { jitter, floor: epsilon * maxDiagonal };
}

// Below this order the panel bookkeeping costs more than the SIMD update saves.
const BLOCKED_MIN_ORDER = 64;
/** Columns per panel: the trailing update's inner length, against the panel solve's n²·width/4 scalar work. */
const PANEL_WIDTH = 32;
/** Multiply-adds of a trailing update from which it is split among the worker threads (below, the hand-off costs more than it saves). */
const THREADED_UPDATE_MIN = 2 ** 20;

/**
 * Where the blocked factorization keeps L: 'float64', or 'float32' for the mixed-precision solve
 * (positive-definite-solve.ts): L's entries rounded to float32 as they are written and the trailing
 * update in float32 SIMD, twice the multiply-adds per instruction; the diagonal blocks and the
 * panels' triangular solves still compute in float64 from those entries.
 */
export type FactorStorage = 'float64' | 'float32';

/**
 * Right-looking blocked Cholesky (Golub & Van Loan §4.2.9) with L in WebAssembly memory: for each
 * panel of PANEL_WIDTH columns, factor its diagonal block (scalar), solve the rows below against it
 * (SIMD, `lowerSolveColumns`), then add −L_P L_Pᵀ to the trailing lower triangle in place with the
 * SIMD row-block kernel — the O(n³/6) part — on the worker threads where the work is large enough.
 * Null where SIMD is unavailable. L comes back as float64 whatever the storage.
 */
export function blockedCholesky(ad: Float64Array, n: number, pivot: PivotRule, storage: FactorStorage = 'float64'): Float64Array | null {
  return withFactorInArena(ad, n, pivot, storage, [], (l) => {
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++) out.set(l.subarray(i * n, i * n + i + 1), i * n);
    return out;
  });
}

/** A float32 Cholesky factor where `withFloat32Cholesky` left it, while its callback runs. */
export interface ResidentFactor {
  /** Byte address of L: row i's entries (float32) from address + 4·i·n. */
  address: number;
  /** The dense kernels of the memory L is in. */
  kernels: DenseSimdKernels;
  /** The float64 areas asked for, in that memory. */
  areas: Float64Array[];
}

/**
 * `blockedCholesky` in float32 storage with L left where the factorization wrote it, and float64
 * areas of the given lengths beside it: `use` gets them, its result is returned, and the memory is
 * disposed of after (`use` returns nothing that views it). Null where SIMD is unavailable. For the mixed-precision refinement, which solves
 * a few times with the factor: copying L out as float64 and into a solver's memory (two n² arrays
 * written, their pages first touched) took about 30% of the whole solve at order 1600.
 */
export function withFloat32Cholesky<T>(ad: Float64Array, n: number, pivot: PivotRule, areaLengths: number[], use: (factor: ResidentFactor) => T): T | null {
  return withFactorInArena(ad, n, pivot, 'float32', areaLengths, (l, kernels, areas) => use({ address: l.byteOffset, kernels, areas }));
}

/**
 * The blocked factorization in an arena with `extra` float64 areas beside its own, then `use` of L
 * (row i at i·n: float64, or a float32 view), the kernels and the extra areas; the arena is disposed
 * of after. Null where SIMD is unavailable.
 */
function withFactorInArena<T>(
  ad: Float64Array,
  n: number,
  pivot: PivotRule,
  storage: FactorStorage,
  extra: number[],
  use: (l: Float64Array | Float32Array, kernels: DenseSimdKernels, extraAreas: Float64Array[]) => T,
): T | null {
  const f32 = storage === 'float32';
  // L with three spare rows (a last block of four rows may run past row n), and the largest panel's
  // rows below it, transposed; float32 storage adds the diagonal block in float64 and the negated
  // panel in float32 (float64 counts: two floats each).
  const own = f32 ? [Math.ceil(((n + 3) * n) / 2), PANEL_WIDTH * n, PANEL_WIDTH * PANEL_WIDTH, Math.ceil((PANEL_WIDTH * n) / 2)] : [(n + 3) * n, PANEL_WIDTH * n];
  const lengths = [...own, ...extra];
  // Large orders (L over the kept arena: from n ≈ 1020) get a one-off shared arena, so their updates
  // still split among the worker threads.
  const threaded = (n * n * n) / 6 >= THREADED_UPDATE_MIN ? threadedAreas(lengths) : null;
  const scratch = threaded ?? scratchAreas(lengths);
  if (!scratch) return null;
  try {
    const l = factorInArena(ad, n, pivot, scratch.kernels, scratch.areas, threaded?.arena ?? null, storage);
    return use(l, scratch.kernels, scratch.areas.slice(own.length));
  } finally {
    threaded?.owned?.dispose();
  }
}

/** A float32 view of the bytes of an arena area (its byte address is the area's). */
const float32View = (area: Float64Array, length: number): Float32Array => new Float32Array(area.buffer, area.byteOffset, length);

/**
 * blockedCholesky's panels in the arena's areas (L, the transposed panel; for float32 storage also the
 * diagonal block and the negated panel): L in its area (row i at i·n), as float64 or a float32 view.
 */
function factorInArena(ad: Float64Array, n: number, pivot: PivotRule, kernels: DenseSimdKernels, areas: Float64Array[], threads: SimdArena | null, storage: FactorStorage): Float64Array | Float32Array {
  const f32 = storage === 'float32';
  const [lArea, transposedArea, diagonal, negatedArea] = areas;
  const l: Float64Array | Float32Array = f32 ? float32View(lArea, (n + 3) * n) : lArea;
  const bytes = f32 ? 4 : 8;
  const at = (index: number) => l.byteOffset + index * bytes;
  // Only entries on or left of the diagonal are read or written back; the rest is never read.
  for (let i = 0; i < n; i++) l.set(ad.subarray(i * n, i * n + i + 1), i * n);
  for (let c0 = 0; c0 < n; c0 += PANEL_WIDTH) {
    const c1 = Math.min(n, c0 + PANEL_WIDTH);
    const p = c1 - c0;
    // The diagonal block: in place in float64 storage; through a float64 copy (row stride p) in float32.
    if (f32) {
      for (let i = 0; i < p; i++) for (let k = 0; k <= i; k++) diagonal[i * p + k] = l[(c0 + i) * n + c0 + k];
      for (let i = 0; i < p; i++) finishRow(diagonal, diagonal, p, i, 0, i, 0, pivot);
      for (let i = 0; i < p; i++) for (let k = 0; k <= i; k++) l[(c0 + i) * n + c0 + k] = diagonal[i * p + k];
    } else {
      for (let i = c0; i < c1; i++) finishRow(lArea, lArea, n, i, c0, i, c0, pivot);
    }
    const rest = n - c1;
    if (rest === 0) break;
    // The panel's rows below its diagonal block (A less the earlier panels' terms), transposed, are
    // solved against the block in SIMD, column ranges on the threads: L21ᵀ = L11⁻¹A21ᵀ, each entry
    // summed in the order of the row-by-row recurrence.
    const transposed = transposedArea.subarray(0, p * rest);
    kernels.gatherPanel(at(c1 * n + c0), bytes * n, rest, p, addressOf(transposed), f32 ? 1 : 0);
    const block = f32 ? { address: addressOf(diagonal), stride: p } : { address: addressOf(lArea, c0 * n + c0), stride: n };
    const solve = (from: number, to: number): Parameters<DenseSimdKernels['lowerSolveColumns']> => [addressOf(transposed), rest, p, block.address, block.stride, from, to];
    const split = (rest * p * p) / 2 >= THREADED_UPDATE_MIN ? threads : null;
    if (split) split.run('lowerSolveColumns', balancedRanges(rest, split.threadCount).map(([from, to]) => (to > from ? solve(from, to) : null)));
    else kernels.lowerSolveColumns(...solve(0, rest));
    // L21 back into L's rows, and −L21ᵀ as the update's right factor (in place in float64 storage).
    const negated = f32 ? addressOf(negatedArea) : addressOf(transposed);
    kernels.scatterPanel(addressOf(transposed), rest, p, at(c1 * n + c0), bytes * n, negated, f32 ? 1 : 0);
    // C += L21·(−L21ᵀ) on the trailing lower triangle, L21's rows read in place (a last block of four
    // rows past n reads and writes the spare rows).
    const job = { xa: at(c1 * n + c0), xs: bytes * n, xk: bytes, d: p, yt: negated, ld: rest, c: at(c1 * n + c1), cs: bytes * n, firstRow: 0, symmetric: false, lower: true, add: true, float32: f32 };
    runRowBlocks(kernels, (rest * rest * p) / 2 >= THREADED_UPDATE_MIN ? threads : null, job, 0, Math.ceil(rest / 4));
  }
  return l;
}

/**
 * Row by row (the Cholesky–Banachiewicz order, so each entry is a dot product of two contiguous rows
 * of L; Golub & Van Loan §4.2), four rows at a time.
 */
function rowCholesky(ad: Float64Array, n: number, pivot: PivotRule): Float64Array {
  const l = new Float64Array(n * n);
  let i = 0;
  for (; i + 3 < n; i += 4) {
    solveFourRows(ad, l, n, i, 0, i, 0);
    // The 4×4 diagonal block, row by row.
    for (let row = i; row < i + 4; row++) finishRow(ad, l, n, row, i, row, 0, pivot);
  }
  for (; i < n; i++) finishRow(ad, l, n, i, 0, i, 0, pivot);
  return l;
}

/**
 * Entries from ≤ j < to of the four rows i..i+3 of L (all left of their diagonal) from `source`'s
 * rows, given their entries from `start` to `from` and rows j of L: each is the source entry minus
 * the dot product of the two rows over start..j, divided by L[j][j]. Row j of L is read once for all
 * four rows (register blocking), which quarters the memory traffic of the O(n³/6) inner loop.
 */
function solveFourRows(source: Float64Array, l: Float64Array, n: number, i: number, from: number, to: number, start: number): void {
  const r0 = i * n;
  const r1 = r0 + n;
  const r2 = r1 + n;
  const r3 = r2 + n;
  for (let j = from; j < to; j++) {
    const rowJ = j * n;
    let s0 = source[r0 + j];
    let s1 = source[r1 + j];
    let s2 = source[r2 + j];
    let s3 = source[r3 + j];
    for (let k = start; k < j; k++) {
      const ljk = l[rowJ + k];
      s0 -= l[r0 + k] * ljk;
      s1 -= l[r1 + k] * ljk;
      s2 -= l[r2 + k] * ljk;
      s3 -= l[r3 + k] * ljk;
    }
    const pivotJ = l[rowJ + j];
    l[r0 + j] = s0 / pivotJ;
    l[r1 + j] = s1 / pivotJ;
    l[r2 + j] = s2 / pivotJ;
    l[r3 + j] = s3 / pivotJ;
  }
}

/**
 * Entries from..to of row i of L (to ≤ i; the diagonal when to = i) from `source`'s row i, given L's
 * entries of row i from `start` to `from` and those of the rows above: each is the source entry
 * minus the dot product of the two rows of L over start..j, divided by the pivot (or its root).
 */
function finishRow(source: Float64Array, l: Float64Array, n: number, i: number, from: number, to: number, start: number, pivot: PivotRule): void {
  const rowI = i * n;
  for (let j = from; j <= to; j++) {
    const rowJ = j * n;
    const sum = source[rowI + j] - dotProduct(l, rowI + start, l, rowJ + start, j - start);
    if (j < i) {
      l[rowI + j] = sum / l[rowJ + j];
      continue;
    }
    const value = sum + pivot.jitter;
    if (!(value > pivot.floor)) {
      throw new NotPositiveDefiniteError(
        `cholesky: the matrix is not positive definite: pivot ${i} is ${value}` +
          (value > 0 ? ` (below the rounding level ${pivot.floor})` : '') +
          `; a symmetric positive definite matrix is required (a positive jitter regularizes a semidefinite one)`,
        { pivot: i, value, jitter: pivot.jitter },
      );
    }
    l[rowI + i] = Math.sqrt(value);
  }
}

/** X with A X = B given A's Cholesky factor L (A = L Lᵀ): forward then back substitution. */
export function choleskySolve(l: Matrix, b: Matrix): Matrix {
  requireSquareMatrix(l, 'choleskySolve');
  if (b.rows !== l.rows) {
    throw new ShapeMismatchError(`choleskySolve: L is ${l.rows}×${l.cols} but B has ${b.rows} rows; they must agree`, {
      l: [l.rows, l.cols],
      b: [b.rows, b.cols],
    });
  }
  const y = solveTriangular(l, b, { lower: true });
  return solveTriangular(l, y, { lower: true, transpose: true });
}
