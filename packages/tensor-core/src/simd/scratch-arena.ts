import { type DenseSimdKernels, SimdArena, simdKernelsEnabled } from './simd-arena.js';

// Work areas up to this many float64 values (8 MiB) share one kept scratch arena, so a call does
// not pay for a fresh WebAssembly memory and instance (≈ 0.2 ms, more than a 48³ product); larger
// ones get their own, whose setup their work dwarfs.
const SCRATCH_VALUES = 2 ** 20;
let scratch: SimdArena | null = null;

/** A float64 area of at least `length` values: the shared scratch arena or a one-off one. */
function scratchArena(length: number): SimdArena | null {
  if (length > SCRATCH_VALUES) return SimdArena.create([length]);
  if (!simdKernelsEnabled()) return null;
  scratch ??= SimdArena.create([SCRATCH_VALUES]);
  return scratch;
}

/**
 * One float64 view of each length, each starting on a 16-byte boundary, in WebAssembly memory with
 * the dense kernels bound to it: in the shared scratch arena while they fit it, else a one-off
 * arena; null where SIMD is off or unavailable. The shared areas are reused by the next caller, so
 * their contents are only valid until the caller returns.
 */
export function scratchAreas(lengths: number[]): { kernels: DenseSimdKernels; areas: Float64Array[] } | null {
  const even = (count: number) => count + (count % 2);
  const arena = scratchArena(lengths.reduce((total, length) => total + even(length), 0));
  if (!arena) return null;
  let start = 0;
  const areas = lengths.map((length) => {
    const view = arena.arrays[0].subarray(start, start + length);
    start += even(length);
    return view;
  });
  return { kernels: arena.kernels, areas };
}
