import { registerKernel } from '../../kernel-registry.js';
import type { CpuBackend } from '../cpu-backend.js';
import { type NumberArray, outputBuffer, readNumbers, wrapOutput } from '../host-data.js';
import { type RuleShape, simdGatedDeltaRule } from './simd-gated-delta-rule.js';

export function registerGatedDeltaRuleKernel(): void {
  registerKernel<'gatedDeltaRule', CpuBackend>('gatedDeltaRule', 'cpu', (backend, [qIn, kIn, vIn, gIn, betaIn, stateIn]) => {
    const [n, keyHeads, dk] = qIn.shape;
    const [, heads, dv] = vIn.shape;
    const shape = { n, keyHeads, heads, dk, dv };
    const [q, k, v, g, beta] = [qIn, kIn, vIn, gIn, betaIn].map(readNumbers);
    const out = outputBuffer(qIn.dtype, n * heads * dv);
    const state = simdGatedDeltaRule({ q, k, v, g, beta, state: stateIn }, shape, out) ?? ruleLoop(q, k, v, g, beta, Float32Array.from(readNumbers(stateIn)), out, shape);
    return [wrapOutput(backend, [n, heads, dv], qIn.dtype, out), wrapOutput(backend, [heads, dk, dv], 'f32', state)];
  });
}

/**
 * The gated delta rule in JavaScript, where SIMD is off or dv is not a multiple of 4: the state is
 * stored in f32 (rounded there at each update, as on the GPUs); each column's sums over the state
 * (Sᵀk, Sᵀq) are taken in float64 and rounded once. Updates `state` in place and returns it.
 */
function ruleLoop(q: NumberArray, k: NumberArray, v: NumberArray, g: NumberArray, beta: NumberArray, state: Float32Array, out: NumberArray, shape: RuleShape): Float32Array {
  const { n, keyHeads, heads, dk, dv } = shape;
  const perKey = heads / keyHeads;
  const delta = new Float64Array(dv);
  const sums = new Float64Array(dv);
  for (let t = 0; t < n; t++) {
    for (let h = 0; h < heads; h++) {
      const decay = Math.fround(Math.exp(g[t * heads + h]));
      const rate = beta[t * heads + h];
      const key = (t * keyHeads + Math.floor(h / perKey)) * dk;
      const s0 = h * dk * dv;
      const values = (t * heads + h) * dv;
      // S ← decay · S, and δ = β (v − Sᵀk) over the decayed state.
      delta.fill(0);
      for (let i = 0; i < dk; i++) {
        const row = s0 + i * dv;
        const ki = k[key + i];
        for (let j = 0; j < dv; j++) {
          state[row + j] = decay * state[row + j];
          delta[j] += state[row + j] * ki;
        }
      }
      for (let j = 0; j < dv; j++) delta[j] = Math.fround(rate * (v[values + j] - Math.fround(delta[j])));
      // S ← S + k ⊗ δ, and o = Sᵀq.
      sums.fill(0);
      for (let i = 0; i < dk; i++) {
        const row = s0 + i * dv;
        const ki = k[key + i];
        const qi = q[key + i];
        for (let j = 0; j < dv; j++) {
          state[row + j] = state[row + j] + ki * delta[j];
          sums[j] += state[row + j] * qi;
        }
      }
      for (let j = 0; j < dv; j++) out[values + j] = sums[j];
    }
  }
  return state;
}
