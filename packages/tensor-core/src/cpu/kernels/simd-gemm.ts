// The CPU backend's f32 products A·Bᵀ in WebAssembly SIMD: operands copied into a kept arena a chunk
// at a time (whole rows: one copy each), or B read in place where it lives in a WeightPool
// (weight-pool.ts); float64 sums (`gemm-f32.wat`) or f32 sums (`gemm-f32-sums.wat`, matmul's
// `accumulate: 'f32'`), each in gemm.ts's order. Either operand may be f16 or bf16 (half-precision
// weights beside f32 activations): widened exactly where it is copied, or read in place by the
// one-row kernel from a WeightPool.
import { bf16ArrayToF32, f16ArrayToF32 } from '../../float16.js';
import type { ProductSums } from '../../ops/matmul.js';
import { type SimdArena, simdKernelsEnabled } from '../../simd/simd-arena.js';
import { balancedRanges } from '../../simd/work-split.js';
import { keptModuleViews } from '../../simd/scratch-arena.js';
import gemmF32Wasm from './gemm-f32.wat';
import gemmF32SumsWasm from './gemm-f32-sums.wat';

/** Both product modules, bound on one memory (the kept arena's and every WeightPool's). */
export const GEMM_MODULES: readonly Uint8Array[] = [gemmF32Wasm, gemmF32SumsWasm];

export interface GemmF32Kernels {
  /** C (row stride ldc) = A·Bᵀ for f32 A (m × k, m a multiple of 4), B (n × k, n even); byte addresses. */
  gemmNTf32(a: number, b: number, c: number, m: number, n: number, k: number, ldc: number): void;
  /** C[j] = A·B[j] for one f32 row A (k floats) and n rows of B (n ≥ 4), in gemmNTf32's order. */
  gemvNTf32(a: number, b: number, c: number, n: number, k: number): void;
  /**
   * gemvNTf32 for n rows of half-precision B (bit patterns; f16 = 1 for f16, 0 for bf16): its values
   * for B widened to f32. A's row goes times `scale` into the float64 scratch `xs` (8·(k + 1) bytes).
   */
  gemvNTHalf(a: number, xs: number, b: number, c: number, n: number, k: number, f16: number, scale: number): void;
  /** `count` half-precision bit patterns at `src` widened exactly to f32 at `dst` (f16 = 1 for f16, 0 for bf16). */
  widenHalf(src: number, dst: number, count: number, f16: number, scale: number): void;
  /** gemmNTf32 summed in four f32 lanes (gemm-f32-sums.wat). */
  gemmNTF32Sums(a: number, b: number, c: number, m: number, n: number, k: number, ldc: number): void;
  /** gemvNTf32 summed in four f32 lanes: a row of gemmNTF32Sums's values. */
  gemvNTF32Sums(a: number, b: number, c: number, n: number, k: number): void;
  /** gemvNTF32Sums for n rows of half-precision B read in place (f16 and scale as for gemvNTHalf; no scratch). */
  gemvNTHalfF32Sums(a: number, b: number, c: number, n: number, k: number, f16: number, scale: number): void;
}

/** The bit patterns of an f16 or bf16 operand (row-major, as its tensor stores them). */
export interface HalfRows {
  bits: Uint16Array;
  dtype: 'f16' | 'bf16';
}

/** An operand of the SIMD products: f32 values or half-precision bits. */
export type ProductOperand = Float32Array | HalfRows;

/**
 * The kernels' flag and scale for each half-precision dtype (see gemm-f32.wat): bf16 is f32's top
 * half; f16 is placed with its exponent 112 short, which the scale makes up.
 */
const HALF_LAYOUT = {
  bf16: { f16: 0, scale: 1 },
  f16: { f16: 1, scale: 2 ** 112 },
} as const;

/** `count` values of `src` from element `from`, as f32 into `dst` at `at` (half precision widened exactly, in JavaScript). */
function copyRows(src: ProductOperand, from: number, count: number, dst: Float32Array, at: number): void {
  if (src instanceof Float32Array) dst.set(src.subarray(from, from + count), at);
  else (src.dtype === 'f16' ? f16ArrayToF32 : bf16ArrayToF32)(src.bits.subarray(from, from + count), dst.subarray(at, at + count));
}

/**
 * copyRows into the kept arena's B area, half precision widened by the kernels: its bits copied
 * (a plain byte copy) just past the `count` floats, into C's area, which is free while B is copied.
 */
