// Cross kernel blocks k(x, y) of a radial kernel on the host by the Gram route
// ‖x − y‖² = ‖x‖² + ‖y‖² − 2x·y: four rows of x at a time against all of y, in WebAssembly SIMD
// where available. What predictions, projections and Nyström / FALKON products against stored
// points need.
import type { Matrix } from '@kvkit/tensor-core';
import { isRadialKernel, type Kernel, type RadialKernel } from '../kernels/kernel.js';
import { addressOf, SimdArena } from '../wasm/simd-arena.js';
import { columnsOf, dot, dotBetween, fourRowProducts, radialProfileFromProducts, ROW_BLOCK, squaredNorms } from './gram-loops.js';

/** True when cross products of this kernel run on the host by the Gram route (`radialCrossProduct`). */
export function usesHostGramRoute(kernel: Kernel, engine: unknown): kernel is RadialKernel {
  return (engine === undefined || engine === 'host') && isRadialKernel(kernel);
}

/**
 * K(x, y)·V (x.rows × V.cols) on the host for a radial kernel: four rows of x at a time, their
 * kernel rows in a 4 × y.rows buffer, then multiplied into the product (in WebAssembly with V
 * copied there once), so memory stays O(y.rows·V.cols) whatever x.rows is. Used for predictions
 * and projections against stored training points.
 */
export function radialCrossProduct(kernel: RadialKernel, x: Matrix, y: Matrix, v: Matrix): Matrix {
  const n = x.rows;
  const m = y.rows;
  const k = v.cols;
  const out = new Float64Array(n * k);
  const blocks = new CrossBlocks(kernel, x, y, k);
  const simd = blocks.simd;
  if (simd) {
    // V and a 4 × k output block live in the arena; each block's rows go to `out` when done.
    simd.v.set(v.data);
    for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
      const height = Math.min(ROW_BLOCK, n - i0);
      blocks.values(i0, height);
      if (k === 1) {
        simd.out.fill(0);
        simd.kernels.rowBlockDots(addressOf(blocks.buffer), m, addressOf(simd.v), addressOf(simd.out));
      } else {
        // The row-block kernel reads V row-major as its "transposed" operand: out = values · V.
        const at = (r: number) => addressOf(simd.out, r * k);
        simd.kernels.rowBlockProducts(addressOf(blocks.buffer), m, addressOf(simd.v), k, 0, k, at(0), at(1), at(2), at(3));
      }
      out.set(simd.out.subarray(0, height * k), i0 * k);
    }
    return { rows: n, cols: k, data: out };
  }
  const vd = v.data;
  for (let i0 = 0; i0 < n; i0 += ROW_BLOCK) {
    const height = Math.min(ROW_BLOCK, n - i0);
    const values = blocks.values(i0, height);
    for (let r = 0; r < height; r++) {
      const row = r * m;
      const o = (i0 + r) * k;
      for (let j = 0; j < m; j++) {
        const w = values[row + j];
        for (let l = 0; l < k; l++) out[o + l] += w * vd[j * k + l];
      }
    }
  }
  return { rows: n, cols: k, data: out };
}

/**
 * An evaluator of whole rows of k(x, y) on the host: `(r0, r1, out)` writes rows r0 ≤ i < r1 into
 * `out` (row-major, y.rows wide) — by the Gram route for radial kernels (WebAssembly SIMD where
 * available), else the kernel's own loop.
 */
export function hostKernelRows(kernel: Kernel, x: Matrix, y: Matrix, engine: unknown): (r0: number, r1: number, out: Float64Array) => void {
  if (usesHostGramRoute(kernel, engine)) return radialCrossRows(kernel, x, y);
  return (r0, r1, out) => kernel.evaluate(x, y, out, r0, r1, 0, y.rows);
}

/**
 * An evaluator of whole rows of k(x, y): `(r0, r1, out)` writes rows r0 ≤ i < r1 into `out`
 * (row-major, y.rows wide). One setup (y transposed into WebAssembly memory) serves every call.
 */
