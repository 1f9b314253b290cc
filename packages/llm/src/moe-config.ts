import { MODEL_FAMILIES, type ModelFamily, type ModelType } from './model-families.js';

/** A mixture-of-experts MLP: a router picks `expertsPerToken` of `experts` experts (SwiGLU, or ungated: `gatedExperts`) for each token. */
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
  /** How router logits become the experts' scores: a softmax over them, or each one's sigmoid (LFM2-MoE). */
  scoring: 'softmax' | 'sigmoid';
  /** A learned per-expert bias added to the scores only to choose the experts (LFM2-MoE's expert_bias, DeepSeek-V3's and ERNIE 4.5's e_score_correction_bias). */
  selectionBias: boolean;
  /** Added to the chosen scores' sum before renormalizing them (LFM2-MoE: 1e-6; 0 elsewhere). */
  normalizeEpsilon: number;
  /** Factor on the chosen experts' weights (routed_scaling_factor; 1 where a family has none). */
  routedScale: number;
  /** down(act(gate(x)) · up(x)) experts (stacked gate and up rows), or down(act(up(x))) ones (Nemotron-H's ReLU² experts). */
  gatedExperts: boolean;
  /**
   * gpt-oss's experts: biases on the router's logits and on each expert's gate/up and down
   * projections, and a clamped SwiGLU, (clamp(up, ±limit) + 1) · g · σ(alpha · g) with
   * g = min(gate, limit) (swiglu_alpha, swiglu_limit).
   */
  clampedSwiglu?: { alpha: number; limit: number };
  /**
   * Phi-3.5-MoE's SparseMixer (inference): the top expert, weighed by its softmax over the logits
   * s with (max − s) / max(|s|, max) ≤ 2·jitter, then the best of the rest, weighed likewise
   * against the second max; two experts, not renormalized (router_jitter_noise).
   */
  sparseMixer?: { jitter: number };
  /** Group-limited routing (DeepSeek's n_group / topk_group): only the experts of each row's `kept` best groups are chosen from. */
  routingGroups?: RoutingGroups;
  /** The chosen weights scale each expert's input rows instead of its outputs (Llama 4: expert(score · x)). */
  weighsInputs?: true;
}

/**
 * DeepSeek's group-limited routing: the experts in `count` consecutive groups, each row choosing
 * only among the `kept` groups whose score is highest — a group's best score (DeepSeek-V2's
 * group_limited_greedy) or the sum of its two best scores + bias (DeepSeek-V3's, GLM-4.5's and
 * Nemotron-H's routing).
 */
export interface RoutingGroups {
  count: number;
  kept: number;
  score: 'max' | 'top-two-sum';
}

/**
 * The MoE settings of a config.json, or undefined for a dense family. Qwen's layers route where
 * transformers' Qwen2MoeDecoderLayer does: not listed in `mlp_only_layers`, and (index + 1) a
 * multiple of `decoder_sparse_step`; where the layer kinds name them (`routedLayers`: Nemotron-H's
 * 'E' layers, Jamba's every expert_layer_period-th) those route and no others (none: undefined).
 */
