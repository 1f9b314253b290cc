import { type Matrix, matrix } from './matrix.js';
import { axpy, dotProduct, matmulMatrix } from './matrix-ops.js';

/** Reflections applied together: 32 of them make the two products of a block BLAS-3 shaped. */
const BLOCK = 32;
/** Below this many multiply-adds per block (rows × columns × reflections), one at a time is cheaper. */
const BLOCKED_MIN_WORK = 2 ** 18;

/**
 * Householder reflections H_j = I − τ_j v_j v_jᵀ applied from the right, in order j = 0..count-1,
 * to the rows of the rowCount×cols row-major `target`: row ← row·H_j. Reflection j acts on
 * columns starts[j]..cols-1 and its vector lies contiguously in `vectors` from offsets[j]. With
 * `skipLeadingRows` (the default), rows above starts[j] must be zero in those columns (as when
 * accumulating Q = H_{k}⋯H_0 backwards from the identity), so they are skipped; without it every
 * row takes every reflection (a product Z·H_0⋯H_k with a dense Z).
 *
 * Reflections go in blocks of 32. A large block is applied in the compact WY form (Schreiber & Van
 * Loan 1989; LAPACK's larft/larfb): H_first⋯H_last = I − V T Vᵀ with T upper triangular, so the
 * rows take two matrix products (R ← R − ((R V) T) Vᵀ) through matmulMatrix's SIMD kernel instead
 * of 32 passes of dot products and axpys. A small one (near the end of an accumulation, or a small
 * matrix) runs one reflection at a time, one row after another while that row stays in cache.
 * @internal
 */
export function applyReflectionsToRows(
  target: Float64Array,
  rowCount: number,
  cols: number,
  count: number,
  vectors: Float64Array,
  offsets: ArrayLike<number>,
  starts: ArrayLike<number>,
  taus: ArrayLike<number>,
  skipLeadingRows = true,
): void {
  // The blocks' copies of their rows share one buffer, sized for the largest block (from the lowest
  // start): fresh pages cost a first touch each, ≈ 3 ms per MiB on some VMs.
  let buffer: Float64Array | undefined;
  let lowestOfAll = cols;
  for (let j = 0; j < count; j++) lowestOfAll = Math.min(lowestOfAll, starts[j]);
  const reflections = { vectors, offsets, starts, taus, skipLeadingRows };
  for (let first = 0; first < count; first += BLOCK) {
    const last = Math.min(first + BLOCK, count);
    let lowest = cols;
    for (let j = first; j < last; j++) lowest = Math.min(lowest, starts[j]);
    // Rows above the lowest start are zero in every column the block touches (when skipped).
    const firstRow = skipLeadingRows ? lowest : 0;
    const work = Math.max(rowCount - firstRow, 0) * (cols - lowest) * (last - first);
    if (work >= BLOCKED_MIN_WORK) {
      buffer ??= new Float64Array((rowCount - (skipLeadingRows ? lowestOfAll : 0)) * (cols - lowestOfAll));
      applyBlock(target, rowCount, cols, first, last, lowest, reflections, buffer);
    } else {
      applyOneByOne(target, rowCount, cols, first, last, lowest, reflections);
    }
  }
}

/** Householder vectors and scalars as `applyReflectionsToRows` takes them. */
interface Reflections {
  vectors: Float64Array;
  offsets: ArrayLike<number>;
  starts: ArrayLike<number>;
  taus: ArrayLike<number>;
  /** Whether rows above a reflection's start are zero there (and skipped). */
  skipLeadingRows: boolean;
}

/** Reflections first..last-1 one at a time, a row at a time (rows from `lowest` on where leading rows are skipped). */
function applyOneByOne(target: Float64Array, rowCount: number, cols: number, first: number, last: number, lowest: number, reflections: Reflections): void {
  const { vectors, offsets, starts, taus, skipLeadingRows } = reflections;
  for (let row = skipLeadingRows ? lowest : 0; row < rowCount; row++) {
    const base = row * cols;
    for (let j = first; j < last; j++) {
      const start = starts[j];
      const tau = taus[j];
      if ((skipLeadingRows && row < start) || tau === 0) continue;
      const length = cols - start;
      const dot = dotProduct(target, base + start, vectors, offsets[j], length);
      if (dot !== 0) axpy(-tau * dot, vectors, offsets[j], target, base + start, length);
    }
  }
}

/**
 * Reflections first..last-1 in compact WY form on the block R = target[firstRow.., lowest..] (firstRow
 * lowest where leading rows are skipped, else 0): V holds
 * their vectors as columns over columns lowest..cols-1 (zero above each start), T is built column
 * by column as in LAPACK's larft (forward), and R ← R − (R V T) Vᵀ.
 */
function applyBlock(
  target: Float64Array,
  rowCount: number,
  cols: number,
  first: number,
  last: number,
  lowest: number,
  reflections: Reflections,
  buffer: Float64Array,
): void {
  const { vectors, offsets, starts, taus, skipLeadingRows } = reflections;
  const b = last - first;
  const width = cols - lowest;
  const firstRow = skipLeadingRows ? lowest : 0;
  const height = rowCount - firstRow;
  const v = matrix(width, b);
  for (let j = 0; j < b; j++) {
    const skip = starts[first + j] - lowest;
    const offset = offsets[first + j];
    for (let c = skip; c < width; c++) v.data[c * b + j] = vectors[offset + c - skip];
  }
  const t = upperTriangularFactor(v, taus, first, b);
  const r: Matrix = { rows: height, cols: width, data: buffer.subarray(0, height * width) };
  for (let i = 0; i < height; i++) r.data.set(target.subarray((firstRow + i) * cols + lowest, (firstRow + i + 1) * cols), i * width);
  // W = −(R V) T (T upper triangular), then R += W Vᵀ.
  const rv = matmulMatrix(r, v).data;
  const td = t.data;
  const w = new Float64Array(height * b);
  for (let i = 0; i < height; i++) {
    const row = i * b;
    for (let j = 0; j < b; j++) {
      let sum = 0;
      for (let l = 0; l <= j; l++) sum += rv[row + l] * td[l * b + j];
      w[row + j] = -sum;
    }
  }
  matmulMatrix({ rows: height, cols: b, data: w }, v, { transposeB: true, accumulate: r });
  for (let i = 0; i < height; i++) target.set(r.data.subarray(i * width, (i + 1) * width), (firstRow + i) * cols + lowest);
}

/**
 * T (b × b, upper triangular) with H_0⋯H_{b-1} = I − V T Vᵀ: T[j][j] = τ_j and
 * T[0:j, j] = −τ_j · T[0:j, 0:j] · (V[:, 0:j]ᵀ v_j) (LAPACK's larft, forward direction).
 */
function upperTriangularFactor(v: Matrix, taus: ArrayLike<number>, first: number, b: number): Matrix {
  const gram = matmulMatrix(v, v, { transposeA: true });
  const t = matrix(b, b);
  for (let j = 0; j < b; j++) {
    const tau = taus[first + j];
    t.data[j * b + j] = tau;
    for (let i = 0; i < j; i++) {
      let sum = 0;
      for (let l = i; l < j; l++) sum += t.data[i * b + l] * gram.data[l * b + j];
      t.data[i * b + j] = -tau * sum;
    }
  }
  return t;
}
