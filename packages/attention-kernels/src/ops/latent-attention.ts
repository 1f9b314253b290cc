import { InvalidConfigError, type Tensor } from '@kvkit/tensor-core';
import type { KernelResult } from './attention-types.js';
import { decodeAttention, type DecodeAttentionOptions } from './decode-attention.js';
import { flashAttention, type FlashAttentionOptions } from './flash-attention.js';

export interface LatentAttentionOptions extends Omit<FlashAttentionOptions & DecodeAttentionOptions, 'scale'> {
  /**
   * Score scale — required: the model's 1/√headDim, not 1/√r (the latent rank says nothing about the
   * scale of the original scores).
   */
  scale: number;
  /** Use the split-K decode kernel up to this many queries, the flash kernel above (default 16). */
  decodeMaxQueries?: number;
}

/**
 * Attention computed in a low-rank latent space (kv-lowrank; Palu/MLA style). When a KV head's keys
 * are stored as latents with K = K_lat·Bᵀ (B: [d, r]) and its values as V = V_lat·Cᵀ (C: [dv, rv]),
 * the caller projects each query into the key latent space, q_lat = q·B ([qHeads, m, r]); then
 * q·k_j = q_lat·kLat_j exactly, and Σ_j p_j v_j = (Σ_j p_j vLat_j)·Cᵀ. So this returns the output
 * in the value latent space, [qHeads, m, rv], and the caller applies Cᵀ (or folds it into the output
 * projection). kLatent [kvHeads, n, r], vLatent [kvHeads, n, rv]; r and rv may differ. Each token
 * costs r + rv numbers to read instead of d + dv. Statistics, masks and positions as in
 * `flashAttention`.
 */
export function latentAttention(qLatent: Tensor, kLatent: Tensor, vLatent: Tensor, options: LatentAttentionOptions): KernelResult {
  if (!options || !(options.scale > 0) || !Number.isFinite(options.scale)) {
    throw new InvalidConfigError(`latentAttention: options.scale is required (the model's 1/√headDim), got ${options?.scale}`);
  }
  const limit = options.decodeMaxQueries ?? 16;
  return qLatent.rank === 3 && qLatent.shape[1] <= limit ? decodeAttention(qLatent, kLatent, vLatent, options) : flashAttention(qLatent, kLatent, vLatent, options);
}
