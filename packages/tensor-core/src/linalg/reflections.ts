import { scratchAreas, threadedAreas } from '../simd/scratch-arena.js';
import { addressOf, type DenseSimdKernels, SimdArena } from '../simd/simd-arena.js';
import { runRowBlocks } from '../simd/row-blocks.js';
import type { Matrix } from './matrix.js';
import { axpy, dotProduct, matmulMatrix } from './matrix-ops.js';

/** Reflections applied together: 32 of them make the two products of a block BLAS-3 shaped. */
const BLOCK = 32;
/** Below this many multiply-adds per block (rows × columns × reflections), one at a time is cheaper. */
const BLOCKED_MIN_WORK = 2 ** 18;
/** Values of the right factor's panel (V's rows or Vᵀ's columns) per pass of the row-block kernel: 256 KiB, a core's L2. */
const PANEL_VALUES = 32768;
/** From this many multiply-adds a block's two large products split among the worker threads. */
const THREADED_MIN_WORK = 2 ** 22;

/**
 * The Householder reflection H = I − τ v vᵀ that maps x = (x₀, rest), ‖rest‖² = sumSquares > 0,
 * to α e₁: α = −sign(x₀)‖x‖, so that v₀ = x₀ − α never cancels; v = (x₀ − α, rest); and
 * τ = 1/(‖x‖(‖x‖ + |x₀|)). The caller stores v₀ = x₀ − α in place of x₀.
 */
export function householder(x0: number, sumSquares: number): { alpha: number; tau: number } {
  const norm = Math.sqrt(x0 * x0 + sumSquares);
  return { alpha: x0 >= 0 ? -norm : norm, tau: 1 / (norm * (norm + Math.abs(x0))) };
}

/**
 * `householder` for the contiguous x = data[start..start+length), with v₀ stored in place of x₀ (so
 * data holds v). When x is already a multiple of e₁ there is nothing to reflect: α = x₀, τ = 0
 * and data is untouched (as LAPACK's larfg).
 */
export function reflectInPlace(data: Float64Array, start: number, length: number): { alpha: number; tau: number } {
  const sumSquares = dotProduct(data, start + 1, data, start + 1, length - 1);
  if (sumSquares === 0) return { alpha: data[start], tau: 0 };
  const reflection = householder(data[start], sumSquares);
  data[start] -= reflection.alpha;
  return reflection;
}

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
  const reflections = { vectors, offsets, starts, taus, skipLeadingRows };
  const blockLowest = (first: number, last: number) => {
    let lowest = cols;
    for (let j = first; j < last; j++) lowest = Math.min(lowest, starts[j]);
    return lowest;
  };
  // Rows above a block's lowest start are zero in every column it touches (when skipped).
  const isBlocked = (first: number, last: number, lowest: number) =>
    Math.max(rowCount - (skipLeadingRows ? lowest : 0), 0) * (cols - lowest) * (last - first) >= BLOCKED_MIN_WORK;
  // With SIMD, the matrix moves into WebAssembly memory once and every blocked block runs there
  // (its products in the row-block kernel on the rows in place, no copies); else, in JavaScript,
  // the blocks' copies of their rows share one buffer, sized for the largest block.
  let anyBlocked = false;
  for (let first = 0; first < count && !anyBlocked; first += BLOCK) {
    const last = Math.min(first + BLOCK, count);
    anyBlocked = isBlocked(first, last, blockLowest(first, last));
  }
  const arena = anyBlocked ? WyArena.create(target, rowCount, cols) : null;
  const rows = arena ? arena.target : target;
  let buffer: Float64Array | undefined;
  for (let first = 0; first < count; first += BLOCK) {
    const last = Math.min(first + BLOCK, count);
    const lowest = blockLowest(first, last);
    if (!isBlocked(first, last, lowest)) applyOneByOne(rows, rowCount, cols, first, last, lowest, reflections);
    else if (arena) arena.applyBlock(first, last, lowest, reflections);
    else {
      buffer ??= new Float64Array((rowCount - (skipLeadingRows ? blockLowest(0, count) : 0)) * (cols - blockLowest(0, count)));
      applyBlock(target, rowCount, cols, first, last, lowest, reflections, buffer);
    }
  }
  arena?.finish(target);
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
  const { taus, skipLeadingRows } = reflections;
  const b = last - first;
  const width = cols - lowest;
  const firstRow = skipLeadingRows ? lowest : 0;
  const height = rowCount - firstRow;
  const v = blockVectors(reflections, first, last, lowest, width, new Float64Array(width * b));
  const t = upperTriangularFactor(matmulMatrix(v, v, { transposeA: true }).data, taus, first, b);
  const r: Matrix = { rows: height, cols: width, data: buffer.subarray(0, height * width) };
  for (let i = 0; i < height; i++) r.data.set(target.subarray((firstRow + i) * cols + lowest, (firstRow + i + 1) * cols), i * width);
  // W = (R V)(−T), then R += W Vᵀ: the same products, in the same order, as the arena's.
  const w = matmulMatrix(matmulMatrix(r, v), { rows: b, cols: b, data: t.map((x) => -x) });
  matmulMatrix(w, v, { transposeB: true, accumulate: r });
  for (let i = 0; i < height; i++) target.set(r.data.subarray(i * width, (i + 1) * width), (firstRow + i) * cols + lowest);
}

