import { requireAttentionLayer } from './layer-types.js';
import { booleanField } from './mamba-config.js';
import type { ModelType } from './model-families.js';

/**
 * Jamba's Mamba-1 mixers: on the layers listed in `layers` the mixer is Mamba-1 instead of
 * attention. in_proj gives x and the gate z (`inner` channels each; a bias with `projBias`, on
 * out_proj too); x goes through a causal depthwise convolution of `convKernel` taps (a bias with
 * `convBias`); x_proj gives the step's `dtRank` inputs and B and C (`dState` each), each through its
 * own RMSNorm; dt_proj widens the step to every channel; each channel decays each of its `dState`
 * state entries at its own rate.
 */
export interface Mamba1Config {
  layers: number[];
  inner: number;
  dState: number;
  convKernel: number;
  dtRank: number;
  convBias: boolean;
  projBias: boolean;
}

/** A Jamba config's layers: the Mamba-1 mixers (none where every layer attends) and the layers whose feed-forward is a mixture of experts. */
export interface JambaLayers {
  mamba1?: Mamba1Config;
  routedLayers: number[];
}

/**
 * JambaConfig's layers, as its `layers_block_type` and `layers_num_experts` derive them: layer i
 * attends where i % attn_layer_period = attn_layer_offset (a Mamba-1 mixer elsewhere) and routes
 * through experts where i % expert_layer_period = expert_layer_offset (none with num_experts 1);
 * the mamba_* fields (mamba_dt_rank "auto": ⌈hidden / 16⌉). Undefined for other families.
 */
export function parseJambaLayers(
  c: Record<string, unknown>,
  type: ModelType,
  numLayers: number,
  hiddenSize: number,
  positiveInt: (field: string, fallback?: number) => number,
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): JambaLayers | undefined {
  if (type !== 'jamba') return undefined;
  // The mixer's activation is hidden_act too.
  if ((c.hidden_act ?? 'silu') !== 'silu') unsupported('hidden_act', c.hidden_act, 'silu');
  const periodic = (kind: string, defaultPeriod: number, defaultOffset: number): number[] => {
    const period = positiveInt(`${kind}_layer_period`, defaultPeriod);
    const offset = c[`${kind}_layer_offset`] ?? defaultOffset;
    if (!Number.isInteger(offset) || (offset as number) < 0 || (offset as number) >= period) {
      invalid(`${kind}_layer_offset`, `must be an integer in 0…${period - 1} (below ${kind}_layer_period), got ${JSON.stringify(offset)}`);
    }
    return Array.from({ length: numLayers }, (_, i) => i).filter((i) => i % period === offset);
  };
  const attention = periodic('attn', 8, 4);
  requireAttentionLayer(Array.from({ length: numLayers }, (_, i) => attention.includes(i)), 'attn_layer_offset', invalid);
  const routed = positiveInt('num_experts', 16) > 1 ? periodic('expert', 2, 1) : [];
  const dtRank = c.mamba_dt_rank === undefined || c.mamba_dt_rank === 'auto' ? Math.ceil(hiddenSize / 16) : positiveInt('mamba_dt_rank');
  const convKernel = positiveInt('mamba_d_conv', 4);
  if (convKernel < 2) invalid('mamba_d_conv', `must be at least 2, got ${convKernel}`);
  const flag = booleanField(c, invalid);
  const layers = Array.from({ length: numLayers }, (_, i) => i).filter((i) => !attention.includes(i));
  const mamba1: Mamba1Config = {
    layers,
    inner: positiveInt('mamba_expand', 2) * hiddenSize,
    dState: positiveInt('mamba_d_state', 16),
    convKernel,
    dtRank,
    convBias: flag('mamba_conv_bias', true),
    projBias: flag('mamba_proj_bias', false),
  };
  return { ...(layers.length > 0 ? { mamba1 } : {}), routedLayers: routed };
}
