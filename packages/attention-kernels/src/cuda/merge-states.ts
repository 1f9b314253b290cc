import { type Tensor } from '@kvkit/tensor-core';
import type { CudaBackend } from '@kvkit/tensor-core/cuda';
import { stackStates } from '../gpu/stacked-states.js';
import type { AttentionState } from '../ops/merge-states.js';
import { mergePartialsCuda } from './split-k.js';

/** `mergeAttentionStates` on CUDA: the states stacked as split-K partials, merged by the decode merge kernel. */
export function mergeAttentionStatesCuda(backend: CudaBackend, inputs: readonly Tensor[]): AttentionState {
  const first = inputs[0];
  const output = backend.empty(first.shape, first.dtype);
  const lse = backend.empty(first.shape.slice(0, -1), 'f32');
  const stacked = stackStates(inputs);
  try {
    mergePartialsCuda(backend, stacked, output, lse);
  } finally {
    stacked.acc.dispose();
    stacked.stat.dispose();
  }
  return { output, lse };
}
