import { add, concat, contiguous, mul, reshape, slice, type Tensor, type TensorScope, transpose } from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import type { Segment } from './decoder-layer.js';
import { linear } from './linear.js';
import type { ShortConvWeights } from './weights.js';

/**
 * LFM2's gated short convolution over the normalized rows `h` ([rows, hidden]): B, C and x are the
 * thirds of in_proj(h); the causal depthwise convolution of B ⊙ x over the last `kernel` tokens is
 * gated by C and projected by out_proj. Each segment continues its own sequence: its rows follow
 * the last kernel − 1 inputs kept in its cache's recurrent state (slot `slot`; zeros before the
 * first token), which the pass then replaces with its own last ones. Prefill, decode and a prompt
 * fed in chunks all compute the same convolution.
 */
export function shortConvBlock(h: Tensor, w: ShortConvWeights, slot: number, config: LlamaConfig, segments: readonly Segment[], scope: TensorScope): Tensor {
  const d = config.hiddenSize;
  const taps = config.shortConv!.kernel;
  const rows = h.shape[0];
  const projected = linear(h, w.inProj, scope);
  const third = (i: number) => scope.track(slice(projected, [0, i * d], [rows, (i + 1) * d]));
  const gated = scope.track(mul(third(0), third(2)));
  // The stored kernel [hidden, 1, taps] seen as [taps, hidden]: tap j of every channel is one row (a strided view, no copy).
  const byTap = scope.track(transpose(scope.track(reshape(w.kernel, [d, taps])), [1, 0]));
  const whole = segments.length === 1;
  const outputs = segments.map((segment) => {
    const state = segment.cache.recurrentState!;
    const own = whole ? gated : scope.track(slice(gated, [segment.start, 0], [segment.start + segment.length, d]));
    // The kept inputs, then this pass's: output t reads rows t … t + taps − 1 of it.
    const window = scope.track(concat([state.read(slot), own], 0));
    const n = segment.length;
    let sum: Tensor | undefined;
    for (let j = 0; j < taps; j++) {
      const term = scope.track(mul(scope.track(slice(window, [j, 0], [j + n, d])), scope.track(slice(byTap, [j, 0], [j + 1, d]))));
      sum = sum ? scope.track(add(sum, term)) : term;
    }
    if (w.kernelBias) sum = scope.track(add(sum!, w.kernelBias));
    state.write(slot, contiguous(scope.track(slice(window, [n, 0], [n + taps - 1, d]))));
    return sum!;
  });
  const convolved = whole ? outputs[0] : scope.track(concat(outputs, 0));
  return linear(scope.track(mul(third(1), convolved)), w.outProj, scope);
}