/** V (width × b, row-major, in `out`): the block's vectors as columns over columns lowest.., zero above each start. */
function blockVectors(reflections: Reflections, first: number, last: number, lowest: number, width: number, out: Float64Array): Matrix {
  const { vectors, offsets, starts } = reflections;
  const b = last - first;
  out.fill(0, 0, width * b);
  for (let j = 0; j < b; j++) {
    const skip = starts[first + j] - lowest;
    const offset = offsets[first + j];
    for (let c = skip; c < width; c++) out[c * b + j] = vectors[offset + c - skip];
  }
  return { rows: width, cols: b, data: out.subarray(0, width * b) };
}

/**
 * The matrix in WebAssembly memory for the compact WY blocks: VᵀV, R V, (R V)(−T) and R += W Vᵀ
 * each run in the row-block kernel directly on the rows in place (row stride `cols`), the right
 * factors in L2-sized panels; the same sums, in the same order, as `applyBlock`'s products. It
 * lives in the kept scratch arena where it fits (threaded for large blocks), else in its own;
 * nothing else may use the scratch arena meanwhile, so no matmulMatrix runs while it is held.
 * Padding rows below the matrix take a short last block's extra rows.
 */
class WyArena {
  private constructor(
    private readonly kernels: DenseSimdKernels,
    private readonly areas: Float64Array[],
    /** The arena to split the large products among its threads, or null (one thread). */
    private readonly threads: SimdArena | null,
    /** A one-off arena to dispose of at the end. */
    private readonly owned: SimdArena | null,
    readonly target: Float64Array,
    private readonly rowCount: number,
    private readonly cols: number,
  ) {}

  static create(target: Float64Array, rowCount: number, cols: number): WyArena | null {
    // VᵀV's short last block of rows writes up to three rows past it, into (−T)'s area, set right after.
    const lengths = [(rowCount + 4) * cols, cols * BLOCK, PANEL_VALUES, (rowCount + 4) * BLOCK, (rowCount + 4) * BLOCK, BLOCK * BLOCK, BLOCK * BLOCK];
    const threaded = rowCount * cols * BLOCK >= THREADED_MIN_WORK;
    // Threaded: the kept shared arena where it fits, else a one-off shared one; else (or with one
    // thread) the kept plain arena, or, too large for it, a one-off plain one.
    const shared = threaded ? threadedAreas(lengths) : null;
    const scratch = shared ?? scratchAreas(lengths);
    if (!scratch) return null;
    const { kernels, areas } = scratch;
    const rows = areas[0].subarray(0, rowCount * cols);
    rows.set(target);
    areas[0].fill(0, rowCount * cols); // the padding rows (a kept arena holds an earlier caller's values)
    return new WyArena(kernels, areas, shared?.arena ?? null, shared?.owned ?? null, rows, rowCount, cols);
  }