export function parseMoeConfig(
  c: Record<string, unknown>,
  type: ModelType,
  numLayers: number,
  routedLayers: readonly number[] | undefined,
  positiveInt: (field: string, fallback?: number) => number,
  positiveNumber: (value: unknown, field: string) => number,
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): MoeConfig | undefined {
  const family = (MODEL_FAMILIES[type] as ModelFamily).moe;
  if (!family || (family.optional && c.num_experts === 0) || routedLayers?.length === 0) return undefined;
  if (c.moe_latent_size !== undefined && c.moe_latent_size !== null) unsupported('moe_latent_size', c.moe_latent_size, 'null (no latent projection)');
  if (family.deepseekRouting) assertDeepseekRouting(c, family.deepseekRouting, unsupported);
  const experts = positiveInt('num_experts');
  const expertsPerToken = positiveInt('num_experts_per_tok');
  if (expertsPerToken > experts) invalid('num_experts_per_tok', `(${expertsPerToken}) must not exceed the number of experts (${experts})`);
  const normalizeTopK = family.normalize === 'config' ? c.norm_topk_prob === true : family.normalize;
  const routingGroups = parseRoutingGroups(c, family, experts, expertsPerToken, positiveInt, invalid, unsupported);
  // SparseMixer picks exactly two experts (transformers raises otherwise).
  if (family.sparseMixer && expertsPerToken !== 2) unsupported('num_experts_per_tok', expertsPerToken, '2 (SparseMixer routes each token to two experts)');
  const step = family.ignoresSparseStep ? 1 : positiveInt('decoder_sparse_step', 1);
  const only = family.ignoresSparseStep ? [] : (c.mlp_only_layers ?? []);
  if (!Array.isArray(only) || !only.every((i) => Number.isInteger(i) && i >= 0 && i < numLayers)) {
    invalid('mlp_only_layers', `must list layer indices below ${numLayers}, got ${JSON.stringify(only)}`);
  }
  const expertSize = positiveInt(family.expertSizeField);
  // Qwen2-MoE's gated shared expert is always there; Granite's shared MLP only where its width is not 0; GLM-4.5
  // gives its shared experts' count (n_shared_experts, each of an expert's width) instead of their width.
  const sharedCount = c.shared_expert_intermediate_size === undefined ? c.n_shared_experts : undefined;
  if (sharedCount !== undefined && !(Number.isInteger(sharedCount) && (sharedCount as number) >= 0)) invalid('n_shared_experts', `must be a whole number, got ${JSON.stringify(sharedCount)}`);
  const shared = family.sharedExpert === 'gated' || family.sharedExpert === 'expert-width' || (family.sharedExpert === 'ungated' && Boolean(c.shared_expert_intermediate_size ?? sharedCount));
  const sharedSize = !shared ? 0 : family.sharedExpert === 'expert-width' ? expertSize : sharedCount !== undefined ? (sharedCount as number) * expertSize : positiveInt('shared_expert_intermediate_size');
  // LFM2-MoE: the first num_dense_layers layers have a dense MLP.
  const firstDense = c.num_dense_layers ?? 0;
  if (!Number.isInteger(firstDense) || (firstDense as number) < 0 || (firstDense as number) > numLayers) invalid('num_dense_layers', `must be an integer in 0…${numLayers}, got ${JSON.stringify(firstDense)}`);
  const denseLayers = Array.from({ length: numLayers }, (_, i) => i).filter((i) =>
    routedLayers ? !routedLayers.includes(i) : i < (firstDense as number) || (only as number[]).includes(i) || (i + 1) % step !== 0,
  );
  const routedScale = positiveNumber(c.routed_scaling_factor ?? 1, 'routed_scaling_factor');
  const sigmoid = family.sigmoidRouter;
  return {
    experts,
    expertsPerToken,
    expertSize,
    normalizeTopK,
    denseLayers,
    ...(shared ? { sharedExpert: { size: sharedSize, gated: family.sharedExpert === 'gated' } } : {}),
    scoring: sigmoid ? 'sigmoid' : 'softmax',
    selectionBias: family.correctionBias === true || (sigmoid !== undefined && (sigmoid.selectionBias === 'always' || c.use_expert_bias === true)),
    normalizeEpsilon: sigmoid?.normalizeEpsilon ?? 0,
    routedScale,
    gatedExperts: !family.ungatedExperts,
    ...(family.sparseMixer ? { sparseMixer: { jitter: sparseMixerJitter(c, invalid, unsupported) } } : {}),
    ...(routingGroups ? { routingGroups } : {}),
    ...(family.weighsInputs ? { weighsInputs: true as const } : {}),
    ...(family.gptOssExperts ? { clampedSwiglu: { alpha: positiveNumber(c.swiglu_alpha ?? 1.702, 'swiglu_alpha'), limit: positiveNumber(c.swiglu_limit ?? 7, 'swiglu_limit') } } : {}),
  };
}

/** SparseMixer's router_jitter_noise ε, below 0.5: from there on 2ε ≥ 1 keeps every logit, which `sparseMixerRoute`'s threshold form does not cover. */
function sparseMixerJitter(c: Record<string, unknown>, invalid: (field: string, problem: string) => never, unsupported: (field: string, value: unknown, supported: string) => never): number {
  const value = c.router_jitter_noise;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) return invalid('router_jitter_noise', `must be a number >= 0, got ${JSON.stringify(value)}`);
  if (value >= 0.5) unsupported('router_jitter_noise', value, 'below 0.5 (Phi-3.5-MoE: 0.01)');
  return value;
}

/**
 * The groups a config's router limits its choice to, or undefined where every group is kept (one
 * group, or topk_group = n_group). DeepSeek-V3's routing (`sigmoidRouter` 'always': DeepSeek-V3,
 * GLM-4.5, Nemotron-H) scores a group by its two best score + bias; DeepSeek-V2 limits groups only
 * with topk_method group_limited_greedy, scoring a group by its best probability.
 */
