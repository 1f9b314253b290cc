import { readLayerTypes, requireAttentionLayer } from './layer-types.js';
import type { ModelType } from './model-families.js';
import type { NemotronLayerKind } from './nemotron-h-layers.js';

/**
 * How the mixer's output y meets its gate z before out_proj: RMSNorm(y ⊙ silu(z)) (Bamba's, Granite
 * 4.0-H's, Nemotron-H's; Falcon-H1 with mamba_rms_norm and not mamba_norm_before_gate),
 * RMSNorm(y) ⊙ silu(z) (Falcon-H1 with mamba_norm_before_gate), or y ⊙ silu(z) with no norm
 * (Falcon-H1 without mamba_rms_norm).
 */
export type MambaGate = 'norm-after-gate' | 'norm-before-gate' | 'no-norm';

/**
 * The Mamba-2 mixers of a hybrid (Granite 4.0-H's `granitemoehybrid`, Nemotron-H's `nemotron_h`,
 * Falcon-H1's `falcon_h1`): on the layers listed in `layers` the mixer is Mamba-2 instead of
 * attention (Falcon-H1: beside it, on every layer). d_inner splits into `heads` heads of `headDim`;
 * B and C have `groups` groups of `dState`; the causal convolution runs over x, B and C (`convDim`
 * channels, `convKernel` taps); in_proj carries a bias with `projBias`, out_proj with `outBias`;
 * the gated RMSNorm (`gate`) normalizes groups of `normGroupSize` channels (all of d_inner for
 * Granite, d_inner / groups for Nemotron-H and Falcon-H1).
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
  outBias: boolean;
  inner: number;
  convDim: number;
  gate: MambaGate;
  normGroupSize: number;
}

/** A reader of a config's boolean fields: `flag(field, fallback)`, a typed error for anything but true or false. */
export function booleanField(c: Record<string, unknown>, invalid: (field: string, problem: string) => never) {
  return (field: string, fallback: boolean): boolean => {
    const value = c[field] ?? fallback;
    return typeof value === 'boolean' ? value : invalid(field, `must be true or false, got ${JSON.stringify(value)}`);
  };
}

/**
 * GraniteMoeHybridConfig's mamba_* fields and `layer_types` ('mamba' or 'attention' per layer;
 * the old name `layers_block_type`; without either every layer is a Mamba layer, which this
 * runtime refuses: the KV cache needs an attention layer), NemotronHConfig's (its layers read
 * by `nemotronLayerKinds`), or FalconH1Config's (a mixer on every layer). Undefined for other families.
 */
export function parseMambaConfig(
  c: Record<string, unknown>,
  type: ModelType,
  numLayers: number,
  hiddenSize: number,
  nemotronKinds: readonly NemotronLayerKind[] | undefined,
  positiveInt: (field: string, fallback?: number) => number,
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): MambaConfig | undefined {
  const flag = booleanField(c, invalid);
  const sizes = (heads: number, headDim: number, groups: number, dState: number, convKernel: number) => {
    if (convKernel < 2) invalid(type === 'nemotron_h' ? 'conv_kernel' : 'mamba_d_conv', `must be at least 2, got ${convKernel}`);
    const inner = heads * headDim;
    return { heads, headDim, dState, groups, convKernel, inner, convDim: inner + 2 * groups * dState };
  };
  if (type === 'falcon_h1') return falconMixers(c, numLayers, hiddenSize, flag, sizes, positiveInt, invalid, unsupported);
  if (nemotronKinds) {
    requireAttentionLayer(nemotronKinds.map((kind) => kind === 'attention'), 'hybrid_override_pattern', invalid);
    // A pattern without Mamba layers (attention and MLPs only) keeps no recurrent state.
    if (!nemotronKinds.includes('mamba')) return undefined;
    if ((c.mamba_hidden_act ?? 'silu') !== 'silu') unsupported('mamba_hidden_act', c.mamba_hidden_act, 'silu');
    assertNoTimeStepClamp(c.time_step_limit, unsupported);
    const heads = positiveInt('mamba_num_heads', 128);
    const groups = positiveInt('n_groups', 8);
    if (heads % groups !== 0) invalid('n_groups', `(${groups}) must divide mamba_num_heads (${heads})`);
    const shape = sizes(heads, positiveInt('mamba_head_dim', 64), groups, positiveInt('ssm_state_size', 128), positiveInt('conv_kernel', 4));
    return {
      layers: nemotronKinds.flatMap((kind, i) => (kind === 'mamba' ? [i] : [])),
      ...shape,
      convBias: flag('use_conv_bias', true),
      projBias: flag('use_bias', false),
      outBias: flag('use_bias', false),
      gate: 'norm-after-gate',
      normGroupSize: shape.inner / groups,
    };
  }
  if (type !== 'granitemoehybrid' && type !== 'bamba') return undefined;
  const kinds = type === 'bamba' ? bambaLayerKinds(c, numLayers, invalid) : (c.layer_types ?? c.layers_block_type);
  if (!Array.isArray(kinds)) return invalid('layer_types', 'must list mamba or attention for each layer (with no attention layer there is no KV cache)');
  readLayerTypes(kinds, numLayers, ['mamba', 'attention'], invalid, unsupported);
  requireAttentionLayer(kinds.map((kind) => kind === 'attention'), type === 'bamba' ? 'attn_layer_indices' : 'layer_types', invalid);
  const heads = positiveInt('mamba_n_heads', 128);
  const inner = positiveInt('mamba_expand', 2) * hiddenSize;
  const headDim = mambaHeadDim(c, heads, inner, 'd_inner = mamba_expand · hidden_size', positiveInt, invalid);
  const groups = positiveInt('mamba_n_groups', 1);
  // Bamba's gated RMSNorm spans all of d_inner in transformers but one group in mamba_ssm's kernels: with several groups they differ.
  if (groups !== 1) unsupported('mamba_n_groups', groups, '1 (Granite 4.0-H, Bamba)');
  // Every layer attending: no recurrent state to keep.
  if (!kinds.includes('mamba')) return undefined;
  const shape = sizes(heads, headDim, groups, positiveInt('mamba_d_state', 256), positiveInt('mamba_d_conv', 4));
  return {
    layers: kinds.flatMap((kind, i) => (kind === 'mamba' ? [i] : [])),
    ...shape,
    convBias: flag('mamba_conv_bias', true),
    projBias: flag('mamba_proj_bias', false),
    outBias: flag('mamba_proj_bias', false),
    gate: 'norm-after-gate',
    normGroupSize: shape.inner,
  };
}

