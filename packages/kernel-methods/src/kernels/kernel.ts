import type { Matrix, Tensor } from '@kvkit/tensor-core';

/** A kernel's name and parameters as plain JSON: what `toJSON()` gives and `kernelFromJSON` reads. */
export interface KernelSpec {
  readonly name: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/**
 * A positive semidefinite kernel k(x, y) on points in R^d (rows of a Matrix). Kernels are
 * immutable values; estimators store them and serialize them with `toJSON()`.
 */
export interface Kernel {
  readonly name: string;
  readonly params: Readonly<Record<string, unknown>>;
  /**
   * Writes k(x_i, y_j) for rows i in [rowStart, rowEnd) of x and j in [colStart, colEnd) of y into
   * `out`, row-major with row stride colEnd − colStart. Float64, on the host.
   */
  evaluate(x: Matrix, y: Matrix, out: Float64Array, rowStart: number, rowEnd: number, colStart: number, colEnd: number): void;
  /** k(x_i, x_i) for every row of x. */
  diagonal(x: Matrix): Float64Array;
  /**
   * The block k(x, y) ([bx, d] × [by, d] → [bx, by]) built from tensor-core operations, so it runs
   * on whatever backend holds x and y (CPU, WebGPU, CUDA), in their dtype. Absent for kernels
   * without an elementwise formula (general-ν Matérn, precomputed).
   */
  tensorBlock?(x: Tensor, y: Tensor): Tensor;
  /**
   * Fixed dimension of the points (precomputed kernels: 1, an index column); undefined when any
   * dimension works.
   */
  readonly inputDim?: number;
  toJSON(): KernelSpec;
}

/** A kernel that depends on the points only through ‖x − y‖² (so its Stein kernel has a closed form). */
export interface RadialKernel extends Kernel {
  readonly radial: true;
  /** f(r²) with k(x, y) = f(‖x − y‖²). */
  profile(squaredDistance: number): number;
  /**
   * [f(s), f′(s), f″(s)] at s = r² (derivatives with respect to s); throws for kernels not twice
   * differentiable at s = 0 (Matérn ν = 1/2).
   */
  profileDerivatives?(squaredDistance: number): [number, number, number];
  /** γ when the profile is exactly exp(−γs) (the Gaussian kernel): the SIMD loops evaluate it in place. */
  readonly gaussianGamma?: number;
}

export function isRadialKernel(kernel: Kernel): kernel is RadialKernel {
  return (kernel as Partial<RadialKernel>).radial === true;
}

/** The full block k(x, y) as a new matrix (x.rows × y.rows). */
export function kernelBlock(kernel: Kernel, x: Matrix, y: Matrix): Matrix {
  const out = new Float64Array(x.rows * y.rows);
  kernel.evaluate(x, y, out, 0, x.rows, 0, y.rows);
  return { rows: x.rows, cols: y.rows, data: out };
}