function copyRowsToB(src: ProductOperand, from: number, count: number, areas: GemmAreas): void {
  if (src instanceof Float32Array) return copyRows(src, from, count, areas.b, 0);
  const staging = areas.b.byteOffset + 4 * count;
  new Uint8Array(areas.b.buffer, staging, 2 * count).set(new Uint8Array(src.bits.buffer, src.bits.byteOffset + 2 * from, 2 * count));
  const layout = HALF_LAYOUT[src.dtype];
  areas.kernels.widenHalf(staging, areas.b.byteOffset, count, layout.f16, layout.scale);
}

/** Floats of the arena's areas for A's rows, B's rows and the product (2, 4 and 4 MiB). */
export const GEMM_A_FLOATS = 2 ** 19;
const B_FLOATS = 2 ** 20;
export const GEMM_C_FLOATS = 2 ** 20;

/** The product kernels by export name (what a thread is told to run). */
type GemmKernelName = keyof GemmF32Kernels;

/**
 * Where a product runs: kernels and scratch areas for A's rows and the product, and, for a threaded
 * WeightPool, its threads: `run` calls one kernel per thread at once, thread t with args[t] (null:
 * it sits out), as `SimdArena.run` does; `threads` counts them (1 elsewhere).
 */
export interface ProductPlace {
  kernels: GemmF32Kernels;
  a: Float32Array;
  c: Float32Array;
  threads: number;
  run?(name: GemmKernelName, args: Array<number[] | null>): void;
}

/** Fewest multiply-adds worth a thread (2^16 and 2^17 measured alike on kvkit-tiny's prefill). */
const MIN_THREAD_WORK = 2 ** 17;

/**
 * Fewest multiply-adds for which a one-row product (a decode step's) splits among the threads. It is
 * bound by reading its matrix, and below this the hand-off costs more than a second thread's reads
 * gain: on 2 vCPUs 1024 × 1024 ran at 0.45–0.55× and 2048 × 1024 at 0.8–1.04× split, 3072 × 1024 at
 * 1.24–1.46× and a 151,936 × 1024 LM head at 1.7× (kvkit-tiny's products are all below: decode split
 * them at 5–13% slower).
 */
const MIN_ROW_SPLIT_WORK = 3 * 2 ** 20;

/**
 * Kernel `name` over B's rows [0, n), split among the place's threads in parts of whole 4-row
 * blocks (the last part takes what is left); `args(j0, width)` are the kernel's arguments for rows
 * [j0, j0 + width). Each output is one kernel's sum whatever the split: the same values on any
 * number of threads.
 */
function overRowParts(place: ProductPlace, name: GemmKernelName, n: number, work: number, args: (j0: number, width: number) => number[]): void {
  const blocks = Math.floor(n / 4);
  const parts = Math.min(place.threads, blocks, Math.floor(work / MIN_THREAD_WORK));
  if (parts <= 1 || !place.run) return (place.kernels[name] as (...values: number[]) => void)(...args(0, n));
  // `parts` ranges for the first threads; the others sit this product out
  const lists: Array<number[] | null> = balancedRanges(blocks, parts).map(([from, to]) => args(4 * from, (to === blocks ? n : 4 * to) - 4 * from));
  while (lists.length < place.threads) lists.push(null);
  place.run(name, lists);
}

/** Resident places by the WebAssembly memory buffer of their pool's weights. */
const residentPlaces = new WeakMap<ArrayBufferLike, ProductPlace>();

/** Lets products find a WeightPool's kernels from the buffer its arrays view. */
export function registerResidentPlace(buffer: ArrayBufferLike, place: ProductPlace): void {
  residentPlaces.set(buffer, place);
}

/** Below this many multiply-adds the copies cost more than the SIMD loop saves. */
const MIN_WORK = 4096;

interface GemmAreas extends ProductPlace {
  b: Float32Array;
}

/** The kept arena's f32 areas for A's rows, B's rows and the product, one after another. */
function gemmAreas(arena: SimdArena<GemmF32Kernels>): GemmAreas {
  const { buffer, byteOffset } = arena.arrays[0];
  const a = new Float32Array(buffer, byteOffset, GEMM_A_FLOATS);
  const b = new Float32Array(buffer, a.byteOffset + 4 * GEMM_A_FLOATS, B_FLOATS);
  const c = new Float32Array(buffer, b.byteOffset + 4 * B_FLOATS, GEMM_C_FLOATS);
  return { kernels: arena.kernels, a, b, c, threads: 1 };
}

/**
 * C[m,n] = A[m,k]·B[n,k]ᵀ for f32 (or half-precision, see ProductOperand) A and B and f32 C by the
 * SIMD kernel; false (C untouched) where it does not apply: other array types, tiny products, rows
 * longer than the areas, SIMD off or unavailable. A B in a WeightPool is read in place (an f32 one
 * with an even row count; a half-precision one for a single row of A); any other B is copied (and
 * widened) into the kept arena a chunk of rows at a time.
 */
