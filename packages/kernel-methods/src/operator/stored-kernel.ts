import { balancedRanges, BudgetTooSmallError, InvalidConfigError, type Matrix, runRowBlocks } from '@kvkit/tensor-core';
import { isRadialKernel, type Kernel, type RadialKernel } from '../kernels/kernel.js';
import { addressOf, SimdArena, simdThreadCount } from '../wasm/simd-arena.js';
import { dot, fourRowProducts, radialProfileFromProducts, ROW_BLOCK, squaredNorms } from './gram-loops.js';
import { addPartials } from '../util/tile-products.js';

export { radialCrossProduct, usesHostGramRoute } from './radial-cross.js';

/**
 * Default cap on the bytes an estimator may spend on a materialized kernel matrix: 512 MiB. K is
 * stored as its packed upper triangle (n(n+1)/2 float64 values), so n up to 11 584 fits. Above it
 * the estimators fall back to the lazy, tiled operator.
 */
export const DEFAULT_MAX_MEMORY_BYTES = 512 * 2 ** 20;

export interface StoredKernelOptions {
  /**
   * Most bytes the fit may spend on the stored kernel matrix, its packed upper triangle of
   * n(n+1)/2 float64 values (default 512 MiB: n ≤ 11 584). 'auto' solvers store K when it fits
   * and use the lazy operator above; forcing a stored-K solver over the budget throws
   * BudgetTooSmallError.
   */
  maxMemoryBytes?: number;
}

/**
 * A symmetric n×n matrix stored as its upper triangle, row by row: row i holds A[i][i..n−1] from
 * `rowOffset(n, i)`. Half the memory of the full matrix, and a product reads each value once.
 */
export interface PackedSymmetric {
  readonly n: number;
  readonly data: Float64Array;
  /** Set when `data` lives in WebAssembly memory: products run there, through the v/out slots. */
  readonly simd?: PackedSimd;
}

/**
 * The arena holding a packed matrix (its kernels and, where attached, its worker threads; call
 * `arena.dispose()` when done with the matrix: its memory goes back for reuse), and its product's slots: v, and one out per thread
 * for the partial products (outs[0] the caller's), each n × `columns` (a block product takes that
 * many columns of V per pass).
 */
export interface PackedSimd {
  readonly arena: SimdArena;
  readonly columns: number;
  readonly v: Float64Array;
  readonly outs: Float64Array[];
}

export interface MaterializeOptions {
  /**
   * Columns of V a product takes per pass (default 1: matrix–vector products). Solvers that multiply
   * blocks of vectors ask for their block width (even; at most 32 is useful): the arena then holds
   * (1 + threads)·n·columns more float64 values for V and the partial products.
   */
  productColumns?: number;
}

/** Where row i (its diagonal entry) starts in a packed upper triangle of order n. */
export function rowOffset(n: number, i: number): number {
  return i * n - (i * (i - 1)) / 2;
}

/** Bytes of the packed n×n kernel matrix. */
export function packedKernelBytes(n: number): number {
  return ((n * (n + 1)) / 2) * Float64Array.BYTES_PER_ELEMENT;
}

/** True when the packed kernel matrix of n points fits the budget (default 512 MiB). */
export function packedKernelFits(n: number, maxMemoryBytes = DEFAULT_MAX_MEMORY_BYTES): boolean {
  return packedKernelBytes(n) <= maxMemoryBytes;
}

/** Throws BudgetTooSmallError when a solver that stores K was forced but K does not fit the budget. */
export function requirePackedKernelFits(n: number, maxMemoryBytes: number | undefined, where: string, lazyAlternative: string): void {
  const budget = maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES;
  const bytes = packedKernelBytes(n);
  if (bytes > budget) {
    throw new BudgetTooSmallError(
      `${where}: the kernel matrix of ${n} points needs ${bytes} bytes (packed upper triangle) but maxMemoryBytes is ${budget}; raise maxMemoryBytes or use ${lazyAlternative}, which never stores it`,
      { points: n, bytes, maxMemoryBytes: budget },
    );
  }
}

/** Most columns of V a block product takes per pass that pay: a randomized sketch of 22 components plus 10 oversampling in one pass. */
export const MAX_PRODUCT_COLUMNS = 32;

