import type { SimdArena } from './simd-arena.js';

/**
 * Writes `length` floats of `rows` from element `start` into `arena`'s memory as f32 at byte `at`
 * (4-byte aligned): f32 rows copied as they are, f16 rows (their bit patterns, a Uint16Array)
 * copied into the upper half of their f32 place and converted there by the dense module's
 * `f16ToF32` — one block copy and a SIMD pass instead of a table lookup per value.
 */
export function stageFloat32(arena: SimdArena<object>, rows: Float32Array | Uint16Array, start: number, length: number, at: number): void {
  const { buffer } = arena.arrays[0];
  if (rows instanceof Float32Array) {
    new Float32Array(buffer, at, length).set(rows.subarray(start, start + length));
    return;
  }
  const staged = at + 2 * length;
  new Uint16Array(buffer, staged, length).set(rows.subarray(start, start + length));
  arena.kernels.f16ToF32(staged, at, length);
}
