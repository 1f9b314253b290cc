// The CPU backend's `selectiveScan` in WebAssembly SIMD (`selective-scan-f32.wat`): the state is
// copied into a kept arena once per call, the rows pass through it a chunk at a time, and the
// state is copied back out. f32 throughout, as on the GPUs (the JavaScript loop it replaces takes
// its products in float64).
import type { Tensor } from '../../tensor.js';
import type { NumberArray } from '../host-data.js';
import { runRecurrentRows } from './recurrent-rows.js';
import selectiveScanF32Wasm from './selective-scan-f32.wat';

interface SelectiveScanKernels {
  selectiveScanF32(
    x: number, steps: number, decays: number, b: number, c: number, state: number, y: number,
    n: number, heads: number, headDim: number, groups: number, dState: number, h0: number, h1: number, rates: number,
  ): void;
}

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
 * `perState`: Mamba-1's rates a [heads, dState], their decays computed in the kernel; else
 * Mamba-2's a [heads], one decay per head and row computed here.
 */
export function simdSelectiveScan(inputs: ScanInputs, shape: ScanShape, y: NumberArray, perState: boolean): Float32Array | null {
  const { n, heads, headDim, groups, dState } = shape;
  if (dState % 4 !== 0) return null;
  // The state, then Mamba-1's rates; per row: x, the step sizes, their decays (Mamba-2), B, C, then y.
  const fixed = [heads * headDim * dState, perState ? heads * dState : 0];
  const rowWidths = [heads * headDim, heads, perState ? 0 : heads, groups * dState, groups * dState, heads * headDim];
  return runRecurrentRows<SelectiveScanKernels>({ module: selectiveScanF32Wasm, fixed, rowWidths, n }, inputs.state, y, (kernels, chunk) => {
    const [state, rates, x, steps, decays, b, c, yRows] = chunk.areas;
    chunk.take(inputs.x, 0);
    chunk.take(inputs.dt, 1);
    chunk.take(inputs.b, 3);
    chunk.take(inputs.c, 4);
    if (perState) {
      if (chunk.start === 0) rates.set(inputs.a);
    } else {
      for (let i = 0; i < chunk.count * heads; i++) decays[i] = Math.exp(Math.fround(steps[i] * inputs.a[i % heads]));
    }
    kernels.selectiveScanF32(
      x.byteOffset, steps.byteOffset, decays.byteOffset, b.byteOffset, c.byteOffset, state.byteOffset, yRows.byteOffset,
      chunk.count, heads, headDim, groups, dState, 0, heads, perState ? rates.byteOffset : 0,
    );
  });
}
