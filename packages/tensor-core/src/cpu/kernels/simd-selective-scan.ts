// The CPU backend's `selectiveScan` in WebAssembly SIMD (`selective-scan-f32.wat`): the state is
// copied into a kept arena once per call, the rows pass through it a chunk at a time, and the
// state is copied back out. f32 throughout, as on the GPUs (the JavaScript loop it replaces takes
// its products in float64).
import { keptModuleArena } from '../../simd/scratch-arena.js';
import type { Tensor } from '../../tensor.js';
import { type NumberArray, readFloat32Into } from '../host-data.js';
import { f32AreaBytes, f32Areas } from './f32-areas.js';
import selectiveScanF32Wasm from './selective-scan-f32.wat';

interface SelectiveScanKernels {
  selectiveScanF32(
    x: number, steps: number, decays: number, b: number, c: number, state: number, y: number,
    n: number, heads: number, headDim: number, groups: number, dState: number, h0: number, h1: number,
  ): void;
}

/** Values per chunk of rows (x, y, steps, decays, b and c together: 4 MiB of f32). */
const CHUNK_VALUES = 2 ** 20;

export interface ScanInputs {
  x: NumberArray;
  dt: NumberArray;
  a: NumberArray;
  b: NumberArray;
  c: NumberArray;
  state: Tensor;
}

export interface ScanShape {
  n: number;
  heads: number;
  headDim: number;
  groups: number;
  dState: number;
}

/**
 * The scan by the SIMD kernel: y written into `y` ([n, heads, headDim]) and the new state
 * returned; null (y untouched) where SIMD is off or unavailable, or dState is not a multiple of 4.
 */
export function simdSelectiveScan(inputs: ScanInputs, shape: ScanShape, y: NumberArray): Float32Array | null {
  const { n, heads, headDim, groups, dState } = shape;
  if (dState % 4 !== 0) return null;
  const perRow = 2 * heads * headDim + 2 * heads + 2 * groups * dState;
  const rows = Math.max(1, Math.min(n, Math.floor(CHUNK_VALUES / perRow)));
  const lengths = [heads * headDim * dState, ...[heads * headDim, heads, heads, groups * dState, groups * dState, heads * headDim].map((count) => rows * count)];
  const arena = keptModuleArena<SelectiveScanKernels>(selectiveScanF32Wasm, f32AreaBytes(lengths));
  if (!arena) return null;
  const [state, x, steps, decays, b, c, yRows] = f32Areas(arena, lengths);
  readFloat32Into(inputs.state, state);
  for (let t0 = 0; t0 < n; t0 += rows) {
    const count = Math.min(rows, n - t0);
    const take = (from: NumberArray, to: Float32Array, width: number) => to.set(from.subarray(t0 * width, (t0 + count) * width));
    take(inputs.x, x, heads * headDim);
    take(inputs.dt, steps, heads);
    take(inputs.b, b, groups * dState);
    take(inputs.c, c, groups * dState);
    for (let i = 0; i < count * heads; i++) decays[i] = Math.exp(Math.fround(steps[i] * inputs.a[i % heads]));
    arena.kernels.selectiveScanF32(
      x.byteOffset, steps.byteOffset, decays.byteOffset, b.byteOffset, c.byteOffset, state.byteOffset, yRows.byteOffset,
      count, heads, headDim, groups, dState, 0, heads,
    );
    y.set(yRows.subarray(0, count * heads * headDim), t0 * heads * headDim);
  }
  return state.slice();
}
