import { runKernel, ShapeMismatchError, type Tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';
import { ensureAttentionKernels } from '../kernels.js';

/** A partial attention result over some keys: normalized output [..., dv] and log-sum-exp [...]. */
export interface AttentionState {
  output: Tensor;
  lse: Tensor;
}

/**
 * Merges partial attention results over disjoint key sets into the result over their union, by
 * log-sum-exp: lse = log Σ_i exp(lse_i), output = Σ_i exp(lse_i − lse) · output_i. Rows that no
 * part saw (lse −∞ everywhere) stay zero. What flash-decoding and ChunkAttention use to combine
 * partitions, and what makes kernels over different storages (shared prefix, own suffix) composable.
 */
export function mergeAttentionStates(parts: readonly AttentionState[]): AttentionState {
  const where = 'mergeAttentionStates';
  if (parts.length === 0) throw new ShapeMismatchError(`${where}: nothing to merge`);
  const [first] = parts;
  const rows = first.output.shape.slice(0, -1);
  for (const [i, p] of parts.entries()) {
    if (p.output.dtype !== first.output.dtype) throw new UnsupportedDTypeError(`${where}: part ${i} output is ${p.output.dtype}, part 0 is ${first.output.dtype}`);
    if (p.lse.dtype !== 'f32') throw new UnsupportedDTypeError(`${where}: part ${i} lse must be f32, got ${p.lse.dtype}`);
    const same = p.output.rank === first.output.rank && p.output.shape.every((s, j) => s === first.output.shape[j]);
    const lseOk = p.lse.rank === rows.length && p.lse.shape.every((s, j) => s === rows[j]);
    if (!same || !lseOk) {
      throw new ShapeMismatchError(`${where}: part ${i} has output [${p.output.shape.join(', ')}] / lse [${p.lse.shape.join(', ')}], expected [${first.output.shape.join(', ')}] / [${rows.join(', ')}]`);
    }
  }
  ensureAttentionKernels(first.output.backend);
  return runKernel('mergeAttentionStates', parts.flatMap((p) => [p.output, p.lse]), {});
}
