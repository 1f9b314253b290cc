// The CPU backend's `gatedDeltaRule` in WebAssembly SIMD (`gated-delta-rule-f32.wat`): the state is
// copied into a kept arena once per call, the rows pass through it a chunk at a time, and the state
// is copied back out. f32 throughout, as on the GPUs (the JavaScript loop it replaces takes its
// sums over the state in float64).
import { keptModuleArena } from '../../simd/scratch-arena.js';
import type { Tensor } from '../../tensor.js';
import { type NumberArray, readFloat32Into } from '../host-data.js';
import { f32AreaBytes, f32Areas } from './f32-areas.js';
import gatedDeltaRuleF32Wasm from './gated-delta-rule-f32.wat';

interface GatedDeltaRuleKernels {
  gatedDeltaRuleF32(
    q: number, k: number, v: number, decays: number, beta: number, state: number, out: number,
    rows: number, n: number, keyHeads: number, heads: number, dk: number, dv: number, h0: number,
  ): void;
}

/** Values per chunk of rows (q, k, v, out, decays and beta together: 4 MiB of f32). */
const CHUNK_VALUES = 2 ** 20;

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
  const perRow = 2 * keyHeads * dk + 2 * heads * dv + 2 * heads;
  const rows = Math.max(1, Math.min(n, Math.floor(CHUNK_VALUES / perRow)));
  const lengths = [heads * dk * dv, 2 * dv, ...[keyHeads * dk, keyHeads * dk, heads * dv, heads, heads, heads * dv].map((count) => rows * count)];
  const arena = keptModuleArena<GatedDeltaRuleKernels>(gatedDeltaRuleF32Wasm, f32AreaBytes(lengths));
  if (!arena) return null;
  const [state, scratch, q, k, v, decays, beta, outRows] = f32Areas(arena, lengths);
  readFloat32Into(inputs.state, state);
  for (let t0 = 0; t0 < n; t0 += rows) {
    const count = Math.min(rows, n - t0);
    const take = (from: NumberArray, to: Float32Array, width: number) => to.set(from.subarray(t0 * width, (t0 + count) * width));
    take(inputs.q, q, keyHeads * dk);
    take(inputs.k, k, keyHeads * dk);
    take(inputs.v, v, heads * dv);
    take(inputs.beta, beta, heads);
    for (let i = 0; i < count * heads; i++) decays[i] = Math.exp(inputs.g[t0 * heads + i]);
    arena.kernels.gatedDeltaRuleF32(
      q.byteOffset, k.byteOffset, v.byteOffset, decays.byteOffset, beta.byteOffset, state.byteOffset, outRows.byteOffset,
      scratch.byteOffset, count, keyHeads, heads, dk, dv, 0,
    );
    out.set(outRows.subarray(0, count * heads * dv), t0 * heads * dv);
  }
  return state.slice();
}
