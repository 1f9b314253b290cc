import { mul, reshape, slice, type Tensor, type TensorScope } from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import { convolveContinuing, eachRequest } from './continued-convolution.js';
import type { Segment } from './decoder-layer.js';
import { linear } from './linear.js';
import type { ShortConvWeights } from './weights.js';

/**
 * LFM2's gated short convolution over the normalized rows `h` ([rows, hidden]): B, C and x are the
 * thirds of in_proj(h); the causal depthwise convolution of B ⊙ x over the last `kernel` tokens is
 * gated by C and projected by out_proj. Each segment continues its own sequence from its cache's
 * recurrent state, slot `slot` (`convolveContinuing`).
 */
export function shortConvBlock(h: Tensor, w: ShortConvWeights, slot: number, config: LlamaConfig, segments: readonly Segment[], scope: TensorScope): Tensor {
  const d = config.hiddenSize;
  const taps = config.shortConv!.kernel;
  const rows = h.shape[0];
  const projected = linear(h, w.inProj, scope);
  const third = (i: number) => scope.track(slice(projected, [0, i * d], [rows, (i + 1) * d]));
  const gated = scope.track(mul(third(0), third(2)));
  // The stored depthwise kernel [hidden, 1, taps] as causalConv1d's [hidden, taps] (a view).
  const kernel = scope.track(reshape(w.kernel, [d, taps]));
  const convolved = eachRequest(segments, scope, (own, state) => convolveContinuing(own(gated), kernel, w.kernelBias, state, slot, scope));
  return linear(scope.track(mul(third(1), convolved)), w.outProj, scope);
}