  applyBlock(first: number, last: number, lowest: number, reflections: Reflections): void {
    const { cols } = this;
    const [, vPanel, panel, rv, w, gram, negatedT] = this.areas;
    const b = last - first;
    const width = cols - lowest;
    const firstRow = reflections.skipLeadingRows ? lowest : 0;
    const height = this.rowCount - firstRow;
    blockVectors(reflections, first, last, lowest, width, vPanel);
    const depth = Math.max(1, Math.floor(PANEL_VALUES / b));
    const blocks = Math.ceil(height / 4);
    const threads = height * width * b >= THREADED_MIN_WORK ? this.threads : null;
    const rowsAt = addressOf(this.target, firstRow * cols + lowest);
    // VᵀV (its columns as rows: x_i[k] = V[k][i]) and R V, in panels of V's rows (consecutive k;
    // each sum goes on from the previous panel's).
    for (let k0 = 0; k0 < width; k0 += depth) {
      const panelOfV = { d: Math.min(depth, width - k0), yt: addressOf(vPanel, k0 * b), ld: b, firstRow: 0, symmetric: false, add: k0 > 0 };
      runRowBlocks(this.kernels, null, { ...panelOfV, xa: addressOf(vPanel, k0 * b), xs: 8, xk: 8 * b, c: addressOf(gram), cs: 8 * b }, 0, Math.ceil(b / 4));
      runRowBlocks(this.kernels, threads, { ...panelOfV, xa: rowsAt + 8 * k0, xs: 8 * cols, xk: 8, c: addressOf(rv), cs: 8 * b }, 0, blocks);
    }
    const t = upperTriangularFactor(gram, reflections.taus, first, b);
    for (let i = 0; i < b * b; i++) negatedT[i] = -t[i];
    // W = (R V)(−T), then R += W Vᵀ, Vᵀ a panel of columns at a time.
    const fromW = { xa: addressOf(w), xs: 8 * b, xk: 8, d: b, firstRow: 0, symmetric: false };
    runRowBlocks(this.kernels, null, { ...fromW, xa: addressOf(rv), yt: addressOf(negatedT), ld: b, c: addressOf(w), cs: 8 * b, add: false }, 0, blocks);
    const span = Math.max(4, Math.floor(PANEL_VALUES / b));
    for (let c0 = 0; c0 < width; c0 += span) {
      const columns = Math.min(span, width - c0);
      for (let k = 0; k < b; k++) for (let c = 0; c < columns; c++) panel[k * columns + c] = vPanel[(c0 + c) * b + k];
      runRowBlocks(this.kernels, threads, { ...fromW, yt: addressOf(panel), ld: columns, c: rowsAt + 8 * c0, cs: 8 * cols, add: true }, 0, blocks);
    }
  }

  /** Writes the result back (and disposes of a one-off arena: its memory goes back for reuse). */
  finish(target: Float64Array): void {
    target.set(this.target);
    this.owned?.dispose();
  }
}

/**
 * T (b × b, upper triangular, row-major) with H_0⋯H_{b-1} = I − V T Vᵀ from the Gram matrix VᵀV
 * (b × b; its upper triangle is read): T[j][j] = τ_j and T[0:j, j] = −τ_j · T[0:j, 0:j] ·
 * (V[:, 0:j]ᵀ v_j) (LAPACK's larft, forward direction).
 */
function upperTriangularFactor(gram: Float64Array, taus: ArrayLike<number>, first: number, b: number): Float64Array {
  const t = new Float64Array(b * b);
  for (let j = 0; j < b; j++) {
    const tau = taus[first + j];
    t[j * b + j] = tau;
    for (let i = 0; i < j; i++) {
      let sum = 0;
      for (let l = i; l < j; l++) sum += t[i * b + l] * gram[l * b + j];
      t[i * b + j] = -tau * sum;
    }
  }
  return t;
}

/**
 * B ← B − τ v (vᵀB) for the height × width block B at `at` (row stride ld) of `target`: a left
 * Householder reflection with v contiguous, vᵀB gathered row by row into w (rows whose v is 0
 * skipped), then the rank-1 update; the SIMD kernels (v, w and target in their memory) or the same
 * loops, with the same values.
 */
export function reflectRows(kernels: DenseSimdKernels | null, target: Float64Array, at: number, ld: number, height: number, width: number, v: Float64Array, w: Float64Array, tau: number): void {
  if (width === 0) return;
  w.fill(0, 0, width);
  if (kernels) {
    kernels.rowsAxpyInto(addressOf(target, at), ld, height, width, addressOf(v), addressOf(w));
    kernels.rowsAxpyFrom(addressOf(target, at), ld, height, width, addressOf(v), -tau, addressOf(w));
    return;
  }
  for (let t = 0; t < height; t++) if (v[t] !== 0) axpy(v[t], target, at + t * ld, w, 0, width);
  for (let t = 0; t < height; t++) if (v[t] !== 0) axpy(-tau * v[t], w, 0, target, at + t * ld, width);
}
