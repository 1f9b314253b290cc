import { concat, reshape, type Tensor } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { stackStates } from '../gpu/stacked-states.js';
import type { AttentionState } from '../ops/merge-states.js';
import { mergePartialsWebGpu } from './split-k.js';

/** `mergeAttentionStates` in WGSL: the states stacked as split-K partials, merged by the decode merge program. */
export function mergeAttentionStatesWebGpu(backend: WebGpuBackend, inputs: readonly Tensor[]): AttentionState {
  const first = inputs[0];
  const output = backend.empty(first.shape, first.dtype);
  const lse = backend.empty(first.shape.slice(0, -1), 'f32');
  const { acc, stat, parts, rows, dv } = stackStates(inputs);
  const flat = [reshape(acc, [acc.size]), reshape(stat, [stat.size])];
  const partials = concat(flat, 0);
  try {
    mergePartialsWebGpu(backend, partials, { rows, parts, dv }, output, lse);
  } finally {
    for (const t of [acc, stat, ...flat, partials]) t.dispose();
  }
  return { output, lse };
}