export function simdGemmNT(
  a: ProductOperand | Float64Array,
  aOff: number,
  b: ProductOperand | Float64Array,
  bOff: number,
  c: Float32Array | Float64Array,
  cOff: number,
  m: number,
  n: number,
  k: number,
  sums: ProductSums = 'f64',
): boolean {
  if (a instanceof Float64Array || b instanceof Float64Array || !(c instanceof Float32Array)) return false;
  if (m * n * k < MIN_WORK || k === 0 || 4 * k > GEMM_A_FLOATS || 2 * k > B_FLOATS) return false;
  // A·bᵀ for a single row b (W·xᵀ) is bᵀ's row times Aᵀ laid out alike ([m, 1] and [1, m] share a
  // layout), each output the same products in the same order: the one-row kernel, not 4 × 2 blocks
  // whose second column is padding.
  if (n === 1 && m > 1) return simdGemmNT(b, bOff, a, aOff, c, cOff, 1, m, k, sums);
  if (!(b instanceof Float32Array)) {
    if (m === 1 && residentHalfRow(a, aOff, b, bOff, c, cOff, n, k, sums)) return true;
  }
  // in place only when C's area holds four rows of n (a whole B per chunk)
  const resident = b instanceof Float32Array && n % 2 === 0 && 4 * n <= GEMM_C_FLOATS && simdKernelsEnabled() ? residentPlaces.get(b.buffer) : undefined;
  const copied = resident ? null : keptModuleViews(GEMM_MODULES, 4 * (GEMM_A_FLOATS + B_FLOATS + GEMM_C_FLOATS), gemmAreas);
  const place = resident ?? copied;
  if (!place) return false;
  const gemm: GemmKernelName = sums === 'f32' ? 'gemmNTF32Sums' : 'gemmNTf32';
  const gemvName: GemmKernelName = sums === 'f32' ? 'gemvNTF32Sums' : 'gemvNTf32';
  const gemv = place.kernels[gemvName];
  const address = (view: Float32Array) => view.byteOffset;
  // Chunks: B's rows (an even count; all of a resident B) as many as fit, then A's (a multiple of
  // four) within A's and C's areas.
  const bRows = resident ? n : Math.min(2 * Math.ceil(n / 2), 2 * Math.floor(B_FLOATS / (2 * k)));
  const aRows = Math.min(4 * Math.ceil(m / 4), 4 * Math.floor(Math.min(GEMM_A_FLOATS / k, GEMM_C_FLOATS / bRows) / 4));
  if (aRows === 0) return false;
  for (let j0 = 0; j0 < n; j0 += bRows) {
    const width = Math.min(bRows, n - j0);
    const even = width + (width % 2);
    let bAt = resident ? (b as Float32Array).byteOffset + 4 * (bOff + j0 * k) : 0;
    if (copied) {
      copyRowsToB(b, bOff + j0 * k, width * k, copied);
      if (even > width) copied.b.fill(0, width * k, even * k);
      bAt = address(copied.b);
    }
    for (let i0 = 0; i0 < m; i0 += aRows) {
      const height = Math.min(aRows, m - i0);
      copyRows(a, aOff + i0 * k, height * k, place.a, 0);
      // Blocks of four rows; a last single row (x·Wᵀ for one x) by the one-row kernel (four or more
      // rows of B), ≈ 2× faster than a block padded with three zero rows; two or three last rows
      // padded to a block, which beats one pass over B per row. The same values either way.
      const single = height % 4 === 1 && even >= 4;
      const blocked = single ? height - 1 : 4 * Math.ceil(height / 4);
      if (blocked > height) place.a.fill(0, height * k, blocked * k);
      const [aAt, cAt] = [address(place.a), address(place.c)];
      if (blocked > 0) overRowParts(place, gemm, even, blocked * even * k, (j0, w) => [aAt, bAt + 4 * j0 * k, cAt + 4 * j0, blocked, w, k, even]);
      if (single) {
        const [x, out] = [aAt + 4 * blocked * k, cAt + 4 * blocked * even];
        if (even * k >= MIN_ROW_SPLIT_WORK) overRowParts(place, gemvName, even, even * k, (j0, w) => [x, bAt + 4 * j0 * k, out + 4 * j0, w, k]);
        else gemv(x, bAt, out, even, k);
      }
      const product = place.c;
      if (width === 1) {
        for (let i = 0; i < height; i++) c[cOff + (i0 + i) * n + j0] = product[i * even];
      } else {
        for (let i = 0; i < height; i++) c.set(product.subarray(i * even, i * even + width), cOff + (i0 + i) * n + j0);
      }
    }
  }
  return true;
}

