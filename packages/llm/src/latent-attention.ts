import { concat, contiguous, matmul, mul, reshape, rmsNorm, rope, slice, type Tensor, type TensorScope, transpose } from '@kvkit/tensor-core';
import { attendThroughCaches, batchPositions } from './cache-attention.js';
import type { LayerContext } from './decoder-layer.js';
import { LATENT_NORM_EPS } from './latent-attention-config.js';
import { linear, PRODUCT_SUMS } from './linear.js';
import type { LatentAttentionWeights, LinearWeights } from './weights.js';

/**
 * DeepSeek's multi-head latent attention (MLA) on the normalized rows h [n, hidden] of the layer's input x, through each
 * segment's cache, projected by o_proj: [n, hidden].
 *
 * Each token's keys and values are linear in one normalized latent c (kv_lora_rank channels):
 * head i's key is [W_UKᵢ·c, k_rope] and its value W_UVᵢ·c. So q·k = (W_UKᵢᵀ·q_nope)·c + q_rope·k_rope
 * and Σ p·v = W_UVᵢ·(Σ p·c): every head attends to the same cached vector [k_rope, c] with its
 * query [q_rope, W_UKᵢᵀ·q_nope] (rotated channels first, as partial rotary rotates the first
 * ones), and the attention's latent output is multiplied by W_UVᵢ afterwards. The cache holds one
 * head of ropeDim + rank channels per token — DeepSeek-V3: 576 values against 128 heads × (192 + 128)
 * expanded — and every cache method (quantization, eviction, low rank) works on it unchanged.
 * The keys and values the cache receives are the same tensor.
 */
export function latentAttentionBlock(x: Tensor, h: Tensor, w: LatentAttentionWeights, o: LinearWeights, layerIndex: number, cacheLayer: number, ctx: LayerContext, scope: TensorScope): Tensor {
  const { config, segments } = ctx;
  const n = h.shape[0];
  const { numHeads } = config;
  const { rank, nopeDim, ropeDim, valueDim } = config.latentAttention!;
  const t = <T extends Tensor>(made: T): T => scope.track(made);
  const { invFreq, queryGain, keyGain } = ctx.layerRope(layerIndex);
  const rotate = (rows: Tensor) => t(invFreq ? rope(rows, ctx.positions, invFreq, config.ropeLayout) : contiguous(rows));

  // Queries [heads, n, ropeDim + rank]: each head's rotated channels, then its nope channels taken into the latent space.
  const compressed = w.queryDown ? t(rmsNorm(linear(h, w.queryDown, scope), w.queryDownNorm!, LATENT_NORM_EPS)) : h;
  const perHead = t(transpose(t(reshape(linear(compressed, w.query, scope), [n, numHeads, nopeDim + ropeDim])), [1, 0, 2]));
  const part = (whole: Tensor, from: number, width: number) => t(contiguous(t(slice(whole, [0, 0, from], [whole.shape[0], whole.shape[1], from + width]))));
  const keyUp = t(reshape(w.keyUp.weight, [numHeads, nopeDim, rank]));
  const queryLatent = t(matmul(part(perHead, 0, nopeDim), keyUp, { accumulate: PRODUCT_SUMS }));
  let q = rotate(t(concat([part(perHead, nopeDim, ropeDim), queryLatent], 2)));
  if (queryGain) q = t(mul(q, queryGain));

  // The shared key [1, n, ropeDim + rank]: the rotated key, then the normalized latent.
  const down = t(reshape(linear(h, w.keyValueDown, scope), [1, n, rank + ropeDim]));
  const latent = t(rmsNorm(part(down, 0, rank), w.latentNorm, LATENT_NORM_EPS));
  const keyPreRope = t(concat([part(down, rank, ropeDim), latent], 2));
  const rotated = invFreq ? rotate(keyPreRope) : keyPreRope;
  const key = keyGain ? t(mul(rotated, keyGain)) : rotated;

  const attention = attendThroughCaches(q, keyPreRope, key, key, layerIndex, cacheLayer, undefined, ctx, scope);
  if (ctx.onLayer) {
    ctx.onLayer({ layerIndex: cacheLayer, decoderLayer: layerIndex, positions: batchPositions(segments), hidden: x, q, keyPreRope, key, value: key, attention });
  }
  // Each head's latent output times its value rows: [heads, n, valueDim].
  const valueUp = t(reshape(w.valueUp.weight, [numHeads, valueDim, rank]));
  const values = t(matmul(part(attention, ropeDim, rank), valueUp, { transposeB: true, accumulate: PRODUCT_SUMS }));
  const merged = t(reshape(t(transpose(values, [1, 0, 2])), [n, numHeads * valueDim]));
  return linear(merged, o, scope);
}