/** The `productColumns` for products with blocks of `width` columns: 1 for vectors, else width rounded up to even, at most MAX_PRODUCT_COLUMNS. */
export function productColumnsFor(width: number): number {
  return width === 1 ? 1 : Math.min(MAX_PRODUCT_COLUMNS, width + (width % 2));
}

/**
 * K(x, x) computed once into packed storage. Radial kernels take the Gram route:
 * ‖xᵢ − xⱼ‖² = ‖xᵢ‖² + ‖xⱼ‖² − 2xᵢ·xⱼ with the dot products four rows at a time (each xⱼ read once
 * per four rows), then the profile over each row. Where the expansion cancels (the distance is
 * below 1e-6 of ‖xᵢ‖² + ‖xⱼ‖²: near-duplicate points) it is recomputed by differences, so
 * √-based profiles (Matérn) stay exact to float64 rounding. Other kernels go tile by tile through
 * `kernel.evaluate`. Where WebAssembly SIMD is available the matrix lives in WebAssembly memory
 * and the dot products and later matrix–vector products run there (same float64 sums).
 */
export function materializeKernel(kernel: Kernel, x: Matrix, options: MaterializeOptions = {}): PackedSymmetric {
  const n = x.rows;
  const radial = isRadialKernel(kernel);
  const length = (n * (n + 1)) / 2;
  const productColumns = options.productColumns ?? 1;
  if (productColumns !== 1 && !(Number.isInteger(productColumns) && productColumns >= 2 && productColumns % 2 === 0)) {
    throw new InvalidConfigError(`materializeKernel: productColumns must be 1 or an even integer >= 2, got ${productColumns}`, { productColumns });
  }
  // One product out per thread (partial products, summed afterwards).
  const depth = Math.min(GRAM_DEPTH, x.cols);
  const lengths = [length, n * productColumns, n * depth, depth * n, n, ...new Array<number>(simdThreadCount()).fill(n * productColumns)];
  const arena = SimdArena.create(lengths, { threads: n >= THREADED_MIN_ORDER });
  if (!arena) {
    const packed = { n, data: new Float64Array(length) };
    if (radial) radialGram(kernel, x, packed, (i0, i1) => upperGramProducts(x, packed, i0, i1));
    else tiledGram(kernel, x, packed);
    return packed;
  }
  const [data, v, xPanel, xtPanel, norms, ...outs] = arena.arrays;
  const packed = { n, data, simd: { arena, columns: productColumns, v, outs: outs.slice(0, arena.threadCount) } };
  // Fresh pages cost most of a fill on some machines (the first touch): threads take their share.
  arena.touchInParallel(data);
  if (!radial) tiledGram(kernel, x, packed);
  else {
    simdUpperGramProducts(arena, x, packed, xPanel, xtPanel);
    if (kernel.gaussianGamma === undefined) radialGram(kernel, x, packed, () => {});
    else simdGaussianProfile(arena, kernel.gaussianGamma, x, packed, norms);
  }
  return packed;
}

// Below this order a product is too short for threads to pay their hand-off (≈ 30–40 µs a job).
const THREADED_MIN_ORDER = 512;

/**
 * Row ranges [from, to) of an order-n packed triangle with about equal numbers of entries (row i
 * holds n − i), boundaries multiples of 4 (the row-block kernels' blocks).
 */
export function triangleRowRanges(n: number, parts: number): Array<[number, number]> {
  // Block b holds rows 4b..4b+3: Σ (n − i) over them.
  const entries = (b: number) => {
    const first = ROW_BLOCK * b;
    const last = Math.min(n, first + ROW_BLOCK) - 1;
    return ((last - first + 1) * (2 * n - first - last)) / 2;
  };
  return balancedRanges(Math.ceil(n / ROW_BLOCK), parts, entries).map(([from, to]) => [Math.min(n, from * ROW_BLOCK), Math.min(n, to * ROW_BLOCK)]);
}

/**
 * The radial profile over the packed Gram products, row by row; `products(i0, i1)` fills the dot
 * products of rows [i0, i1) first (a no-op when they were all computed beforehand).
 */
