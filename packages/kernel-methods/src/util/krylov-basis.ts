import { addressOf, type DenseSimdKernels, SimdArena, type Matrix } from '@kvkit/tensor-core';
import { dotBetween } from '../operator/gram-loops.js';

/**
 * A Krylov basis of up to `capacity` vectors of length n, stored as consecutive rows so its
 * orthogonalization is two row-block passes: all dot products against the same w, then one
 * update (classical Gram–Schmidt, twice: DGKS, as ARPACK does). In WebAssembly memory with
 * tensor-core's SIMD `rowsDots` / `rowsAxpyInto` where available; JavaScript loops otherwise.
 */
export class KrylovBasis {
  private constructor(
    readonly n: number,
    private readonly rows: Float64Array,
    /** The vector being orthogonalized (in the arena, so the kernels can read it). */
    readonly w: Float64Array,
    private readonly coefficients: Float64Array,
    private readonly kernels: DenseSimdKernels | null,
    private readonly arena: SimdArena | null,
  ) {}

  static create(n: number, capacity: number): KrylovBasis {
    const lengths = [capacity * n, n, capacity];
    const arena = SimdArena.create(lengths);
    const [rows, w, coefficients] = arena ? arena.arrays : lengths.map((length) => new Float64Array(length));
    return new KrylovBasis(n, rows, w, coefficients, arena?.kernels ?? null, arena);
  }

  /** Basis vector i (a view: valid until the basis is disposed). */
  vector(i: number): Float64Array {
    return this.rows.subarray(i * this.n, (i + 1) * this.n);
  }

  /** w ← w − V Vᵀ w over the first `count` vectors, twice, the coefficients added into h. */
  orthogonalize(count: number, h: Float64Array): void {
    const { n, w, coefficients: c, kernels } = this;
    for (let pass = 0; pass < 2; pass++) {
      if (kernels) kernels.rowsDots(addressOf(this.rows), n, count, n, addressOf(w), -1, addressOf(c));
      else for (let i = 0; i < count; i++) c[i] = -dotBetween(this.rows, i * n, w, 0, n);
      for (let i = 0; i < count; i++) h[i] -= c[i];
      if (kernels) kernels.rowsAxpyInto(addressOf(this.rows), n, count, n, addressOf(c), addressOf(w));
      else for (let i = 0; i < count; i++) if (c[i] !== 0) for (let r = 0; r < n; r++) w[r] += c[i] * this.rows[i * n + r];
    }
  }

  /** Y = V·S[:, :count] over the first `size` vectors (S size×size row-major; Y n×count, row-major). */
  ritzVectors(s: Float64Array, size: number, count: number): Matrix {
    const { n } = this;
    const out = new Float64Array(n * count);
    for (let l = 0; l < size; l++) {
      const offset = l * n;
      for (let i = 0; i < count; i++) {
        const c = s[l * size + i];
        if (c === 0) continue;
        for (let r = 0; r < n; r++) out[r * count + i] += c * this.rows[offset + r];
      }
    }
    return { rows: n, cols: count, data: out };
  }

  /** Vectors 0..count−1 become Y's columns, and vector `count` a copy of vector `from` (a thick restart). */
  restart(y: Matrix, from: number): void {
    const { n } = this;
    this.rows.copyWithin(y.cols * n, from * n, (from + 1) * n);
    for (let i = 0; i < y.cols; i++) for (let r = 0; r < n; r++) this.rows[i * n + r] = y.data[r * y.cols + i];
  }

  /** Done: the arena's memory goes back for reuse (no view of a vector may be used after). */
  dispose(): void {
    this.arena?.dispose();
  }
}
