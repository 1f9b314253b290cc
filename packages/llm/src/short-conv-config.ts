import { readLayerTypes, requireAttentionLayer } from './layer-types.js';
import type { ModelType } from './model-families.js';

/**
 * LFM2's gated short convolutions: on the layers listed in `layers` the block in front of the MLP
 * is out(C ⊙ conv(B ⊙ x)) instead of attention, where B, C and x are the three thirds of
 * in_proj(h) and conv is a causal depthwise convolution over the last `kernel` tokens
 * (conv_L_cache), with biases on in_proj, the convolution and out_proj where `bias` (conv_bias).
 */
export interface ShortConvConfig {
  layers: number[];
  kernel: number;
  bias: boolean;
}

/** The families whose layers may convolve instead of attending (LFM2 and LFM2-MoE). */
export const hasShortConvolutions = (type: ModelType): boolean => type === 'lfm2' || type === 'lfm2_moe';

/**
 * Which layers attend and which convolve (transformers' `layer_types`, 'full_attention' or 'conv'
 * per layer; without it the original configs' `full_attn_idxs`, and without either every layer
 * attends), and the convolutions' settings; undefined for families without short convolutions.
 */
export function parseShortConv(
  c: Record<string, unknown>,
  type: ModelType,
  numLayers: number,
  positiveInt: (field: string, fallback?: number) => number,
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): ShortConvConfig | undefined {
  if (!hasShortConvolutions(type)) return undefined;
  let attends: boolean[];
  if (Array.isArray(c.layer_types)) {
    attends = readLayerTypes(c.layer_types, numLayers, ['full_attention', 'conv'], invalid, unsupported).map((kind) => kind === 'full_attention');
  } else if (c.full_attn_idxs !== undefined && c.full_attn_idxs !== null) {
    const indices = c.full_attn_idxs;
    if (!Array.isArray(indices) || !indices.every((i) => Number.isInteger(i) && i >= 0 && i < numLayers)) {
      invalid('full_attn_idxs', `must list layer indices below ${numLayers}, got ${JSON.stringify(indices)}`);
    }
    attends = Array.from({ length: numLayers }, (_, i) => (indices as number[]).includes(i));
  } else {
    attends = new Array(numLayers).fill(true);
  }
  requireAttentionLayer(attends, Array.isArray(c.layer_types) ? 'layer_types' : 'full_attn_idxs', invalid);
  const bias = c.conv_bias ?? false;
  if (typeof bias !== 'boolean') invalid('conv_bias', `must be true or false, got ${JSON.stringify(bias)}`);
  const kernel = positiveInt('conv_L_cache', 3);
  // The state keeps kernel − 1 inputs: a kernel of one token would be a plain gate (no released model has one).
  if (kernel < 2) invalid('conv_L_cache', `must be at least 2, got ${kernel}`);
  return { layers: attends.flatMap((a, i) => (a ? [] : [i])), kernel, bias: bias as boolean };
}

/**
 * LFM2's MLP width: with `block_auto_adjust_ff_dim` (default) two thirds of intermediate_size, then,
 * where `block_ffn_dim_multiplier` is given (default 1), times it and rounded up to a multiple of
 * `block_multiple_of` (default 256), as transformers' Lfm2MLP computes it.
 */
export function lfm2FeedForwardSize(c: Record<string, unknown>, intermediateSize: number, positiveInt: (field: string, fallback?: number) => number, invalid: (field: string, problem: string) => never): number {
  if ((c.block_auto_adjust_ff_dim ?? true) === false) return intermediateSize;
  let size = Math.trunc((2 * intermediateSize) / 3);
  const multiplier = c.block_ffn_dim_multiplier === undefined ? 1 : c.block_ffn_dim_multiplier;
  if (multiplier === null) return size;
  if (typeof multiplier !== 'number' || !(multiplier > 0) || !Number.isFinite(multiplier)) invalid('block_ffn_dim_multiplier', `must be a positive number or null, got ${JSON.stringify(multiplier)}`);
  size = Math.trunc((multiplier as number) * size);
  const multiple = positiveInt('block_multiple_of', 256);
  return multiple * Math.ceil(size / multiple);
}
