// The CPU backend's `gatedDeltaRule` in WebAssembly SIMD (`gated-delta-rule-f32.wat`): the state is
// copied into a kept arena once per call, the rows pass through it a chunk at a time, and the state
// is copied back out. f32 throughout, as on the GPUs (the JavaScript loop it replaces takes its
// sums over the state in float64).
import type { Tensor } from '../../tensor.js';
import type { NumberArray } from '../host-data.js';
import { runRecurrentRows } from './recurrent-rows.js';
import gatedDeltaRuleF32Wasm from './gated-delta-rule-f32.wat';

interface GatedDeltaRuleKernels {
  gatedDeltaRuleF32(
    q: number, k: number, v: number, decays: number, beta: number, state: number, out: number,
    rows: number, n: number, keyHeads: number, heads: number, dk: number, dv: number, h0: number,
  ): void;
}

export interface RuleInputs {
  q: NumberArray;
  k: NumberArray;
  v: NumberArray;
  g: NumberArray;
  beta: NumberArray;
  state: Tensor;
}

export interface RuleShape {
  n: number;
  keyHeads: number;
  heads: number;
  dk: number;
  dv: number;
}

/**
 * The rule by the SIMD kernel: the output written into `out` ([n, heads, dv]) and the new state
 * returned; null (out untouched) where SIMD is off or unavailable, or dv is not a multiple of 4.
 */
export function simdGatedDeltaRule(inputs: RuleInputs, shape: RuleShape, out: NumberArray): Float32Array | null {
  const { n, keyHeads, heads, dk, dv } = shape;
  if (dv % 4 !== 0) return null;
  // Fixed: the state and two scratch rows of dv; per row: q, k, v, the decays, β, then the output.
  const layout = { module: gatedDeltaRuleF32Wasm, fixed: [heads * dk * dv, 2 * dv], rowWidths: [keyHeads * dk, keyHeads * dk, heads * dv, heads, heads, heads * dv], n };
  return runRecurrentRows<GatedDeltaRuleKernels>(layout, inputs.state, out, (kernels, chunk) => {
    const [state, scratch, q, k, v, decays, beta, outRows] = chunk.areas;
    chunk.take(inputs.q, 0);
    chunk.take(inputs.k, 1);
    chunk.take(inputs.v, 2);
    chunk.take(inputs.beta, 4);
    for (let i = 0; i < chunk.count * heads; i++) decays[i] = Math.exp(inputs.g[chunk.start * heads + i]);
    kernels.gatedDeltaRuleF32(
      q.byteOffset, k.byteOffset, v.byteOffset, decays.byteOffset, beta.byteOffset, state.byteOffset, outRows.byteOffset,
      scratch.byteOffset, chunk.count, keyHeads, heads, dk, dv, 0,
    );
  });
}
