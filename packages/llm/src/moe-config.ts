import { MODEL_FAMILIES, type ModelFamily, type ModelType } from './model-families.js';

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
  const family = (MODEL_FAMILIES[type] as ModelFamily).moe;
  if (!family) return undefined;
  const experts = positiveInt('num_experts');
  const expertsPerToken = positiveInt('num_experts_per_tok');
  if (expertsPerToken > experts) invalid('num_experts_per_tok', `(${expertsPerToken}) must not exceed the number of experts (${experts})`);
  const normalizeTopK = family.normalize === 'config' ? c.norm_topk_prob === true : family.normalize;
  const step = positiveInt('decoder_sparse_step', 1);
  const only = c.mlp_only_layers ?? [];
  if (!Array.isArray(only) || !only.every((i) => Number.isInteger(i) && i >= 0 && i < numLayers)) {
    invalid('mlp_only_layers', `must list layer indices below ${numLayers}, got ${JSON.stringify(only)}`);
  }
  // Qwen2-MoE's gated shared expert is always there; Granite's shared MLP only where its width is not 0.
  const shared = family.sharedExpert === 'gated' || (family.sharedExpert === 'ungated' && Boolean(c.shared_expert_intermediate_size));
  const sharedSize = shared ? positiveInt('shared_expert_intermediate_size') : 0;
  const denseLayers = Array.from({ length: numLayers }, (_, i) => i).filter((i) => (only as number[]).includes(i) || (i + 1) % step !== 0);
  return {
    experts,
    expertsPerToken,
    expertSize: positiveInt(family.expertSizeField),
    normalizeTopK,
    denseLayers,
    ...(shared ? { sharedExpert: { size: sharedSize, gated: family.sharedExpert === 'gated' } } : {}),
  };
}

/** Whether layer `layer` routes through experts. */
export const routesLayer = (moe: MoeConfig | undefined, layer: number): moe is MoeConfig => moe !== undefined && !moe.denseLayers.includes(layer);
