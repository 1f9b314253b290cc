import { reshape, type Tensor } from '@kvkit/tensor-core';
import type { KernelResult } from '../ops/attention-types.js';

/**
 * Results of a launch with the batch folded into the heads ([B·qHeads, m, ·]) viewed as
 * [B, qHeads, m, ·] (no copy; the folded handles are released).
 */
export function unfoldBatch(r: KernelResult, batch: number, qHeads: number): KernelResult {
  const view = (t: Tensor): Tensor => {
    const out = reshape(t, [batch, qHeads, ...t.shape.slice(1)]);
    t.dispose();
    return out;
  };
  return r.lse ? { output: view(r.output), lse: view(r.lse) } : { output: view(r.output) };
}
