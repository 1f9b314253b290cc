import { ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertDTypeIn, assertFloat, assertRank, assertSameDType } from './validate.js';

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    selectiveScan: { inputs: [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]; attrs: Record<string, never>; output: [Tensor, Tensor] };
  }
}

export interface SelectiveScanResult {
  /** [n, heads, headDim], in x's dtype. */
  y: Tensor;
  /** [heads, headDim, dState] f32: the state after the last row, from which the next call continues. */
  state: Tensor;
}

/**
 * The selective state-space recurrence of Mamba, run over n rows from `state`: for each head h
 * (in group g = h / (heads / groups)), channel p and state entry s,
 *
 *   S_t[h, p, s] = exp(dt_t[h] · a[h, s]) · S_{t−1}[h, p, s] + dt_t[h] · x_t[h, p] · b_t[g, s]
 *   y_t[h, p]    = Σ_s S_t[h, p, s] · c_t[g, s]
 *
 * x [n, heads, headDim], dt [n, heads] (the step sizes, softplus already applied), b and c
 * [n, groups, dState] share x's float dtype; the decay rates a (negative) and the initial `state`
 * [heads, headDim, dState] are f32. a is [heads] for Mamba-2's scalar decay per head (a[h, s] =
 * a[h]), or [heads, dState] for Mamba-1's rate per state entry (there each channel is a head of
 * headDim 1). Everything is computed in f32, row after row, so a prefill, a chunk of one and a
 * decode step continue the same sequence. The state is the whole memory of such a layer: its size
 * does not grow with the sequence.
 */
export function selectiveScan(x: Tensor, dt: Tensor, a: Tensor, b: Tensor, c: Tensor, state: Tensor): SelectiveScanResult {
  const where = 'selectiveScan';
  assertFloat(x, where, 'x');
  assertRank(x, 3, where, 'x');
  assertRank(dt, 2, where, 'dt');
  assertRank(b, 3, where, 'b');
  assertRank(c, 3, where, 'c');
  assertRank(state, 3, where, 'state');
  for (const t of [dt, b, c]) assertSameDType(x, t, where);
  assertDTypeIn(a, ['f32'], where, 'a');
  assertDTypeIn(state, ['f32'], where, 'state');
  const [n, heads, headDim] = x.shape;
  const [, groups, dState] = b.shape;
  const mismatch = (what: string) => {
    throw new ShapeMismatchError(
      `${where}: ${what} (x ${formatShape(x.shape)}, dt ${formatShape(dt.shape)}, a ${formatShape(a.shape)}, b ${formatShape(b.shape)}, c ${formatShape(c.shape)}, state ${formatShape(state.shape)})`,
    );
  };
  if (dt.shape[0] !== n || dt.shape[1] !== heads) mismatch(`dt must be [${n}, ${heads}]`);
  if (a.shape[0] !== heads || a.rank > 2 || (a.rank === 2 && a.shape[1] !== dState)) mismatch(`a must be [${heads}] or [${heads}, ${dState}]`);
  if (b.shape[0] !== n || groups === 0 || heads % groups !== 0) mismatch(`b must be [${n}, groups, dState] with groups dividing the ${heads} heads`);
  if (c.shape.some((d, i) => d !== b.shape[i])) mismatch('c must have b\u2019s shape');
  if (state.shape[0] !== heads || state.shape[1] !== headDim || state.shape[2] !== dState) mismatch(`state must be [${heads}, ${headDim}, ${dState}]`);
  const [y, next] = runKernel('selectiveScan', [x, dt, a, b, c, state], {});
  return { y, state: next };
}
