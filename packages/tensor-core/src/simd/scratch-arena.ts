import { SimdArena, simdKernelsEnabled } from './simd-arena.js';

// Work areas up to this many float64 values (8 MiB) share one kept scratch arena, so a call does
// not pay for a fresh WebAssembly memory and instance (≈ 0.2 ms, more than a 48³ product); larger
// ones get their own, whose setup their work dwarfs.
const SCRATCH_VALUES = 2 ** 20;
let scratch: SimdArena | null = null;

/**
 * A float64 area of at least `length` values with the dense kernels bound to it (arrays[0]): the
 * shared scratch arena or a one-off one; null where SIMD is off or unavailable. The shared area is
 * reused by the next caller, so its contents are only valid until the caller returns.
 */
export function scratchArena(length: number): SimdArena | null {
  if (length > SCRATCH_VALUES) return SimdArena.create([length]);
  if (!simdKernelsEnabled()) return null;
  scratch ??= SimdArena.create([SCRATCH_VALUES]);
  return scratch;
}
