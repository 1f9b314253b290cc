import { readLayerTypes, requireAttentionLayer } from './layer-types.js';
import type { ModelType } from './model-families.js';

/**
 * Qwen3.5's Gated DeltaNet layers (linear attention) beside its full-attention ones: on the layers
 * listed in `layers` the mixer runs the gated delta rule over `valueHeads` heads of `valueDim`
 * with `keyHeads` heads of `keyDim` for queries and keys (each shared by valueHeads / keyHeads
 * value heads); a causal depthwise convolution of `convKernel` taps runs over the queries, keys
 * and values (`convDim` channels) first.
 */
export interface DeltaNetConfig {
  layers: number[];
  keyHeads: number;
  valueHeads: number;
  keyDim: number;
  valueDim: number;
  convKernel: number;
  convDim: number;
}

/** Qwen3_5TextConfig's linear_* fields and `layer_types` ('linear_attention' or 'full_attention' per layer); undefined for other families. */
export function parseDeltaNetConfig(
  c: Record<string, unknown>,
  type: ModelType,
  numLayers: number,
  positiveInt: (field: string, fallback?: number) => number,
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): DeltaNetConfig | undefined {
  if (type !== 'qwen3_5_text') return undefined;
  const kinds = c.layer_types;
  if (!Array.isArray(kinds)) return invalid('layer_types', 'must list linear_attention or full_attention for each layer');
  readLayerTypes(kinds, numLayers, ['linear_attention', 'full_attention'], invalid, unsupported);
  requireAttentionLayer(kinds.map((kind) => kind === 'full_attention'), 'layer_types', invalid);
  const keyHeads = positiveInt('linear_num_key_heads', 16);
  const valueHeads = positiveInt('linear_num_value_heads', 32);
  if (valueHeads % keyHeads !== 0) invalid('linear_num_key_heads', `(${keyHeads}) must divide linear_num_value_heads (${valueHeads})`);
  const keyDim = positiveInt('linear_key_head_dim', 128);
  const valueDim = positiveInt('linear_value_head_dim', 128);
  const convKernel = positiveInt('linear_conv_kernel_dim', 4);
  if (convKernel < 2) invalid('linear_conv_kernel_dim', `must be at least 2, got ${convKernel}`);
  return {
    layers: kinds.flatMap((kind, i) => (kind === 'linear_attention' ? [i] : [])),
    keyHeads,
    valueHeads,
    keyDim,
    valueDim,
    convKernel,
    convDim: 2 * keyHeads * keyDim + valueHeads * valueDim,
  };
}