/** Bamba's layers: attention on those `attn_layer_indices` lists, a Mamba-2 mixer on the others. */
function bambaLayerKinds(c: Record<string, unknown>, numLayers: number, invalid: (field: string, problem: string) => never): string[] {
  const indices = c.attn_layer_indices ?? [];
  if (!Array.isArray(indices) || !indices.every((i) => Number.isInteger(i) && i >= 0 && i < numLayers)) {
    return invalid('attn_layer_indices', `must list layer indices below ${numLayers}, got ${JSON.stringify(indices)}`);
  }
  return Array.from({ length: numLayers }, (_, i) => (indices.includes(i) ? 'attention' : 'mamba'));
}

/**
 * Falcon-H1's mixers, one on every layer beside its attention: d_inner = mamba_d_ssm (1024 by
 * default; null: mamba_expand · hidden), mamba_n_heads heads of mamba_d_head ("auto": d_inner /
 * heads), in_proj's bias with mamba_proj_bias, out_proj's with projectors_bias, the output gated
 * as mamba_rms_norm and mamba_norm_before_gate say (the norm per group of d_inner / mamba_n_groups).
 */
function falconMixers(
  c: Record<string, unknown>,
  numLayers: number,
  hiddenSize: number,
  flag: (field: string, fallback: boolean) => boolean,
  sizes: (heads: number, headDim: number, groups: number, dState: number, convKernel: number) => Omit<MambaConfig, 'layers' | 'convBias' | 'projBias' | 'outBias' | 'gate' | 'normGroupSize'>,
  positiveInt: (field: string, fallback?: number) => number,
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): MambaConfig {
  assertNoTimeStepClamp(c.time_step_limit, unsupported);
  const inner = c.mamba_d_ssm === null ? positiveInt('mamba_expand', 2) * hiddenSize : positiveInt('mamba_d_ssm', 1024);
  const heads = positiveInt('mamba_n_heads', 128);
  const headDim = mambaHeadDim(c, heads, inner, 'd_inner (mamba_d_ssm, or mamba_expand · hidden_size)', positiveInt, invalid);
  const groups = positiveInt('mamba_n_groups', 1);
  if (heads % groups !== 0) invalid('mamba_n_groups', `(${groups}) must divide mamba_n_heads (${heads})`);
  const shape = sizes(heads, headDim, groups, positiveInt('mamba_d_state', 256), positiveInt('mamba_d_conv', 4));
  const gate: MambaGate = !flag('mamba_rms_norm', false) ? 'no-norm' : flag('mamba_norm_before_gate', true) ? 'norm-before-gate' : 'norm-after-gate';
  return {
    layers: Array.from({ length: numLayers }, (_, i) => i),
    ...shape,
    convBias: flag('mamba_conv_bias', true),
    projBias: flag('mamba_proj_bias', false),
    outBias: flag('projectors_bias', false),
    gate,
    normGroupSize: inner / groups,
  };
}

/** `mamba_d_head` (its default "auto": d_inner / heads), which with `heads` heads must make d_inner (`what` names how the config gives it). */
function mambaHeadDim(
  c: Record<string, unknown>,
  heads: number,
  inner: number,
  what: string,
  positiveInt: (field: string, fallback?: number) => number,
  invalid: (field: string, problem: string) => never,
): number {
  const headDim = (c.mamba_d_head ?? 'auto') === 'auto' ? inner / heads : positiveInt('mamba_d_head');
  if (!Number.isInteger(headDim) || headDim * heads !== inner) invalid('mamba_n_heads', `(${heads}) heads of ${headDim} must make ${what} = ${inner}`);
  return headDim;
}

/**
 * Nemotron-H's and Falcon-H1's `time_step_limit` (lower, upper): mamba_ssm's kernels clamp each step size to it,
 * and the released configs give (0, ∞), which clamps nothing (a softplus is positive). Any other
 * limit is refused rather than ignored.
 */
function assertNoTimeStepClamp(limit: unknown, unsupported: (field: string, value: unknown, supported: string) => never): void {
  if (limit === undefined || limit === null) return;
  const clampsNothing = Array.isArray(limit) && limit.length === 2 && typeof limit[0] === 'number' && limit[0] <= 0 && limit[1] === Infinity;
  if (!clampsNothing) unsupported('time_step_limit', limit, '[0.0, Infinity] (no clamp on the step sizes)');
}
