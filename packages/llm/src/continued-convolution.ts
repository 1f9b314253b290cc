import { causalConv1d, concat, contiguous, type RecurrentState, reshape, silu, slice, type Tensor, type TensorScope } from '@kvkit/tensor-core';
import type { Segment } from './decoder-layer.js';

/** A segment's rows of a [rows, width] tensor of the whole batch (the tensor itself when the batch is that segment). */
function segmentRows(t: Tensor, segment: Segment, whole: boolean, scope: TensorScope): Tensor {
  return whole ? t : scope.track(slice(t, [segment.start, 0], [segment.start + segment.length, t.shape[1]]));
}

/**
 * A recurrent mixer's `step` run for each request of the batch in turn, on its own rows (`own(t)`:
 * its rows of a [rows, width] batch tensor), its cache's recurrent state and its row count; the
 * steps' results [n, …] stacked in batch order.
 */
export function eachRequest(segments: readonly Segment[], scope: TensorScope, step: (own: (t: Tensor) => Tensor, state: RecurrentState, n: number) => Tensor): Tensor {
  const whole = segments.length === 1;
  const outputs = segments.map((segment) => step((t) => segmentRows(t, segment, whole, scope), segment.cache.recurrentState!, segment.length));
  return whole ? outputs[0] : scope.track(concat(outputs, 0));
}

/**
 * The causal depthwise convolution (`kernel` [channels, taps], optional bias) of a segment's new
 * `rows` [n, channels], continuing the sequence from the last taps − 1 inputs kept in recurrent
 * state slot `slot` (zeros before the first token), which are then replaced by the window's own
 * last ones: a prefill, a chunk and a decode step compute the same convolution.
 */
export function convolveContinuing(rows: Tensor, kernel: Tensor, bias: Tensor | undefined, state: RecurrentState, slot: number, scope: TensorScope): Tensor {
  const [n, channels] = rows.shape;
  const taps = kernel.shape[1];
  // The kept inputs, then this pass's: output t reads rows t … t + taps − 1 of it.
  const window = scope.track(concat([state.read(slot), rows], 0));
  const convolved = scope.track(causalConv1d(window, kernel, bias));
  state.write(slot, contiguous(scope.track(slice(window, [n, 0], [n + taps - 1, channels]))));
  return convolved;
}

/**
 * A segment's rows through the continued convolution (`convolveContinuing`) and SiLU, as the Mamba-2
 * and Gated DeltaNet mixers take them, and a reader of its column ranges: `columns(from, size, shape)`
 * is columns [from, from + size) as a contiguous tensor of `shape`.
 */
export function convolvedColumns(rows: Tensor, kernel: Tensor, bias: Tensor | undefined, state: RecurrentState, slot: number, scope: TensorScope) {
  const activated = scope.track(silu(convolveContinuing(rows, kernel, bias, state, slot, scope)));
  const n = activated.shape[0];
  return (from: number, size: number, shape: number[]): Tensor =>
    scope.track(reshape(scope.track(contiguous(scope.track(slice(activated, [0, from], [n, from + size])))), shape));
}
