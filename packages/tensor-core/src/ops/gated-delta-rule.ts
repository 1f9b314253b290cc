import { ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertDTypeIn, assertFloat, assertRank, assertSameDType } from './validate.js';

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    gatedDeltaRule: { inputs: [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]; attrs: Record<string, never>; output: [Tensor, Tensor] };
  }
}

export interface GatedDeltaRuleResult {
  /** [n, heads, dv], in q's dtype. */
  output: Tensor;
  /** [heads, dk, dv] f32: the state after the last row, from which the next call continues. */
  state: Tensor;
}

/**
 * The gated delta rule (Gated DeltaNet's linear attention: Qwen3-Next's and Qwen3.5's linear
 * attention layers), run over n rows from `state`: for each head h (reading key head
 * kh = h / (heads / keyHeads)), with S the head's [dk, dv] state,
 *
 *   S   ← exp(g_t[h]) · S                              (decay)
 *   δ   = β_t[h] · (v_t[h] − Sᵀ k_t[kh])               (the delta rule's correction)
 *   S   ← S + k_t[kh] ⊗ δ
 *   o_t[h] = Sᵀ q_t[kh]
 *
 * q and k [n, keyHeads, dk] (already normalized and scaled as the model does it), v [n, heads, dv]
 * and beta [n, heads] share a float dtype; the log decays g [n, heads] are f32 (as models compute
 * them: a decay rounded to f16 compounds over the sequence), and so is the initial `state`. Everything is
 * computed in f32, row after row, so a prefill, a chunk and a decode step continue one sequence.
 * Like Mamba-2's scan the state is the layer's whole memory: its size does not grow with the sequence.
 */
export function gatedDeltaRule(q: Tensor, k: Tensor, v: Tensor, g: Tensor, beta: Tensor, state: Tensor): GatedDeltaRuleResult {
  const where = 'gatedDeltaRule';
  assertFloat(q, where, 'q');
  for (const [t, name, rank] of [[q, 'q', 3], [k, 'k', 3], [v, 'v', 3], [g, 'g', 2], [beta, 'beta', 2], [state, 'state', 3]] as const) assertRank(t, rank, where, name);
  for (const t of [k, v, beta]) assertSameDType(q, t, where);
  assertDTypeIn(g, ['f32'], where, 'g');
  assertDTypeIn(state, ['f32'], where, 'state');
  const [n, keyHeads, dk] = q.shape;
  const [, heads, dv] = v.shape;
  const mismatch = (what: string): never => {
    throw new ShapeMismatchError(
      `${where}: ${what} (q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)}, g ${formatShape(g.shape)}, beta ${formatShape(beta.shape)}, state ${formatShape(state.shape)})`,
    );
  };
  if (k.shape.some((d, i) => d !== q.shape[i])) mismatch('k must have q\u2019s shape');
  if (v.shape[0] !== n || keyHeads === 0 || heads % keyHeads !== 0) mismatch(`v must be [${n}, heads, dv] with the ${keyHeads} key heads dividing its heads`);
  for (const [t, name] of [[g, 'g'], [beta, 'beta']] as const) if (t.shape[0] !== n || t.shape[1] !== heads) mismatch(`${name} must be [${n}, ${heads}]`);
  if (state.shape[0] !== heads || state.shape[1] !== dk || state.shape[2] !== dv) mismatch(`state must be [${heads}, ${dk}, ${dv}]`);
  const [output, next] = runKernel('gatedDeltaRule', [q, k, v, g, beta, state], {});
  return { output, state: next };
}
