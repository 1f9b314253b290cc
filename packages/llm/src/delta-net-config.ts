import { readLayerTypes, requireAttentionLayer } from './layer-types.js';
import { MODEL_FAMILIES, type ModelFamily, type ModelType } from './model-families.js';

/**
 * Gated DeltaNet layers (linear attention: Qwen3.5, Qwen3-Next) beside full-attention ones: on the
 * layers listed in `layers` the mixer runs the gated delta rule over `valueHeads` heads of
 * `valueDim` with `keyHeads` heads of `keyDim` for queries and keys (each shared by valueHeads /
 * keyHeads value heads); a causal depthwise convolution of `convKernel` taps runs over the queries,
 * keys and values (`convDim` channels) first. `fusedInputs`: the checkpoint stores the input
 * projections fused per key head (Qwen3-Next's in_proj_qkvz and in_proj_ba).
 */
export interface DeltaNetConfig {
  layers: number[];
  keyHeads: number;
  valueHeads: number;
  keyDim: number;
  valueDim: number;
  convKernel: number;
  convDim: number;
  fusedInputs: boolean;
}

const KINDS = ['linear_attention', 'full_attention'];

/**
 * The linear_* fields of Qwen3_5TextConfig, Qwen3_5MoeTextConfig and Qwen3NextConfig, and the
 * layers' kinds: `layer_types` ('linear_attention' or 'full_attention' per layer) or, without that
 * list, full attention on every `full_attention_interval`-th layer (4 by default), as their classes
 * derive it. Undefined for other families, and where every layer attends.
 */
export function parseDeltaNetConfig(
  c: Record<string, unknown>,
  type: ModelType,
  numLayers: number,
  positiveInt: (field: string, fallback?: number) => number,
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): DeltaNetConfig | undefined {
  const layout = (MODEL_FAMILIES[type] as ModelFamily).gatedDeltaNet;
  if (!layout) return undefined;
  let kinds = c.layer_types;
  if (kinds === undefined || kinds === null) {
    const interval = positiveInt('full_attention_interval', 4);
    kinds = Array.from({ length: numLayers }, (_, i) => KINDS[(i + 1) % interval === 0 ? 1 : 0]);
  }
  if (!Array.isArray(kinds)) return invalid('layer_types', 'must list linear_attention or full_attention for each layer');
  readLayerTypes(kinds, numLayers, KINDS, invalid, unsupported);
  requireAttentionLayer(kinds.map((kind) => kind === 'full_attention'), c.layer_types ? 'layer_types' : 'full_attention_interval', invalid);
  // Every layer attending: no recurrent state to keep.
  if (!kinds.includes('linear_attention')) return undefined;
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
    fusedInputs: layout === 'fused',
  };
}
