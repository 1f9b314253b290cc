import { latentAttention } from '@kvkit/attention-kernels';
import { type AttentionOptions, type AttentionResult, matmul, type Tensor } from '@kvkit/tensor-core';

/** Keys or values held as latents z with a basis P (head rows of the group basis): x ≈ P·z. */
export interface LatentOperand {
  kind: 'latent';
  /** f32 [1, n, r]. */
  latents: Tensor;
  /** f32 [headDim, r]: this head's rows of the group basis. */
  basis: Tensor;
}

/** Keys or values already in the space attention runs in. */
export interface DirectOperand {
  kind: 'direct';
  /** f32 [1, n, width]. */
  tensor: Tensor;
}

/**
 * Attention of one KV head's query group over low-rank storage, THE attention seam of this package:
 * @kvkit/attention-kernels' `latentAttention` (split-K decode for a few queries, flash for more)
 * runs over whatever the storage holds, latents or direct tensors.
 *
 * - Latent keys: scores qᵀ(P z) = (Pᵀq)ᵀ z, so queries are projected once ([g, m, r]) and the scores
 *   are computed against the stored latents, never rebuilding the n × headDim keys.
 * - Latent values: Σ p·(P z) = P·(Σ p·z), so attention produces a latent output [g, m, r] that is
 *   lifted once per query (the up-projection absorbed after attention instead of per key).
 *
 * q: f32 [g, m, headDim] (or already in the key space when keys are direct). `options.scale` must be
 * given: latent keys have r dimensions but the scores keep the model's 1/√headDim.
 */
export function lowRankHeadAttention(q: Tensor, keys: LatentOperand | DirectOperand, values: LatentOperand | DirectOperand, options: AttentionOptions & { scale: number }): AttentionResult {
  const projected = keys.kind === 'latent' ? matmul(q, keys.basis) : q;
  const keyTensor = keys.kind === 'latent' ? keys.latents : keys.tensor;
  const valueTensor = values.kind === 'latent' ? values.latents : values.tensor;
  try {
    const { output, statistics, lse } = latentAttention(projected, keyTensor, valueTensor, options);
    // The kernel also counts the queries that see each key; the cache contract reports sum and max only.
    statistics?.queryCount.dispose();
    statistics?.rowProbabilities?.dispose();
    const reported = { ...(statistics ? { statistics: { keySum: statistics.keySum, keyMax: statistics.keyMax } } : {}), ...(lse ? { lse } : {}) };
    if (values.kind === 'direct') return { output, ...reported };
    const lifted = matmul(output, values.basis, { transposeB: true });
    output.dispose();
    return { output: lifted, ...reported };
  } finally {
    if (projected !== q) projected.dispose();
  }
}