/** One row times one matrix of a stack: c[cOff..cOff+n) = a[aOff..aOff+k) · B[bOff + j·k ..]ᵀ for the n rows of B from bOff. */
export interface RowProduct {
  aOff: number;
  bOff: number;
  cOff: number;
}

/**
 * Several one-row products, each against n rows of one operand B that lives in a threaded
 * WeightPool (a decode step's chosen experts), run side by side on the pool's threads, one product
 * per thread per hand-off, each by the one-row kernel over all its rows: the values `simdGemmNT`
 * gives each product alone (its row splits never change a sum). A product alone is split by rows
 * only from 3·2^20 multiply-adds (MIN_ROW_SPLIT_WORK); side by side, products below that use every
 * thread too, with one hand-off for all. False (C untouched) where B is not in such a pool, or a
 * product does not fit the areas: the caller runs them one at a time.
 */
export function simdGemvEach(a: Float32Array, b: ProductOperand, n: number, k: number, products: readonly RowProduct[], c: Float32Array, sums: ProductSums = 'f64'): boolean {
  if (!simdKernelsEnabled() || products.length < 2 || k === 0 || n < 4) return false;
  const half = b instanceof Float32Array ? undefined : b;
  const place = residentPlaces.get(half ? half.bits.buffer : (b as Float32Array).buffer);
  if (!place?.run || place.threads < 2) return false;
  // A's row and (half precision, float64 sums) its float64 copy on 16 bytes; f32 rows come in even counts.
  const rowFloats = 4 * Math.ceil(k / 4);
  const aFloats = 4 * Math.ceil((rowFloats + (half && sums === 'f64' ? 2 * (k + 1) : 0)) / 4);
  const threads = place.threads;
  if (threads * aFloats > GEMM_A_FLOATS || threads * n > GEMM_C_FLOATS || (!half && n % 2 !== 0)) return false;
  const name: GemmKernelName = half ? (sums === 'f32' ? 'gemvNTHalfF32Sums' : 'gemvNTHalf') : sums === 'f32' ? 'gemvNTF32Sums' : 'gemvNTf32';
  const layout = half && HALF_LAYOUT[half.dtype];
  const bBase = half ? half.bits.byteOffset : (b as Float32Array).byteOffset;
  const bytes = half ? 2 : 4;
  for (let first = 0; first < products.length; first += threads) {
    const round = products.slice(first, first + threads);
    const args = round.map((p, t): number[] => {
      const aAt = place.a.byteOffset + 4 * t * aFloats;
      copyRows(a, p.aOff, k, place.a, t * aFloats);
      const [bAt, cAt] = [bBase + bytes * p.bOff, place.c.byteOffset + 4 * t * n];
      if (!layout) return [aAt, bAt, cAt, n, k];
      return sums === 'f32' ? [aAt, bAt, cAt, n, k, layout.f16, layout.scale] : [aAt, aAt + 4 * rowFloats, bAt, cAt, n, k, layout.f16, layout.scale];
    });
    place.run(name, [...args, ...Array<null>(threads - round.length).fill(null)]);
    round.forEach((p, t) => c.set(place.c.subarray(t * n, t * n + n), p.cOff));
  }
  return true;
}

/**
 * One row of A times a half-precision B that lives in a WeightPool, read in place by gemvNTHalf or
 * gemvNTHalfF32Sums (their values are gemvNTf32's or gemvNTF32Sums's on B widened); false where B
 * is elsewhere or the areas are too small.
 */
function residentHalfRow(a: ProductOperand, aOff: number, b: HalfRows, bOff: number, c: Float32Array, cOff: number, n: number, k: number, sums: ProductSums): boolean {
  // A's row, then its float64 copy on 16 bytes, in A's area; four outputs at least, all in C's area.
  const xsFloats = 4 * Math.ceil(k / 4);
  if (n < 4 || n > GEMM_C_FLOATS || xsFloats + 2 * (k + 1) > GEMM_A_FLOATS || !simdKernelsEnabled()) return false;
  const place = residentPlaces.get(b.bits.buffer);
  if (!place) return false;
  copyRows(a, aOff, k, place.a, 0);
  const layout = HALF_LAYOUT[b.dtype];
  const bAt = b.bits.byteOffset + 2 * bOff;
  if (sums === 'f32') place.kernels.gemvNTHalfF32Sums(place.a.byteOffset, bAt, place.c.byteOffset, n, k, layout.f16, layout.scale);
  else place.kernels.gemvNTHalf(place.a.byteOffset, place.a.byteOffset + 4 * xsFloats, bAt, place.c.byteOffset, n, k, layout.f16, layout.scale);
  c.set(place.c.subarray(0, n), cOff);
  return true;
}