function radialGram(kernel: RadialKernel, x: Matrix, packed: PackedSymmetric, products: (i0: number, i1: number) => void): void {
  const { rows: n, cols: d, data: xd } = x;
  const norms = squaredNorms(x, new Float64Array(n));
  // Four rows of dot products, then their profile while the rows are still in cache.
  for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
    const i1 = Math.min(i0 + ROW_BLOCK, n);
    products(i0, i1);
    for (let i = i0; i < i1; i++) applyProfile(kernel.profile, xd, d, norms, packed, i);
  }
}

/** The Gaussian profile exp(−γ‖xᵢ − xⱼ‖²) over the packed Gram products, in WebAssembly (on every thread). */
function simdGaussianProfile(arena: SimdArena, gamma: number, x: Matrix, packed: PackedSymmetric, norms: Float64Array): void {
  const { n, data } = packed;
  squaredNorms(x, norms);
  arena.run('gaussianRows', triangleRowRanges(n, arena.threadCount).map(([from, to]) => [addressOf(data), addressOf(norms), n, from, to, gamma]));
}

// Columns of x per pass of the SIMD Gram products: x's rows and columns over them (n × 32 and 32 × n
// float64) sit in the arena for a pass.
const GRAM_DEPTH = 32;

/**
 * Every packed entry xᵢ·xⱼ (j ≥ i) by the row-block kernel writing the packed triangle itself: each
 * block of four rows from its corner on, the blocks split among the arena's worker threads
 * (balanced by their entries); x's columns GRAM_DEPTH at a time, each pass adding on to the sums the
 * pass before left (the same sums, in order). Each block's corner (i ≤ j < i0 + 3) and the last
 * n mod 4 rows go entry by entry.
 */
function simdUpperGramProducts(arena: SimdArena, x: Matrix, packed: PackedSymmetric, xPanel: Float64Array, xtPanel: Float64Array): void {
  const { rows: n, cols: d, data: xd } = x;
  const out = packed.data;
  const blocks = n - (n % ROW_BLOCK);
  for (let k0 = 0; k0 < d; k0 += GRAM_DEPTH) {
    const depth = Math.min(GRAM_DEPTH, d - k0);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < depth; k++) {
        const value = xd[i * d + k0 + k];
        xPanel[i * depth + k] = value;
        xtPanel[k * n + i] = value;
      }
    }
    const job = { xa: addressOf(xPanel), xs: 8 * depth, xk: 8, d: depth, yt: addressOf(xtPanel), ld: n, c: addressOf(out), cs: 0, firstRow: 0, symmetric: false, packed: true, add: k0 > 0 };
    runRowBlocks(arena.kernels, arena, job, 0, blocks / ROW_BLOCK);
  }
  for (let i0 = 0; i0 < blocks; i0 += ROW_BLOCK) {
    for (let i = i0; i < i0 + ROW_BLOCK; i++) {
      const row = rowOffset(n, i) - i;
      for (let j = i; j < i0 + ROW_BLOCK - 1; j++) out[row + j] = dot(xd, i * d, j * d, d);
    }
  }
  for (let i = blocks; i < n; i++) {
    const row = rowOffset(n, i) - i;
    for (let j = i; j < n; j++) out[row + j] = dot(xd, i * d, j * d, d);
  }
}

/** Row i of the packed matrix: dot products xᵢ·xⱼ → f(‖xᵢ − xⱼ‖²). */
function applyProfile(f: (s: number) => number, xd: Float64Array, d: number, norms: Float64Array, packed: PackedSymmetric, i: number): void {
  const { n, data: out } = packed;
  const row = rowOffset(n, i) - i; // out[row + j] is entry (i, j)
  out[row + i] = f(0);
  radialProfileFromProducts(f, out, row, i + 1, n, norms[i], norms, xd, i * d, xd, d);
}

/** Entries (i, j ≥ i) = xᵢ·xⱼ of rows i0 ≤ i < i1, four rows at once when there are four. */
function upperGramProducts(x: Matrix, packed: PackedSymmetric, i0: number, i1: number): void {
  const { cols: d, data: xd } = x;
  const { n, data: out } = packed;
  if (i1 - i0 < ROW_BLOCK) {
    for (let i = i0; i < i1; i++) {
      const row = rowOffset(n, i) - i;
      for (let j = i; j < n; j++) out[row + j] = dot(xd, i * d, j * d, d);
    }
    return;
  }
  // The block's own upper-left corner (j < i0 + 3) one entry at a time.
  for (let i = i0; i < i1; i++) {
    const row = rowOffset(n, i) - i;
    for (let j = i; j < i0 + ROW_BLOCK - 1; j++) out[row + j] = dot(xd, i * d, j * d, d);
  }
  fourRowProducts(xd, i0 * d, xd, d, i0 + ROW_BLOCK - 1, n, out, [0, 1, 2, 3].map((r) => rowOffset(n, i0 + r) - i0 - r));
}

