import type { SimdArena } from '@kvkit/tensor-core';

/**
 * A kept arena, its kernels, the byte address where its array starts (`base`) and views of its
 * bytes from there: the value at byte address a is f64[(a − base) / 8], f32/i32/u32[(a − base) / 4].
 */
export interface ArenaViews<Kernels extends object> {
  arena: SimdArena<Kernels>;
  kernels: Kernels;
  base: number;
  f64: Float64Array;
  f32: Float32Array;
  i32: Int32Array;
  u32: Uint32Array;
}

/** The views of `arena` (for `keptModuleViews`, which makes them once per kept arena). */
export function arenaViews<Kernels extends object>(arena: SimdArena<Kernels>): ArenaViews<Kernels> {
  const f64 = arena.arrays[0];
  const { buffer, byteOffset, length } = f64;
  return {
    arena,
    kernels: arena.kernels,
    base: byteOffset,
    f64,
    f32: new Float32Array(buffer, byteOffset, 2 * length),
    i32: new Int32Array(buffer, byteOffset, 2 * length),
    u32: new Uint32Array(buffer, byteOffset, 2 * length),
  };
}
