// Products of a row-major kernel tile with a block of a dense right-hand side, accumulated into
// an output block: the inner loops of every tiled kernel-matrix product.
import { balancedRanges } from '@kvkit/tensor-core';
import { addressOf, type SimdArena, type StoredKernelExports } from '../wasm/simd-arena.js';

/** out[r0 + i, :] += Σ_j tile[i, j]·v[c0 + j, :]. */
export function accumulateProduct(tile: Float64Array, height: number, width: number, v: Float64Array, c0: number, out: Float64Array, r0: number, k: number): void {
  if (k === 1) {
    for (let i = 0; i < height; i++) {
      const row = i * width;
      let s = 0;
      for (let j = 0; j < width; j++) s += tile[row + j] * v[c0 + j];
      out[r0 + i] += s;
    }
    return;
  }
  for (let i = 0; i < height; i++) {
    const row = i * width;
    const o = (r0 + i) * k;
    for (let j = 0; j < width; j++) {
      const w = tile[row + j];
      const vr = (c0 + j) * k;
      for (let l = 0; l < k; l++) out[o + l] += w * v[vr + l];
    }
  }
}

/** out[c0 + j, :] += Σ_i tile[i, j]·v[r0 + i, :]. */
export function accumulateTransposedProduct(tile: Float64Array, height: number, width: number, v: Float64Array, r0: number, out: Float64Array, c0: number, k: number): void {
  for (let i = 0; i < height; i++) {
    const row = i * width;
    const vr = (r0 + i) * k;
    if (k === 1) {
      const vi = v[r0 + i];
      for (let j = 0; j < width; j++) out[c0 + j] += tile[row + j] * vi;
      continue;
    }
    for (let j = 0; j < width; j++) {
      const w = tile[row + j];
      const o = (c0 + j) * k;
      for (let l = 0; l < k; l++) out[o + l] += w * v[vr + l];
    }
  }
}

/**
 * outs[0] = Aᵀ(A·b) (cols entries) for arena-resident A in one pass over it: each block of four rows
 * is used for its dots with b and, while still in cache, for its share of the result. `rowsOut`
 * receives A·b. The blocks are split among the arena's threads, thread t adding into outs[t]
 * (one out per thread), and the partial results summed into outs[0] at the end.
 */
export function simdNormalProduct(arena: SimdArena, a: Float64Array, rows: number, cols: number, b: Float64Array, rowsOut: Float64Array, outs: Float64Array[]): void {
  const out = outs[0];
  for (const partial of outs) partial.fill(0, 0, cols);
  const blocks = rows - (rows % 4);
  const count = blocks / 4;
  arena.run(
    'rowBlockNormalProduct',
    balancedRanges(count, outs.length).map(([first, end], t) => [addressOf(a, 4 * first * cols), end - first, cols, addressOf(b), addressOf(rowsOut, 4 * first), addressOf(outs[t])]),
  );
  addPartials(outs, cols);
  if (blocks === rows) return;
  const tail = a.subarray(blocks * cols);
  rowsOut.fill(0, blocks, rows);
  accumulateProduct(tail, rows - blocks, cols, b, 0, rowsOut.subarray(blocks), 0, 1);
  accumulateTransposedProduct(tail, rows - blocks, cols, rowsOut, blocks, out, 0, 1);
}

/** outs[0][j] += outs[t][j] for every later thread's partial result t, j < length. */
export function addPartials(outs: Float64Array[], length: number): void {
  const out = outs[0];
  for (let t = 1; t < outs.length; t++) for (let j = 0; j < length; j++) out[j] += outs[t][j];
}

/**
 * Aᵀ·V with k columns for arena-resident A (rows × cols), four rows of A at a time, on the calling
 * thread, added into `outColumns`, which holds the result column by column (k × cols: column l at
 * l·cols) so each column is one contiguous axpy target.
 */
export function simdTransposedColumns(kernels: StoredKernelExports, a: Float64Array, rows: number, cols: number, v: Float64Array, k: number, outColumns: Float64Array): void {
  outColumns.fill(0, 0, k * cols);
  const blocks = rows - (rows % 4);
  for (let i0 = 0; i0 < blocks; i0 += 4) addBlockColumns(kernels, a, i0, cols, v, k, outColumns);
  addTailColumns(a, blocks, rows, cols, v, k, outColumns);
}

/**
 * Aᵀ(A·B) for B (cols × k, row-major) into outs[0] (k × cols, column by column as above), A·B into
 * `rowsOut` (rows × k): one pass over A, its blocks of four rows split among the arena's threads
 * (`outs` holds one k × cols area per thread; the later ones' partial sums are added into the first).
 */
export function simdNormalColumns(arena: SimdArena, a: Float64Array, rows: number, cols: number, b: Float64Array, k: number, rowsOut: Float64Array, outs: Float64Array[]): void {
  for (const partial of outs) partial.fill(0, 0, k * cols);
  const blocks = rows - (rows % 4);
  arena.run(
    'rowBlockNormalColumns',
    balancedRanges(blocks / 4, outs.length).map(([first, end], t) => [addressOf(a, 4 * first * cols), end - first, cols, addressOf(b), k, addressOf(rowsOut, 4 * first * k), addressOf(outs[t])]),
  );
  addPartials(outs, k * cols);
  if (blocks === rows) return;
  rowsOut.fill(0, blocks * k, rows * k);
  accumulateProduct(a.subarray(blocks * cols), rows - blocks, cols, b, 0, rowsOut.subarray(blocks * k), 0, k);
  addTailColumns(a, blocks, rows, cols, rowsOut, k, outs[0]);
}

/** Column l of out += Σ_r a_{i0+r}·v[i0 + r, l] for the four rows from i0, every l. */
function addBlockColumns(kernels: StoredKernelExports, a: Float64Array, i0: number, cols: number, v: Float64Array, k: number, outColumns: Float64Array): void {
  const block = addressOf(a, i0 * cols);
  const v0 = i0 * k;
  for (let l = 0; l < k; l++) {
    kernels.rowBlockTransposedAxpy(block, cols, v[v0 + l], v[v0 + k + l], v[v0 + 2 * k + l], v[v0 + 3 * k + l], addressOf(outColumns, l * cols));
  }
}

/** The same for the last rows (fewer than four), in JavaScript. */
function addTailColumns(a: Float64Array, from: number, rows: number, cols: number, v: Float64Array, k: number, outColumns: Float64Array): void {
  for (let i = from; i < rows; i++) {
    for (let l = 0; l < k; l++) {
      const w = v[i * k + l];
      const o = l * cols;
      for (let j = 0; j < cols; j++) outColumns[o + j] += a[i * cols + j] * w;
    }
  }
}
