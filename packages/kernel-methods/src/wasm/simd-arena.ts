import { type DenseSimdKernels, SimdArena as CoreSimdArena } from '@kvkit/tensor-core';
import storedKernelWasm from './stored-kernel.wat';

/** The functions of stored-kernel.wat; every pointer is a byte address in the arena's memory. */
export interface StoredKernelOnly {
  /** Rows [from, to) of the packed product out += A·v (from a multiple of 4; to one too, or n). */
  packedMatvecRows(a: number, n: number, v: number, out: number, from: number, to: number): void;
  /** Rows [from, to) of the packed block product out += A·V (V and out n × k row-major, k even). */
  packedBlockRows(a: number, n: number, v: number, k: number, out: number, from: number, to: number): void;
  /** Rows [from, to) of a packed Gram matrix made Gaussian in place (diagonal 1). */
  gaussianRows(a: number, norms: number, n: number, from: number, to: number, gamma: number): void;
  gaussianFromProducts(row: number, norms: number, ni: number, j0: number, j1: number, gamma: number): void;
  /**
   * Rows [from, to) of a block of cross dot products (row i at a + 8·i·ld, m columns) made Gaussian in
   * place (rowNorms: the rows' squared norms), row i on columns j < min(m, diagonal + i + 1): all m
   * for diagonal ≥ m, a lower triangle of K(x, x) for the block's first row `diagonal`.
   */
  gaussianCrossRows(a: number, ld: number, rowNorms: number, norms: number, m: number, diagonal: number, from: number, to: number, gamma: number): void;
}

/** tensor-core's dense SIMD kernels plus this package's stored-kernel loops, on one memory. */
export type StoredKernelExports = DenseSimdKernels & StoredKernelOnly;

/** An arena (tensor-core's `SimdArena`) with the stored-kernel module instantiated on it too. */
export type SimdArena = CoreSimdArena<StoredKernelOnly>;

export const SimdArena = {
  /** One zeroed float64 array of each length in WebAssembly memory, or null (use the JavaScript loops). */
  create(lengths: number[], options: { threads?: boolean } = {}): SimdArena | null {
    return CoreSimdArena.create<StoredKernelOnly>(lengths, storedKernelWasm, options);
  },
};

export { addressOf, setSimdKernels, simdThreadCount } from '@kvkit/tensor-core';