function parseRoutingGroups(
  c: Record<string, unknown>,
  family: NonNullable<ModelFamily['moe']>,
  experts: number,
  expertsPerToken: number,
  positiveInt: (field: string, fallback?: number) => number,
  invalid: (field: string, problem: string) => never,
  unsupported: (field: string, value: unknown, supported: string) => never,
): RoutingGroups | undefined {
  const v2 = family.deepseekRouting === 'v2';
  if (family.sigmoidRouter?.selectionBias !== 'always' && !v2) return undefined;
  if (v2) {
    const method = c.topk_method ?? 'greedy';
    if (method === 'greedy') return undefined;
    if (method !== 'group_limited_greedy') unsupported('topk_method', method, 'greedy or group_limited_greedy (DeepSeek-V2)');
  }
  const count = positiveInt('n_group', 1);
  const kept = positiveInt('topk_group', count);
  if (experts % count !== 0) invalid('n_group', `(${count}) must divide the number of experts (${experts})`);
  if (kept > count) invalid('topk_group', `(${kept}) must not exceed n_group (${count})`);
  if (kept === count) return undefined;
  // V3's group score sums a group's two best experts.
  if (!v2 && experts / count < 2) invalid('n_group', `(${count}) must leave at least two experts a group (${experts} experts), whose two best score it`);
  const choosable = (kept * experts) / count;
  if (expertsPerToken > choosable) invalid('num_experts_per_tok', `(${expertsPerToken}) must not exceed the ${choosable} experts of the topk_group (${kept}) groups a token chooses from`);
  return { count, kept, score: v2 ? 'max' : 'top-two-sum' };
}

/**
 * DeepSeek's router settings this runtime runs: V2's softmax without renormalization (its own code
 * renormalizes with norm_topk_prob but then skips routed_scaling_factor, transformers' port ignores
 * the flag: no released V2 sets it), V3's sigmoid with noaux_tc; an MoE on every layer from
 * first_k_dense_replace on (moe_layer_freq 1).
 */
function assertDeepseekRouting(c: Record<string, unknown>, version: 'v2' | 'v3', unsupported: (field: string, value: unknown, supported: string) => never): void {
  const scoring = version === 'v2' ? 'softmax' : 'sigmoid';
  if (c.scoring_func !== undefined && c.scoring_func !== scoring) unsupported('scoring_func', c.scoring_func, `${scoring} (DeepSeek-${version.toUpperCase()})`);
  if (version === 'v2' && c.norm_topk_prob === true) unsupported('norm_topk_prob', true, 'false (DeepSeek-V2, V2-Lite, V2.5)');
  if (version === 'v3' && c.topk_method !== undefined && c.topk_method !== 'noaux_tc') unsupported('topk_method', c.topk_method, 'noaux_tc (DeepSeek-V3)');
  if (c.moe_layer_freq !== undefined && c.moe_layer_freq !== 1) unsupported('moe_layer_freq', c.moe_layer_freq, '1 (experts on every layer from first_k_dense_replace on)');
}

/** Whether layer `layer` routes through experts. */
export const routesLayer = (moe: MoeConfig | undefined, layer: number): moe is MoeConfig => moe !== undefined && !moe.denseLayers.includes(layer);

/**
 * Llama 4's routing layers: `moe_layers` where given, else every interleave_moe_layer_step-th
 * (from step − 1); undefined for other families.
 */
export function llama4RoutedLayers(c: Record<string, unknown>, type: ModelType, numLayers: number, positiveInt: (field: string, fallback?: number) => number, invalid: (field: string, problem: string) => never): number[] | undefined {
  if (type !== 'llama4_text') return undefined;
  const listed = c.moe_layers;
  if (listed !== undefined && listed !== null) {
    if (!Array.isArray(listed) || !listed.every((i) => Number.isInteger(i) && i >= 0 && i < numLayers)) invalid('moe_layers', `must list layer indices below ${numLayers}, got ${JSON.stringify(listed)}`);
    return [...new Set(listed as number[])].sort((a, b) => a - b);
  }
  const step = positiveInt('interleave_moe_layer_step', 1);
  return Array.from({ length: numLayers }, (_, i) => i).filter((i) => (i + 1) % step === 0);
}

/**
 * ERNIE 4.5's routing layers: (index + 1) a multiple of moe_layer_interval, from moe_layer_start_index
 * to moe_layer_end_index (−1: the last layer). Undefined for other families.
 */
export function ernieRoutedLayers(c: Record<string, unknown>, type: ModelType, numLayers: number, positiveInt: (field: string, fallback?: number) => number, invalid: (field: string, problem: string) => never): number[] | undefined {
  if (type !== 'ernie4_5_moe') return undefined;
  const interval = positiveInt('moe_layer_interval', 1);
  const index = (field: string, fallback: number): number => {
    const value = c[field] ?? fallback;
    if (!Number.isInteger(value) || (value as number) < -1 || (value as number) >= numLayers) invalid(field, `must be a layer index below ${numLayers} (or −1 for the last), got ${JSON.stringify(value)}`);
    return value === -1 ? numLayers - 1 : (value as number);
  };
  const [start, end] = [index('moe_layer_start_index', 1), index('moe_layer_end_index', -1)];
  return Array.from({ length: numLayers }, (_, i) => i).filter((i) => (i + 1) % interval === 0 && i >= start && i <= end);
}
