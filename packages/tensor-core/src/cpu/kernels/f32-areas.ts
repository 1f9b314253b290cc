import type { SimdArena } from '../../simd/simd-arena.js';

/**
 * Consecutive f32 views of a kept arena's memory, one per length, each starting on a 16-byte
 * boundary (every length is rounded up to a multiple of 4): the operand, state and output areas
 * of the CPU's recurrent SIMD kernels.
 */
export function f32Areas(arena: SimdArena<object>, lengths: number[]): Float32Array[] {
  const { buffer, byteOffset } = arena.arrays[0];
  let at = byteOffset;
  return lengths.map((length) => {
    const view = new Float32Array(buffer, at, length);
    at += 4 * (Math.ceil(length / 4) * 4);
    return view;
  });
}

/** Bytes `f32Areas` takes for these lengths. */
export const f32AreaBytes = (lengths: number[]): number => lengths.reduce((total, length) => total + 4 * Math.ceil(length / 4) * 4, 0);