const TILE = 128;

function tiledGram(kernel: Kernel, x: Matrix, packed: PackedSymmetric): void {
  const n = x.rows;
  const out = packed.data;
  const tile = new Float64Array(TILE * TILE);
  for (let r0 = 0; r0 < n; r0 += TILE) {
    const r1 = Math.min(r0 + TILE, n);
    for (let c0 = r0; c0 < n; c0 += TILE) {
      const c1 = Math.min(c0 + TILE, n);
      const width = c1 - c0;
      kernel.evaluate(x, x, tile, r0, r1, c0, c1);
      for (let i = r0; i < r1; i++) {
        const from = Math.max(i, c0);
        if (from >= c1) continue;
        out.set(tile.subarray((i - r0) * width + from - c0, (i - r0 + 1) * width), rowOffset(n, i) + from - i);
      }
    }
  }
}

/**
 * out = A·v, reading each stored value once: A[i][j] (j > i) serves row i (a dot product) and row j
 * (an axpy). Four rows at a time, so each out[j] is loaded and stored once per four rows.
 */
export function packedMatvec(a: PackedSymmetric, v: Float64Array, out: Float64Array): Float64Array {
  const { n, data, simd } = a;
  if (simd) {
    // Each thread its rows (about equal entries) into its own out; the partial products summed here.
    const { arena, outs } = simd;
    simd.v.set(v.subarray(0, n));
    for (const partial of outs) partial.fill(0, 0, n);
    const ranges = triangleRowRanges(n, outs.length);
    arena.run('packedMatvecRows', ranges.map(([from, to], t) => [addressOf(data), n, addressOf(simd.v), addressOf(outs[t]), from, to]));
    addPartials(outs, n);
    out.set(outs[0].subarray(0, n));
    return out;
  }
  out.fill(0);
  let i0 = 0;
  for (; i0 + ROW_BLOCK <= n; i0 += ROW_BLOCK) {
    // The 4×4 diagonal block, entry by entry.
    for (let i = i0; i < i0 + ROW_BLOCK; i++) {
      const row = rowOffset(n, i) - i;
      out[i] += data[row + i] * v[i];
      for (let j = i + 1; j < i0 + ROW_BLOCK; j++) {
        out[i] += data[row + j] * v[j];
        out[j] += data[row + j] * v[i];
      }
    }
    const r0 = rowOffset(n, i0) - i0;
    const r1 = rowOffset(n, i0 + 1) - i0 - 1;
    const r2 = rowOffset(n, i0 + 2) - i0 - 2;
    const r3 = rowOffset(n, i0 + 3) - i0 - 3;
    const v0 = v[i0];
    const v1 = v[i0 + 1];
    const v2 = v[i0 + 2];
    const v3 = v[i0 + 3];
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = i0 + ROW_BLOCK; j < n; j++) {
      const a0 = data[r0 + j];
      const a1 = data[r1 + j];
      const a2 = data[r2 + j];
      const a3 = data[r3 + j];
      const vj = v[j];
      s0 += a0 * vj;
      s1 += a1 * vj;
      s2 += a2 * vj;
      s3 += a3 * vj;
      out[j] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3;
    }
    out[i0] += s0;
    out[i0 + 1] += s1;
    out[i0 + 2] += s2;
    out[i0 + 3] += s3;
  }
  for (let i = i0; i < n; i++) {
    const row = rowOffset(n, i) - i;
    out[i] += data[row + i] * v[i];
    for (let j = i + 1; j < n; j++) {
      out[i] += data[row + j] * v[j];
      out[j] += data[row + j] * v[i];
    }
  }
  return out;
}

/**
 * A·V for an n×k row-major block V. Where the matrix lives in WebAssembly memory with room for a
 * block (`productColumns` ≥ 2), `packedBlockRows` on the worker threads, up to that many columns
 * per pass over A; else four-row matrix–vector products (one column) or the loop below.
 */
