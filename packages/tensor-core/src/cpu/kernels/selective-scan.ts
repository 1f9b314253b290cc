import { registerKernel } from '../../kernel-registry.js';
import type { CpuBackend } from '../cpu-backend.js';
import { type NumberArray, outputBuffer, readNumbers, wrapOutput } from '../host-data.js';
import { type ScanShape, simdSelectiveScan } from './simd-selective-scan.js';

export function registerSelectiveScanKernel(): void {
  registerKernel<'selectiveScan', CpuBackend>('selectiveScan', 'cpu', (backend, [xIn, dtIn, aIn, bIn, cIn, stateIn]) => {
    const [n, heads, headDim] = xIn.shape;
    const [, groups, dState] = bIn.shape;
    const shape = { n, heads, headDim, groups, dState };
    const [x, dt, a, b, c] = [xIn, dtIn, aIn, bIn, cIn].map(readNumbers);
    const y = outputBuffer(xIn.dtype, n * heads * headDim);
    // Mamba-1's rates per state entry (a [heads, dState]) or Mamba-2's rate per head, in SIMD where it can.
    const perState = aIn.rank === 2;
    const simd = simdSelectiveScan({ x, dt, a, b, c, state: stateIn }, shape, y, perState);
    const state = simd ?? scanLoop(x, dt, a, perState, b, c, Float32Array.from(readNumbers(stateIn)), y, shape);
    return [wrapOutput(backend, [n, heads, headDim], xIn.dtype, y), wrapOutput(backend, [heads, headDim, dState], 'f32', state)];
  });
}

/**
 * The scan in JavaScript, where SIMD is off or dState is not a multiple of 4 (`perState`: Mamba-1's
 * rates a [heads, dState], else Mamba-2's a [heads]): the state is stored in f32 (each update
 * rounded there, as on the GPUs); products and each output's sum over the state are taken in
 * float64 and rounded once. Updates `state` in place and returns it.
 */
function scanLoop(x: NumberArray, dt: NumberArray, a: NumberArray, perState: boolean, b: NumberArray, c: NumberArray, state: Float32Array, y: NumberArray, shape: ScanShape): Float32Array {
  const { n, heads, headDim, groups, dState } = shape;
  const perGroup = heads / groups;
  const decayOf = (step: number, rate: number) => Math.fround(Math.exp(Math.fround(step * rate)));
  const decays = new Float64Array(dState);
  for (let t = 0; t < n; t++) {
    for (let h = 0; h < heads; h++) {
      const step = dt[t * heads + h];
      if (perState) for (let s = 0; s < dState; s++) decays[s] = decayOf(step, a[h * dState + s]);
      else decays.fill(decayOf(step, a[h]));
      const bc = (t * groups + Math.floor(h / perGroup)) * dState;
      for (let p = 0; p < headDim; p++) {
        const drive = step * x[(t * heads + h) * headDim + p];
        const s0 = (h * headDim + p) * dState;
        let sum = 0;
        for (let s = 0; s < dState; s++) {
          state[s0 + s] = decays[s] * state[s0 + s] + drive * b[bc + s];
          sum += state[s0 + s] * c[bc + s];
        }
        y[(t * heads + h) * headDim + p] = sum;
      }
    }
  }
  return state;
}
