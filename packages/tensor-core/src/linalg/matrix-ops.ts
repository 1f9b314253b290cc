import { InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { SCRATCH_VALUES, scratchAreas, threadedScratchAreas } from '../simd/scratch-arena.js';
import { addressOf } from '../simd/simd-arena.js';
import { runRowBlocks } from '../simd/row-blocks.js';
import { type LinearOperator, type Matrix, matrix } from './matrix.js';

export interface MatmulOptions {
  /** Use Aᵀ in place of A. */
  transposeA?: boolean;
  /** Use Bᵀ in place of B. */
  transposeB?: boolean;
  /**
   * Add the product into this matrix (op(A) rows × op(B) columns) in place and return it: C + op(A)·op(B),
   * each entry summed on from C's value. For AᵀA or AAᵀ (computed from the upper triangle) C must be
   * symmetric: its lower triangle is replaced by the mirror of the upper one.
   */
  accumulate?: Matrix;
}

/**
 * op(A)·op(B) in float64. The inner loop runs along a row of B and a row of C (i-k-j order), so
 * every hot access is contiguous; a transposed B is materialized first for the same reason.
 * Products of ±Infinity with zeros follow IEEE rules (no zero-skipping). AᵀA and AAᵀ (the same
 * matrix object on both sides, one side transposed) are symmetric: with SIMD only their upper
 * triangle is computed and then mirrored, the same values as computing both. With `accumulate`
 * the product is added into a given matrix (BLAS's β = 1), e.g. to sum a product over row tiles.
 */
export function matmulMatrix(a: Matrix, b: Matrix, opts: MatmulOptions = {}): Matrix {
  const transposeA = opts.transposeA ?? false;
  const transposeB = opts.transposeB ?? false;
  const rhs = transposeB ? transposeMatrix(b) : b;
  const m = transposeA ? a.cols : a.rows;
  const inner = transposeA ? a.rows : a.cols;
  if (rhs.rows !== inner) {
    throw new ShapeMismatchError(
      `matmulMatrix: op(A) is ${m}×${inner} but op(B) is ${rhs.rows}×${rhs.cols}; the inner dimensions must agree`,
      { a: [a.rows, a.cols], b: [b.rows, b.cols], transposeA, transposeB },
    );
  }
  const n = rhs.cols;
  const into = opts.accumulate;
  if (into && (into.rows !== m || into.cols !== n || into.data.length !== m * n)) {
    throw new ShapeMismatchError(`matmulMatrix: the product is ${m}×${n} but the matrix to accumulate into is ${into.rows}×${into.cols}`, {
      product: [m, n],
      accumulate: [into.rows, into.cols],
    });
  }
  if (into && (overlaps(into.data, a.data) || overlaps(into.data, b.data))) {
    throw new InvalidConfigError('matmulMatrix: the matrix to accumulate into shares memory with A or B; the product would read its own partial sums');
  }
  const out = into?.data ?? new Float64Array(m * n);
  if (m * inner * n >= SIMD_MIN_WORK && simdMatmul(a, transposeA, rhs, m, inner, n, a === b && transposeA !== transposeB, out, into !== undefined)) {
    return { rows: m, cols: n, data: out };
  }
  const ad = a.data;
  const bd = rhs.data;
  const aRowStride = transposeA ? 1 : a.cols;
  const aInnerStride = transposeA ? a.cols : 1;
  for (let i = 0; i < m; i++) {
    const cRow = i * n;
    for (let k = 0; k < inner; k++) axpy(ad[i * aRowStride + k * aInnerStride], bd, k * n, out, cRow, n);
  }
  return { rows: m, cols: n, data: out };
}

/** Whether two float64 arrays share any bytes of one buffer. */
function overlaps(x: Float64Array, y: Float64Array): boolean {
  return x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
}

// Below this many multiply-adds the copies into WebAssembly memory cost more than they save.
const SIMD_MIN_WORK = 32 * 32 * 32;
// A panel of B (this many values, 256 KiB) stays in a core's L2 cache while every row block of
// op(A) passes over it; streaming all of a tall B from memory for each block of four rows instead
// made AᵀA of an 8000×500 A run at a third of the speed.
const PANEL_VALUES = 32768;
// The block of op(A) copied next to each panel (this many values, 2 MiB): with the panel and C's
// chunk it keeps every product inside the kept scratch arena (a tall Aᵀ·y with one column
// otherwise asked for a 64 MB one-off memory, whose first touch cost more than the product).
const A_BLOCK_VALUES = 2 ** 18;
// From this many multiply-adds (≈ 1.5 ms on one core) a product splits among the worker threads:
// a panel's hand-off (≈ 40 µs) stays small next to its share.
const THREADED_MIN_WORK = 2 ** 24;
// Rows of C computed per pass over B's panels (this many values, 4 MiB): C's chunk and a panel
// together fit the kept scratch arena, however large C is.
const CHUNK_VALUES = 2 ** 19;

/**
 * out (+)= op(A)·B with the SIMD row-block kernel; false (out untouched) where SIMD is unavailable.
 * C is computed a chunk of rows at a time; for each chunk, B passes in panels of consecutive k,
 * each copied into WebAssembly memory with the matching block of A (rows of A, or for Aᵀ the rows
 * k of A, which the kernel reads down their columns), and every four-row block of the chunk is
 * multiplied by it (a short last block reads padding and its extra rows are dropped). Each entry is
 * summed over k in order from zero (or from C's value), panel after panel, as in the loop above:
 * the same float64 values. With `symmetric` (C = Cᵀ), a block starts at its first row's diagonal
 * and the lower triangle is mirrored; for AᵀA the panel of B is the block of A itself.
 */
function simdMatmul(
  a: Matrix,
  transposeA: boolean,
  b: Matrix,
  m: number,
  inner: number,
  n: number,
  symmetric: boolean,
  out: Float64Array,
  accumulate: boolean,
): boolean {
  const chunkRows = 4 * Math.ceil(Math.min(m, Math.max(4, Math.floor(CHUNK_VALUES / n))) / 4);
  const depth = Math.min(inner, Math.max(16, Math.min(Math.floor(PANEL_VALUES / n), Math.floor(A_BLOCK_VALUES / chunkRows))));
  const aIsPanel = symmetric && transposeA;
  // Large products split their row blocks among the worker threads (Node), in shared memory, a pass
  // of consecutive panels per hand-off: as many as the kept scratch arena holds next to C's chunk
  // (each thread still takes its blocks through one panel at a time). One hand-off per panel made a
  // 500 × 500 × 8000 product hand off 124 times (6 now); where the other vCPU was busy, each waited for it.
  const threadedWork = m * inner * n >= THREADED_MIN_WORK;
  const panelValues = (aIsPanel ? 0 : chunkRows) + n;
  const panelsPerPass = threadedWork ? Math.max(1, Math.min(Math.ceil(inner / depth), Math.floor((SCRATCH_VALUES - chunkRows * n - 16) / (depth * panelValues)))) : 1;
  const passDepth = Math.min(inner, panelsPerPass * depth);
  // Four spare values: a short last block's padding rows read at most three past a block's end.
  const lengths = [aIsPanel ? 0 : passDepth * chunkRows + 4, passDepth * n + 4, chunkRows * n];
  const threaded = threadedWork ? threadedScratchAreas(lengths) : null;
  const scratch = threaded ?? scratchAreas(lengths);
  if (!scratch) return false;
  const [aBlock, panel, chunk] = scratch.areas;
  const ad = a.data;
  const bd = b.data;
  for (let r0 = 0; r0 < m; r0 += chunkRows) {
    const height = Math.min(chunkRows, m - r0);
    if (accumulate) chunk.set(out.subarray(r0 * n, (r0 + height) * n));
    for (let k0 = 0; k0 < inner; k0 += passDepth) {
      const width = Math.min(passDepth, inner - k0);
      // One panel holds all of B: copied once for every chunk.
      if (width < inner || r0 === 0) panel.set(bd.subarray(k0 * n, (k0 + width) * n));
      // x_i[k] (row i of the chunk in op(A), k of the panel) at xa + i·xs + k·xk bytes.
      let xa: number;
      let xs: number;
      let xk: number;
      if (aIsPanel) {
        [xa, xs, xk] = [addressOf(panel, r0), 8, 8 * n];
      } else if (transposeA) {
        for (let k = 0; k < width; k++) aBlock.set(ad.subarray((k0 + k) * a.cols + r0, (k0 + k) * a.cols + r0 + height), k * height);
        [xa, xs, xk] = [addressOf(aBlock), 8, 8 * height];
      } else {
        for (let r = 0; r < height; r++) aBlock.set(ad.subarray((r0 + r) * inner + k0, (r0 + r) * inner + k0 + width), r * width);
        [xa, xs, xk] = [addressOf(aBlock), 8 * width, 8];
      }
      const job = { xa, xs, xk, d: width, yt: addressOf(panel), ld: n, c: addressOf(chunk), cs: 8 * n, firstRow: r0, symmetric, add: accumulate || k0 > 0, panelDepth: depth };
      runRowBlocks(scratch.kernels, threaded?.arena ?? null, job, 0, Math.ceil(height / 4));
    }
    out.set(chunk.subarray(0, height * n), r0 * n);
  }
  if (symmetric) {
    for (let i = 1; i < m; i++) for (let j = 0; j < i; j++) out[i * n + j] = out[j * n + i];
  }
  return true;
}

/** Aᵀ as a new matrix. */
export function transposeMatrix(a: Matrix): Matrix {
  const { rows, cols, data } = a;
  const out = new Float64Array(rows * cols);
  transposeInto(data, rows, cols, cols, out, rows);
  return { rows: cols, cols: rows, data: out };
}

/** Side of the square tiles a transpose moves at a time (two 32×32 tiles of float64: 16 KiB). */
const TRANSPOSE_TILE = 32;

/**
 * out[j·ldOut + i] = src[i·ldSrc + j] for i < rows, j < cols, tile by tile, so the strided side of
 * the copy stays within a few cache lines' worth of rows instead of a whole column.
 * @internal
 */
export function transposeInto(src: Float64Array, rows: number, cols: number, ldSrc: number, out: Float64Array, ldOut: number): void {
  for (let i0 = 0; i0 < rows; i0 += TRANSPOSE_TILE) {
    const i1 = Math.min(rows, i0 + TRANSPOSE_TILE);
    for (let j0 = 0; j0 < cols; j0 += TRANSPOSE_TILE) {
      const j1 = Math.min(cols, j0 + TRANSPOSE_TILE);
      for (let i = i0; i < i1; i++) {
        const row = i * ldSrc;
        for (let j = j0; j < j1; j++) out[j * ldOut + i] = src[row + j];
      }
    }
  }
}

/** The n×n identity. */
export function identityMatrix(n: number): Matrix {
  const out = matrix(n, n);
  for (let i = 0; i < n; i++) out.data[i * n + i] = 1;
  return out;
}

/** A stored matrix seen as a `LinearOperator`, so randomized algorithms take either form. */
export function operatorFromMatrix(a: Matrix): LinearOperator {
  return {
    rows: a.rows,
    cols: a.cols,
    multiply: (x: Matrix) => matmulMatrix(a, x),
    multiplyTransposed: (x: Matrix) => matmulMatrix(a, x, { transposeA: true }),
  };
}

/**
 * Throws InvalidConfigError naming the first NaN or ±Infinity in `a`: every factorization here
 * would otherwise spread it silently through its output.
 * @internal
 */
export function requireFiniteMatrix(a: Matrix, where: string): void {
  requireFiniteEntries(a, where, () => a.cols);
}

/** `requireFiniteMatrix` for a square matrix read only through its lower triangle (diagonal included): the entries above it are never read, so not checked. */
export function requireFiniteLowerTriangle(a: Matrix, where: string): void {
  requireFiniteEntries(a, where, (row) => row + 1);
}

/** The check of both: row by row, columns 0 … columns(row) − 1. */
function requireFiniteEntries(a: Matrix, where: string, columns: (row: number) => number): void {
  const { data, cols } = a;
  for (let row = 0; row < a.rows; row++) {
    const end = columns(row);
    for (let col = 0; col < end; col++) {
      const value = data[row * cols + col];
      if (!Number.isFinite(value)) {
        throw new InvalidConfigError(`${where}: entry (${row}, ${col}) is ${value}; the matrix must be finite`, { row, col, value });
      }
    }
  }
}

/**
 * Throws ShapeMismatchError unless `a` is square.
 * @internal
 */
export function requireSquareMatrix(a: Matrix, where: string): void {
  if (a.rows !== a.cols) {
    throw new ShapeMismatchError(`${where}: expected a square matrix, got ${a.rows}×${a.cols}`, { rows: a.rows, cols: a.cols });
  }
}

/**
 * The largest |entry| of `a` (0 for an empty matrix): factorizations divide by it first so that
 * squares of huge or tiny entries neither overflow nor underflow.
 * @internal
 */
export function maxAbsEntry(a: Matrix): number {
  let max = 0;
  const data = a.data;
  for (let i = 0; i < data.length; i++) {
    const v = Math.abs(data[i]);
    if (v > max) max = v;
  }
  return max;
}

/**
 * Σ x[xOffset + t]·y[yOffset + t] for t < length, with four partial sums: a single running sum
 * would make every addition wait for the previous one.
 * @internal
 */
export function dotProduct(x: Float64Array, xOffset: number, y: Float64Array, yOffset: number, length: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t = 0;
  for (; t + 3 < length; t += 4) {
    s0 += x[xOffset + t] * y[yOffset + t];
    s1 += x[xOffset + t + 1] * y[yOffset + t + 1];
    s2 += x[xOffset + t + 2] * y[yOffset + t + 2];
    s3 += x[xOffset + t + 3] * y[yOffset + t + 3];
  }
  for (; t < length; t++) s0 += x[xOffset + t] * y[yOffset + t];
  return s0 + s1 + (s2 + s3);
}

/**
 * y[yOffset + t] += alpha·x[xOffset + t] for t < length (unrolled by four, which V8 runs markedly
 * faster than the plain loop).
 * @internal
 */
export function axpy(alpha: number, x: Float64Array, xOffset: number, y: Float64Array, yOffset: number, length: number): void {
  let t = 0;
  for (; t + 3 < length; t += 4) {
    const yi = yOffset + t;
    const xi = xOffset + t;
    y[yi] += alpha * x[xi];
    y[yi + 1] += alpha * x[xi + 1];
    y[yi + 2] += alpha * x[xi + 2];
    y[yi + 3] += alpha * x[xi + 3];
  }
  for (; t < length; t++) y[yOffset + t] += alpha * x[xOffset + t];
}

/**
 * Sequences of plane rotations of adjacent columns, recorded now and applied later to the columns
 * of a rows×cols row-major matrix — the eigenvector updates of QL/QR sweeps, whose rotations
 * depend only on the small tridiagonal or bidiagonal matrix, never on the vectors.
 *
 * Rotation k of a sequence maps columns (k, k+1) = (x, y) to (c·x + s·y, c·y − s·x). Applied
 * one by one, every rotation would stream two whole columns through memory; instead, whole
 * sequences are applied a few rows at a time. Within a row a sequence chains (each column is final
 * once both its rotations ran), so the value passed along stays in a register, and a block of rows
 * stays in cache while all recorded sequences run over it.
 * @internal
 */
export class ColumnRotationBatch {
  protected readonly cosines: Float64Array;
  protected readonly sines: Float64Array;
  protected readonly lows: number[] = [];
  protected readonly highs: number[] = [];
  protected readonly ascending: boolean[] = [];
  protected readonly offsets: number[] = [];
  protected used = 0;

  constructor(
    protected readonly vectors: Float64Array,
    protected readonly rows: number,
    protected readonly cols: number,
    capacity = 8 * cols,
  ) {
    const size = rotationBatchSize(cols, capacity);
    this.cosines = new Float64Array(size);
    this.sines = new Float64Array(size);
  }

  /**
   * Records the rotations k = low..high-1 (cosines[k], sines[k]), to run in ascending order of k
   * or, when `ascendingOrder` is false, from high-1 down to low.
   */
  add(low: number, high: number, ascendingOrder: boolean, cosines: Float64Array, sines: Float64Array): void {
    const count = high - low;
    if (count <= 0) return;
    if (this.used + count > this.cosines.length) this.flush();
    this.cosines.set(cosines.subarray(low, high), this.used);
    this.sines.set(sines.subarray(low, high), this.used);
    this.lows.push(low);
    this.highs.push(high);
    this.ascending.push(ascendingOrder);
    this.offsets.push(this.used - low); // so cosines[offset + k] is rotation k
    this.used += count;
  }

  /** Applies everything recorded, in order, and empties the batch. */
  flush(): void {
    if (this.lows.length === 0) return;
    this.applyRecorded();
    this.lows.length = 0;
    this.highs.length = 0;
    this.ascending.length = 0;
    this.offsets.length = 0;
    this.used = 0;
  }

  /**
   * Flushes and returns the matrix holding every rotation (a batch that keeps its own copy writes it
   * back first).
   */
  finish(): Float64Array {
    this.flush();
    return this.vectors;
  }

  /** The recorded sequences on the matrix: four rows at a time, every sequence per block of rows. */
  protected applyRecorded(): void {
    const sequences = this.lows.length;
    const { vectors, rows, cols, cosines, sines } = this;
    let row = 0;
    for (; row + 3 < rows; row += 4) {
      for (let q = 0; q < sequences; q++) {
        applyChain4(vectors, row * cols, cols, this.lows[q], this.highs[q], this.ascending[q], cosines, sines, this.offsets[q]);
      }
    }
    for (; row < rows; row++) {
      for (let q = 0; q < sequences; q++) {
        applyChain1(vectors, row * cols, this.lows[q], this.highs[q], this.ascending[q], cosines, sines, this.offsets[q]);
      }
    }
  }
}

/**
 * Rotations a batch holds before it flushes: by default eight sequences' worth of full-length
 * rotations, enough that re-reading the rows once per flush costs less than streaming the
 * rotations past every block of rows.
 * @internal
 */
export function rotationBatchSize(cols: number, capacity = 8 * cols): number {
  return Math.max(capacity, cols, 256);
}

/** One rotation sequence over one row starting at `base`. */
function applyChain1(
  v: Float64Array,
  base: number,
  low: number,
  high: number,
  ascendingOrder: boolean,
  cosines: Float64Array,
  sines: Float64Array,
  offset: number,
): void {
  if (ascendingOrder) {
    let carry = v[base + low];
    for (let k = low; k < high; k++) {
      const c = cosines[offset + k];
      const s = sines[offset + k];
      const y = v[base + k + 1];
      v[base + k] = c * carry + s * y;
      carry = c * y - s * carry;
    }
    v[base + high] = carry;
  } else {
    let carry = v[base + high];
    for (let k = high - 1; k >= low; k--) {
      const c = cosines[offset + k];
      const s = sines[offset + k];
      const x = v[base + k];
      v[base + k + 1] = c * carry - s * x;
      carry = c * x + s * carry;
    }
    v[base + low] = carry;
  }
}

/** One rotation sequence over four consecutive rows, whose independent chains overlap. */
function applyChain4(
  v: Float64Array,
  base: number,
  cols: number,
  low: number,
  high: number,
  ascendingOrder: boolean,
  cosines: Float64Array,
  sines: Float64Array,
  offset: number,
): void {
  const r0 = base;
  const r1 = r0 + cols;
  const r2 = r1 + cols;
  const r3 = r2 + cols;
  if (ascendingOrder) {
    let carry0 = v[r0 + low];
    let carry1 = v[r1 + low];
    let carry2 = v[r2 + low];
    let carry3 = v[r3 + low];
    for (let k = low; k < high; k++) {
      const c = cosines[offset + k];
      const s = sines[offset + k];
      const y0 = v[r0 + k + 1];
      const y1 = v[r1 + k + 1];
      const y2 = v[r2 + k + 1];
      const y3 = v[r3 + k + 1];
      v[r0 + k] = c * carry0 + s * y0;
      v[r1 + k] = c * carry1 + s * y1;
      v[r2 + k] = c * carry2 + s * y2;
      v[r3 + k] = c * carry3 + s * y3;
      carry0 = c * y0 - s * carry0;
      carry1 = c * y1 - s * carry1;
      carry2 = c * y2 - s * carry2;
      carry3 = c * y3 - s * carry3;
    }
    v[r0 + high] = carry0;
    v[r1 + high] = carry1;
    v[r2 + high] = carry2;
    v[r3 + high] = carry3;
  } else {
    let carry0 = v[r0 + high];
    let carry1 = v[r1 + high];
    let carry2 = v[r2 + high];
    let carry3 = v[r3 + high];
    for (let k = high - 1; k >= low; k--) {
      const c = cosines[offset + k];
      const s = sines[offset + k];
      const x0 = v[r0 + k];
      const x1 = v[r1 + k];
      const x2 = v[r2 + k];
      const x3 = v[r3 + k];
      v[r0 + k + 1] = c * carry0 - s * x0;
      v[r1 + k + 1] = c * carry1 - s * x1;
      v[r2 + k + 1] = c * carry2 - s * x2;
      v[r3 + k + 1] = c * carry3 - s * x3;
      carry0 = c * x0 + s * carry0;
      carry1 = c * x1 + s * carry1;
      carry2 = c * x2 + s * carry2;
      carry3 = c * x3 + s * carry3;
    }
    v[r0 + low] = carry0;
    v[r1 + low] = carry1;
    v[r2 + low] = carry2;
    v[r3 + low] = carry3;
  }
}
