import { ShapeMismatchError } from '../errors.js';
import { runKernel } from '../kernel-registry.js';
import { formatShape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assertFloat, assertRank, assertSameDType } from './validate.js';

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    causalConv1d: { inputs: [Tensor, Tensor, Tensor | undefined]; attrs: Record<string, never>; output: Tensor };
  }
}

/**
 * A causal depthwise convolution along rows, each channel with its own kernel: the short
 * convolution of hybrid models (LFM2), and of the conv-attention layers that mix each token with
 * the few before it.
 *
 * `window` [taps − 1 + n, channels] holds the inputs a convolution continues from (the last
 * taps − 1 rows of the sequence so far, zeros at its start) followed by the n new rows; `weight`
 * [channels, taps] (PyTorch's depthwise Conv1d weight [channels, 1, taps] reshaped) and an optional
 * `bias` [channels]. Row t of the result [n, channels] is
 * Σ_j window[t + j] · weight[:, j] (+ bias): tap taps − 1 weighs the row itself, tap 0 the oldest.
 * Sums in f32 in tap order, then the bias; the result has window's dtype. Any strides.
 */
export function causalConv1d(window: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const where = 'causalConv1d';
  assertFloat(window, where, 'window');
  assertRank(window, 2, where, 'window');
  assertRank(weight, 2, where, 'weight');
  assertSameDType(window, weight, where);
  const [rows, channels] = window.shape;
  const taps = weight.shape[1];
  if (weight.shape[0] !== channels) {
    throw new ShapeMismatchError(`${where}: weight ${formatShape(weight.shape)} must have one row per channel of window ${formatShape(window.shape)}`, {
      window: window.shape,
      weight: weight.shape,
    });
  }
  if (taps < 1 || rows < taps) {
    throw new ShapeMismatchError(`${where}: window ${formatShape(window.shape)} must hold at least the ${taps} rows of one output (taps − 1 kept rows, then the new ones)`, {
      window: window.shape,
      taps,
    });
  }
  if (bias) {
    assertSameDType(window, bias, where);
    if (bias.rank !== 1 || bias.shape[0] !== channels) throw new ShapeMismatchError(`${where}: bias must have shape [${channels}], got ${formatShape(bias.shape)}`, { bias: bias.shape });
  }
  return runKernel('causalConv1d', [window, weight, bias], {});
}