export function packedMultiply(a: PackedSymmetric, v: Matrix): Matrix {
  const { n, data, simd } = a;
  const k = v.cols;
  if (k === 1) return { rows: n, cols: 1, data: packedMatvec(a, v.data, new Float64Array(n)) };
  if (simd && simd.columns >= 2) return packedBlockMultiply(a, simd, v);
  const vd = v.data;
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const row = rowOffset(n, i) - i;
    const oi = i * k;
    const w0 = data[row + i];
    for (let l = 0; l < k; l++) out[oi + l] += w0 * vd[oi + l];
    for (let j = i + 1; j < n; j++) {
      const w = data[row + j];
      const oj = j * k;
      for (let l = 0; l < k; l++) {
        out[oi + l] += w * vd[oj + l];
        out[oj + l] += w * vd[oi + l];
      }
    }
  }
  return { rows: n, cols: k, data: out };
}

/**
 * packedMultiply in WebAssembly: passes of up to `simd.columns` columns (an odd last one padded with
 * zeros). Its sums run in another order than the loop's, so the two agree to rounding, not bit for bit.
 */
function packedBlockMultiply(a: PackedSymmetric, simd: PackedSimd, v: Matrix): Matrix {
  const { n, data } = a;
  const { arena, outs, columns } = simd;
  const k = v.cols;
  const out = new Float64Array(n * k);
  const ranges = triangleRowRanges(n, outs.length);
  for (let c0 = 0; c0 < k; c0 += columns) {
    const width = Math.min(columns, k - c0);
    const padded = width + (width % 2);
    const block = simd.v.subarray(0, n * padded);
    for (let i = 0; i < n; i++) {
      block.set(v.data.subarray(i * k + c0, i * k + c0 + width), i * padded);
      if (padded > width) block[i * padded + width] = 0;
    }
    for (const partial of outs) partial.fill(0, 0, n * padded);
    arena.run('packedBlockRows', ranges.map(([from, to], t) => (to > from ? [addressOf(data), n, addressOf(block), padded, addressOf(outs[t]), from, to] : null)));
    addPartials(outs, n * padded);
    const sum = outs[0];
    for (let i = 0; i < n; i++) out.set(sum.subarray(i * padded, i * padded + width), i * k + c0);
  }
  return { rows: n, cols: k, data: out };
}

/** Row p of A (= column p), all n entries. */
export function packedRow(a: PackedSymmetric, p: number, out: Float64Array): Float64Array {
  const { n, data } = a;
  for (let j = 0; j < p; j++) out[j] = data[rowOffset(n, j) + p - j];
  out.set(data.subarray(rowOffset(n, p), rowOffset(n, p + 1)), p);
  return out;
}

/** The diagonal of A. */
export function packedDiagonal(a: PackedSymmetric): Float64Array {
  const out = new Float64Array(a.n);
  for (let i = 0; i < a.n; i++) out[i] = a.data[rowOffset(a.n, i)];
  return out;
}

/** Row means of A and their mean: what projecting new points onto kernel PCA components needs. */
export function packedRowMeans(a: PackedSymmetric): { rowMeans: Float64Array; mean: number } {
  const n = a.n;
  const rowMeans = packedMatvec(a, new Float64Array(n).fill(1), new Float64Array(n));
  let mean = 0;
  for (let i = 0; i < n; i++) {
    rowMeans[i] /= n;
    mean += rowMeans[i];
  }
  return { rowMeans, mean: mean / n };
}

/**
 * out = H A H v with H = I − 11ᵀ/n, the feature-space centered matrix, as two O(n) centerings
 * around one product (cheaper than centering the stored matrix, a full pass over it).
 */
export function centeredPackedMatvec(a: PackedSymmetric, v: Float64Array, out: Float64Array, scratch: Float64Array): Float64Array {
  const n = a.n;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += v[i];
  mean /= n;
  for (let i = 0; i < n; i++) scratch[i] = v[i] - mean;
  packedMatvec(a, scratch, out);
  mean = 0;
  for (let i = 0; i < n; i++) mean += out[i];
  mean /= n;
  for (let i = 0; i < n; i++) out[i] -= mean;
  return out;
}
