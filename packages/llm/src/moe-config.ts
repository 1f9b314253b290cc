import type { ModelType } from './model-families.js';

/** A mixture-of-experts MLP: a router picks `expertsPerToken` of `experts` SwiGLU experts for each token. */
export interface MoeConfig {
  experts: number;
  expertsPerToken: number;
  /** Each expert's intermediate width. */
  expertSize: number;
  /** The chosen experts' router probabilities rescaled to sum to 1 (Mixtral always; Qwen and OLMoE as `norm_topk_prob` says). */
  normalizeTopK: boolean;
  /** Layers whose MLP is the dense one of `intermediate_size` (Qwen's `mlp_only_layers` and `decoder_sparse_step`); the others route. */
  denseLayers: number[];
  /**
   * A shared expert every token passes through beside the routed ones: its width, and whether its
   * output is scaled by sigmoid(shared_expert_gate(x)) (Qwen2-MoE) or added as it is (Granite's shared_mlp).
   */
  sharedExpert?: { size: number; gated: boolean };
}

/** Where each family keeps its experts' settings, and its transformers class defaults. */
const MOE_FAMILIES: Partial<
  Record<ModelType, { expertsField: string; expertSizeField: string; experts: number; perToken: number; normalize: boolean | 'config'; shared?: { field: string; gated: boolean } }>
> = {
  mixtral: { expertsField: 'num_local_experts', expertSizeField: 'intermediate_size', experts: 8, perToken: 2, normalize: true },
  qwen2_moe: {
    expertsField: 'num_experts',
    expertSizeField: 'moe_intermediate_size',
    experts: 60,
    perToken: 4,
    normalize: 'config',
    shared: { field: 'shared_expert_intermediate_size', gated: true },
  },
  qwen3_moe: { expertsField: 'num_experts', expertSizeField: 'moe_intermediate_size', experts: 128, perToken: 8, normalize: 'config' },
  olmoe: { expertsField: 'num_experts', expertSizeField: 'intermediate_size', experts: 64, perToken: 8, normalize: 'config' },
  // Granite's router takes the softmax of the top-k logits: the chosen probabilities renormalized.
  granitemoe: { expertsField: 'num_local_experts', expertSizeField: 'intermediate_size', experts: 8, perToken: 2, normalize: true },
  granitemoeshared: {
    expertsField: 'num_local_experts',
    expertSizeField: 'intermediate_size',
    experts: 8,
    perToken: 2,
    normalize: true,
    shared: { field: 'shared_intermediate_size', gated: false },
  },
};

/** Whether `type` routes its MLP through experts. */
export const isMoeFamily = (type: ModelType): boolean => MOE_FAMILIES[type] !== undefined;

/**
 * The MoE settings of a config.json, or undefined for a dense family. Qwen's layers route where
 * transformers' Qwen2MoeDecoderLayer does: not listed in `mlp_only_layers`, and (index + 1) a
 * multiple of `decoder_sparse_step`.
 */
export function parseMoeConfig(
  c: Record<string, unknown>,
  type: ModelType,
  numLayers: number,
  positiveInt: (field: string, fallback?: number) => number,
  invalid: (field: string, problem: string) => never,
): MoeConfig | undefined {
  const family = MOE_FAMILIES[type];
  if (!family) return undefined;
  const experts = positiveInt(family.expertsField, family.experts);
  const expertsPerToken = positiveInt('num_experts_per_tok', family.perToken);
  if (expertsPerToken > experts) invalid('num_experts_per_tok', `(${expertsPerToken}) must not exceed the number of experts (${experts})`);
  const normalizeTopK = family.normalize === 'config' ? c.norm_topk_prob === true : family.normalize;
  const step = positiveInt('decoder_sparse_step', 1);
  const only = c.mlp_only_layers ?? [];
  if (!Array.isArray(only) || !only.every((i) => Number.isInteger(i) && i >= 0 && i < numLayers)) {
    invalid('mlp_only_layers', `must list layer indices below ${numLayers}, got ${JSON.stringify(only)}`);
  }
  // GraniteMoeSharedConfig's shared_intermediate_size defaults to 0: no shared expert.
  const sharedSize = family.shared && (type === 'granitemoeshared' && !c[family.shared.field] ? 0 : positiveInt(family.shared.field));
  const denseLayers = Array.from({ length: numLayers }, (_, i) => i).filter((i) => (only as number[]).includes(i) || (i + 1) % step !== 0);
  return {
    experts,
    expertsPerToken,
    expertSize: positiveInt(family.expertSizeField),
    normalizeTopK,
    denseLayers,
    ...(sharedSize ? { sharedExpert: { size: sharedSize, gated: family.shared!.gated } } : {}),
  };
}

/** Whether layer `layer` routes through experts. */
export const routesLayer = (moe: MoeConfig | undefined, layer: number): moe is MoeConfig => moe !== undefined && !moe.denseLayers.includes(layer);
