import { type AttentionOptions, type AttentionResult, type Tensor, attention, matmul } from '@kvkit/tensor-core';

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
 * Attention of one KV head's query group over low-rank storage: THE seam where a fused
 * low-rank decode kernel (@kvkit/attention-kernels) replaces the three reference ops below.
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
    const result = attention(projected, keyTensor, valueTensor, options);
    if (values.kind === 'direct') return result;
    const lifted = matmul(result.output, values.basis, { transposeB: true });
    result.output.dispose();
    return { output: lifted, statistics: result.statistics };
  } finally {
    if (projected !== q) projected.dispose();
  }
}
