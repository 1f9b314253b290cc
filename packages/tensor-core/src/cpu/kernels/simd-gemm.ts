// The CPU backend's f32 products A·Bᵀ in WebAssembly SIMD (`gemm-f32.wat`): operands copied into a
// kept arena a chunk at a time (whole rows: one copy each), float64 sums in gemm.ts's order.
import type { SimdArena } from '../../simd/simd-arena.js';
import { keptModuleViews } from '../../simd/scratch-arena.js';
import gemmF32Wasm from './gemm-f32.wat';

interface GemmF32Kernels {
  /** C (row stride ldc) = A·Bᵀ for f32 A (m × k, m a multiple of 4), B (n × k, n even); byte addresses. */
  gemmNTf32(a: number, b: number, c: number, m: number, n: number, k: number, ldc: number): void;
  /** C[j] = A·B[j] for one f32 row A (k floats) and n rows of B (n even), in gemmNTf32's order. */
  gemvNTf32(a: number, b: number, c: number, n: number, k: number): void;
}

/** Floats of the arena's areas for A's rows, B's rows and the product (2, 4 and 4 MiB). */
const A_FLOATS = 2 ** 19;
const B_FLOATS = 2 ** 20;
const C_FLOATS = 2 ** 20;
/** Below this many multiply-adds the copies cost more than the SIMD loop saves. */
const MIN_WORK = 4096;

interface GemmAreas {
  kernels: GemmF32Kernels;
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
}

/** The kept arena's f32 areas for A's rows, B's rows and the product, one after another. */
function gemmAreas(arena: SimdArena<GemmF32Kernels>): GemmAreas {
  const { buffer, byteOffset } = arena.arrays[0];
  const a = new Float32Array(buffer, byteOffset, A_FLOATS);
  const b = new Float32Array(buffer, a.byteOffset + 4 * A_FLOATS, B_FLOATS);
  const c = new Float32Array(buffer, b.byteOffset + 4 * B_FLOATS, C_FLOATS);
  return { kernels: arena.kernels, a, b, c };
}

/**
 * C[m,n] = A[m,k]·B[n,k]ᵀ for f32 A, B and C by the SIMD kernel; false (C untouched) where it does
 * not apply: other array types, tiny products, rows longer than the areas, SIMD off or unavailable.
 */
export function simdGemmNT(a: Float32Array | Float64Array, aOff: number, b: Float32Array | Float64Array, bOff: number, c: Float32Array | Float64Array, cOff: number, m: number, n: number, k: number): boolean {
  if (!(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array)) return false;
  if (m * n * k < MIN_WORK || k === 0 || 4 * k > A_FLOATS || 2 * k > B_FLOATS) return false;
  // A·bᵀ for a single row b (W·xᵀ) is bᵀ's row times Aᵀ laid out alike ([m, 1] and [1, m] share a
  // layout), each output the same products in the same order: the one-row kernel, not 4 × 2 blocks
  // whose second column is padding.
  if (n === 1 && m > 1) return simdGemmNT(b, bOff, a, aOff, c, cOff, 1, m, k);
  const simd = keptModuleViews(gemmF32Wasm, 4 * (A_FLOATS + B_FLOATS + C_FLOATS), gemmAreas);
  if (!simd) return false;
  const address = (view: Float32Array) => view.byteOffset;
  // Chunks: B's rows (an even count) as many as fit, then A's (a multiple of four) within A's and C's areas.
  const bRows = Math.min(2 * Math.ceil(n / 2), 2 * Math.floor(B_FLOATS / (2 * k)));
  const aRows = Math.min(4 * Math.ceil(m / 4), 4 * Math.floor(Math.min(A_FLOATS / k, C_FLOATS / bRows) / 4));
  if (aRows === 0) return false;
  for (let j0 = 0; j0 < n; j0 += bRows) {
    const width = Math.min(bRows, n - j0);
    const even = width + (width % 2);
    simd.b.set(b.subarray(bOff + j0 * k, bOff + (j0 + width) * k));
    if (even > width) simd.b.fill(0, width * k, even * k);
    for (let i0 = 0; i0 < m; i0 += aRows) {
      const height = Math.min(aRows, m - i0);
      simd.a.set(a.subarray(aOff + i0 * k, aOff + (i0 + height) * k));
      // Blocks of four rows; a last single row (x·Wᵀ for one x) by the one-row kernel, ≈ 2× faster
      // than a block padded with three zero rows; two or three last rows padded to a block, which
      // beats one pass over B per row. The same values either way.
      const single = height % 4 === 1;
      const blocked = single ? height - 1 : 4 * Math.ceil(height / 4);
      if (blocked > height) simd.a.fill(0, height * k, blocked * k);
      if (blocked > 0) simd.kernels.gemmNTf32(address(simd.a), address(simd.b), address(simd.c), blocked, even, k, even);
      if (single) simd.kernels.gemvNTf32(address(simd.a) + 4 * blocked * k, address(simd.b), address(simd.c) + 4 * blocked * even, even, k);
      const product = simd.c;
      if (width === 1) {
        for (let i = 0; i < height; i++) c[cOff + (i0 + i) * n + j0] = product[i * even];
      } else {
        for (let i = 0; i < height; i++) c.set(product.subarray(i * even, i * even + width), cOff + (i0 + i) * n + j0);
      }
    }
  }
  return true;
}
