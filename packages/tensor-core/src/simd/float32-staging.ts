import type { SimdArena } from './simd-arena.js';

/** f32 and u16 views of a whole arena buffer, made once per buffer (a view costs more than a small copy). */
const viewsByBuffer = new WeakMap<ArrayBufferLike, { f32: Float32Array; u16: Uint16Array }>();

function viewsOf(buffer: ArrayBufferLike): { f32: Float32Array; u16: Uint16Array } {
  let views = viewsByBuffer.get(buffer);
  if (!views) {
    views = { f32: new Float32Array(buffer, 0, buffer.byteLength >> 2), u16: new Uint16Array(buffer, 0, buffer.byteLength >> 1) };
    viewsByBuffer.set(buffer, views);
  }
  return views;
}

/**
 * Writes `length` floats of `rows` from element `start` into `arena`'s memory as f32 at byte `at`
 * (4-byte aligned): f32 rows copied as they are, f16 rows (their bit patterns, a Uint16Array)
 * through `stageF16` — one block copy and a SIMD pass instead of a table lookup per value.
 */
export function stageFloat32(arena: SimdArena<object>, rows: Float32Array | Uint16Array, start: number, length: number, at: number): void {
  if (rows instanceof Float32Array) {
    viewsOf(arena.arrays[0].buffer).f32.set(rows.subarray(start, start + length), at >> 2);
    return;
  }
  stageF16(arena, length, at, (staging, index) => staging.set(rows.subarray(start, start + length), index));
}

/**
 * `length` f16 values as f32 at byte `at` of the arena: `write(staging, index)` puts their bit
 * patterns at staging[index …] — the upper half of their f32 place — and the dense module's
 * `f16ToF32` converts them there, in place.
 */
export function stageF16(arena: SimdArena<object>, length: number, at: number, write: (staging: Uint16Array, index: number) => void): void {
  const staged = at + 2 * length;
  write(viewsOf(arena.arrays[0].buffer).u16, staged >> 1);
  arena.kernels.f16ToF32(staged, at, length);
}