export function radialCrossRows(kernel: RadialKernel, x: Matrix, y: Matrix): (r0: number, r1: number, out: Float64Array) => void {
  const blocks = new CrossBlocks(kernel, x, y, 0);
  const m = y.rows;
  return (r0, r1, out) => {
    for (let i0 = r0; i0 < r1; i0 += ROW_BLOCK) {
      const height = Math.min(ROW_BLOCK, r1 - i0);
      out.set(blocks.values(i0, height).subarray(0, height * m), (i0 - r0) * m);
    }
  };
}

/** The SIMD side of CrossBlocks: kernels plus slots for V (m × k) and a 4 × k output block. */
interface CrossSimd {
  readonly kernels: SimdArena['kernels'];
  readonly v: Float64Array;
  readonly out: Float64Array;
}

/**
 * Four-row blocks of k(x, y) into `buffer` (4 × y.rows): the SIMD row-block products on y
 * transposed once into WebAssembly memory (a short last block padded with zero rows; the Gaussian
 * profile applied there too), else the JavaScript loops. `k` sizes the product slots of `simd`.
 */
class CrossBlocks {
  readonly buffer: Float64Array;
  readonly simd?: CrossSimd;
  private readonly yNorms: Float64Array;
  private readonly arena: SimdArena | null;

  constructor(
    private readonly kernel: RadialKernel,
    private readonly x: Matrix,
    private readonly y: Matrix,
    k: number,
  ) {
    const d = x.cols;
    const m = y.rows;
    this.arena = SimdArena.create([ROW_BLOCK * d, d * m, ROW_BLOCK * m, m, m * k, ROW_BLOCK * k]);
    this.buffer = this.arena ? this.arena.arrays[2] : new Float64Array(ROW_BLOCK * m);
    this.yNorms = squaredNorms(y, this.arena ? this.arena.arrays[3] : new Float64Array(m));
    if (this.arena) {
      const [, columns, , , v, out] = this.arena.arrays;
      columnsOf(y, columns);
      this.simd = { kernels: this.arena.kernels, v, out };
    }
  }

  /** Rows r < height of the buffer ← k(x_{i0+r}, y_j). */
  values(i0: number, height: number): Float64Array {
    const { x, y, buffer, arena } = this;
    const { cols: d, data: xd } = x;
    const m = y.rows;
    if (!arena) {
      if (height < ROW_BLOCK) {
        for (let r = 0; r < height; r++) for (let j = 0; j < m; j++) buffer[r * m + j] = dotBetween(xd, (i0 + r) * d, y.data, j * d, d);
      } else fourRowProducts(xd, i0 * d, y.data, d, 0, m, buffer, [0, m, 2 * m, 3 * m]);
      for (let r = 0; r < height; r++) this.profileRow(i0 + r, r);
      return buffer;
    }
    const [rows, columns] = arena.arrays;
    const at = (r: number) => addressOf(buffer, r * m);
    rows.fill(0).set(xd.subarray(i0 * d, (i0 + height) * d));
    arena.kernels.rowBlockProducts(addressOf(rows), d, addressOf(columns), m, 0, m, at(0), at(1), at(2), at(3));
    const gamma = this.kernel.gaussianGamma;
    for (let r = 0; r < height; r++) {
      if (gamma === undefined) this.profileRow(i0 + r, r);
      else arena.kernels.gaussianFromProducts(at(r), addressOf(this.yNorms), dot(xd, (i0 + r) * d, (i0 + r) * d, d), 0, m, gamma);
    }
    return buffer;
  }

  /** Buffer row r: products → kernel values in JavaScript, recomputing cancelled distances. */
  private profileRow(i: number, r: number): void {
    const { x, y, buffer, yNorms } = this;
    const { cols: d, data: xd } = x;
    const m = y.rows;
    radialProfileFromProducts(this.kernel.profile, buffer, r * m, 0, m, dot(xd, i * d, i * d, d), yNorms, xd, i * d, y.data, d);
  }
}
