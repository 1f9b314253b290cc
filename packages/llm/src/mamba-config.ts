import { readLayerTypes, requireAttentionLayer } from './layer-types.js';
import type { ModelType } from './model-families.js';

/**
 * The Mamba-2 mixers of a hybrid (Granite 4.0-H's `granitemoehybrid`): on the layers listed in
 * `layers` the block before the MLP is Bamba's mixer instead of attention. d_inner = expand ·
 * hidden splits into `heads` heads of `headDim`; B and C have `groups` groups of `dState`; the
 * causal convolution runs over x, B and C (`convDim` channels, `convKernel` taps).
 */
export interface MambaConfig {
  layers: number[];
  heads: number;
  headDim: number;
  dState: number;
  groups: number;
  convKernel: number;
  convBias: boolean;
  projBias: boolean;
  inner: number;
  convDim: number;
}

/**
 * GraniteMoeHybridConfig's mamba_* fields and `layer_types` ('mamba' or 'attention' per layer;
 * the old name `layers_block_type`; without either every layer is a Mamba layer, which this
 * runtime refuses: the KV cache needs an attention layer). Undefined for other families.
 */
export function parseMambaConfig(
  c: Record<string, unknown>,
  type: ModelType,
  numLayers: number,
  hiddenSize: number,
  positiveInt: (field: string, fallback?: number) => number,
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): MambaConfig | undefined {
  if (type !== 'granitemoehybrid') return undefined;
  const kinds = c.layer_types ?? c.layers_block_type;
  if (!Array.isArray(kinds)) return invalid('layer_types', 'must list mamba or attention for each layer (with no attention layer there is no KV cache)');
  readLayerTypes(kinds, numLayers, ['mamba', 'attention'], invalid, unsupported);
  requireAttentionLayer(kinds.map((kind) => kind === 'attention'), 'layer_types', invalid);
  const heads = positiveInt('mamba_n_heads', 128);
  const inner = positiveInt('mamba_expand', 2) * hiddenSize;
  const headField = c.mamba_d_head ?? 'auto';
  const headDim = headField === 'auto' ? inner / heads : positiveInt('mamba_d_head');
  if (!Number.isInteger(headDim) || headDim * heads !== inner) invalid('mamba_n_heads', `(${heads}) heads of ${headDim} must make d_inner = mamba_expand · hidden_size = ${inner}`);
  const groups = positiveInt('mamba_n_groups', 1);
  // Bamba's gated RMSNorm spans all of d_inner; with several groups implementations differ on whether it is per group.
  if (groups !== 1) unsupported('mamba_n_groups', groups, '1 (Granite 4.0-H)');
  const dState = positiveInt('mamba_d_state', 256);
  const convKernel = positiveInt('mamba_d_conv', 4);
  if (convKernel < 2) invalid('mamba_d_conv', `must be at least 2, got ${convKernel}`);
  const flag = (field: string, fallback: boolean): boolean => {
    const value = c[field] ?? fallback;
    return typeof value === 'boolean' ? value : invalid(field, `must be true or false, got ${JSON.stringify(value)}`);
  };
  return {
    layers: kinds.flatMap((kind, i) => (kind === 'mamba' ? [i] : [])),
    heads,
    headDim,
    dState,
    groups,
    convKernel,
    convBias: flag('mamba_conv_bias', true),
    projBias: flag('mamba_proj_bias', false),
    inner,
    convDim: inner + 2 * groups * dState,
  };
}
