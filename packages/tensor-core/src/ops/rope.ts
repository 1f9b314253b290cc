import { ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { formatShape } from '../shape.js';
import type { RopeLayout } from '../rope-config.js';
import type { Tensor } from '../tensor.js';
import { assertDTypeIn, assertFloat, assertMinRank } from './validate.js';

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    rope: { inputs: [Tensor, Tensor, Tensor]; attrs: { layout: RopeLayout }; output: Tensor };
  }
}

/**
 * Rotary position embedding of x [..., n, d] at `positions` (i32 [n]) with inverse frequencies
 * `invFreq` (f32 [r/2], from `ropeInverseFrequencies`). The first r channels rotate (r ≤ d: partial
 * rotary); the rest pass through. Angles are position · θ_i rounded to f32, as HF computes them.
 */
export function rope(x: Tensor, positions: Tensor, invFreq: Tensor, layout: RopeLayout = 'half'): Tensor {
  assertFloat(x, 'rope');
  assertMinRank(x, 2, 'rope');
  assertDTypeIn(positions, ['i32', 'u32'], 'rope', 'positions');
  assertDTypeIn(invFreq, ['f32'], 'rope', 'invFreq');
  const [n, d] = x.shape.slice(-2);
  if (positions.rank !== 1 || positions.shape[0] !== n) {
    throw new ShapeMismatchError(`rope: positions must have shape [${n}] for x ${formatShape(x.shape)}, got ${formatShape(positions.shape)}`);
  }
  if (invFreq.rank !== 1 || invFreq.shape[0] * 2 > d || invFreq.shape[0] === 0) {
    throw new ShapeMismatchError(`rope: invFreq must have shape [r/2] with 0 < r <= ${d}, got ${formatShape(invFreq.shape)}`);
  }
  return runKernel('rope', [x, positions, invFreq], { layout });
}
