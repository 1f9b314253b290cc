import { CorruptModelFileError, InvalidConfigError, parseRopeScaling, type RopeScaling, type RopeScalingContext, UnsupportedModelError } from '@kvkit/tensor-core';
import { inCommonNames } from './config-names.js';
import { readLayerTypes } from './layer-types.js';
import { type LayerTraits, layerTraits, MODEL_FAMILIES, type ModelFamily, type ModelType } from './model-families.js';
import { type MambaConfig, parseMambaConfig } from './mamba-config.js';
import { type Mamba1Config, parseJambaLayers } from './mamba1-config.js';
import { type LatentAttentionConfig, parseLatentAttention } from './latent-attention-config.js';
import { parseQuantization } from './quantization-config.js';
import { ernieRoutedLayers, llama4RoutedLayers, type MoeConfig, parseMoeConfig } from './moe-config.js';
import { nemotronLayerKinds } from './nemotron-h-layers.js';
import { type FalconH1Multipliers, parseFalconH1Multipliers } from './falcon-h1-config.js';
import { type DeltaNetConfig, parseDeltaNetConfig } from './delta-net-config.js';
import { lfm2FeedForwardSize, parseShortConv, type ShortConvConfig } from './short-conv-config.js';

/** The `model_type`s this runtime runs, with the checkpoints each covers. */
export const SUPPORTED_MODEL_TYPES = Object.fromEntries(Object.entries(MODEL_FAMILIES).map(([type, family]) => [type, family.covers])) as Record<ModelType, string>;

export type { ModelType };

/** `rope_scaling` types implemented (HF names). */
export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'dynamic', 'llama3', 'yarn', 'longrope'] as const;

/** A Llama-family config, normalized from an HF config.json. */
export interface LlamaConfig extends LayerTraits {
  modelType: ModelType;
  numLayers: number;
  hiddenSize: number;
  intermediateSize: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  /** The context length (max_position_embeddings; with YaRN at least its original context × factor). */
  maxPositions: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  /** Channels of each head that rotate: the first `rotaryDim` (head_dim × partial_rotary_factor; Phi-4-mini: 3/4); the rest pass through. */
  rotaryDim: number;
  /** Sliding-window attention span (Mistral, Gemma, Qwen with use_sliding_window): a query sees keys with queryPos − keyPos < slidingWindow. */
  slidingWindow?: number;
  /** The norms' epsilon (rms_norm_eps; GPT-NeoX's layer_norm_eps). */
  normEps: number;
  tieWordEmbeddings: boolean;
  /** Layers whose queries and keys are not rotated (SmolLM3's NoPE layers, from `no_rope_layers`; Command R7B's global layers); empty elsewhere. */
  noRopeLayers: number[];
  /** The MLP's activation: SwiGLU's SiLU, the tanh-approximated GELU (Gemma's GeGLU), the exact GELU (GPT-NeoX), or ReLU² (Nemotron-H). */
  mlpActivation: 'silu' | 'gelu_tanh' | 'gelu' | 'relu2' | 'xielu';
  /** Factor on the token embeddings (Gemma: √hidden_size; Granite: embedding_multiplier); 1 elsewhere. */
  embedScale: number;
  /** Granite: factor on each block's output before it joins the residual stream (residual_multiplier); 1 elsewhere. */
  residualScale: number;
  /** Granite: the logits are divided by this (logits_scaling); 1 elsewhere. */
  logitsDivisor: number;
  /** The attention's score scale where it is not 1/√head_dim (Gemma: query_pre_attn_scalar^−½; Granite: attention_multiplier). */
  attentionScale?: number;
  /** The layers that use `slidingWindow` where not all do (Gemma 3: five of every six; Qwen: those from max_window_layers on); absent: all. */
  slidingLayers?: number[];
  /** The rotary base of the sliding-window layers where they have their own rope, without rope_scaling (Gemma 3's rope_local_base_freq; OLMo 3's rope_theta). */
  localRopeTheta?: number;
  /** Llama 4: its rotating layers attend within chunks of this many tokens (attention_chunk_size), each token to the earlier ones of its own chunk. */
  attentionChunk?: number;
  /** Llama 4: the per-head q/k norms carry no weights (an L2 norm: x · rsqrt(mean(x²) + eps)) and sit on the rotating layers only. */
  l2QkNorm?: true;
  /**
   * Llama 4's NoPE layers: the queries of the token at position p times
   * log1p(floor((p + 1) / floorScale)) · scale + 1 (attn_temperature_tuning, floor_scale, attn_scale).
   */
  queryTemperature?: { floorScale: number; scale: number };
  /** OLMo and OLMoE: q, k and v clamped to ±clipQkv after their projections (and OLMoE's q/k norms), before RoPE (clip_qkv). */
  clipQkv?: number;
  /**
   * DeepSeek's multi-head latent attention: the cache holds one shared head per token (`numKvHeads`
   * 1, `headDim` = ropeDim + rank: the rotated key, then the latent), which every query head reads.
   */
  latentAttention?: LatentAttentionConfig;
  /**
   * Block FP8 weights (quantization_config `fp8`): the rows and columns of each block sharing one
   * `weight_scale_inv`. The loader dequantizes every F8_E4M3 tensor with its scales.
   */
  fp8WeightBlocks?: [number, number];
  /** gpt-oss: a learned logit per query head (each layer's `sinks`) joins every row's softmax, weighing no value. */
  attentionSinks?: true;
  /** Gemma 2: scores soft-capped to ±cap (cap · tanh(s / cap)) before the softmax. */
  attentionSoftcap?: number;
  /** Gemma 2: logits soft-capped to ±cap. */
  finalLogitSoftcap?: number;
  /** Which projections carry a bias (Qwen2: q, k, v; Llama and Qwen3 with attention_bias: all four). */
  attentionBias: { q: boolean; k: boolean; v: boolean; o: boolean };
  bosTokenId?: number;
  eosTokenIds: number[];
  /** The dtype the checkpoint was saved in, as the config states it (informational). */
  torchDtype?: string;
  /** The mixture-of-experts MLP (Mixtral, Qwen-MoE, OLMoE); absent: every layer's MLP is dense. */
  moe?: MoeConfig;
  /** LFM2's gated short convolutions in place of attention on some layers; absent: every layer attends. */
  shortConv?: ShortConvConfig;
  /** Granite 4.0-H's and Nemotron-H's Mamba-2 mixers in place of attention on some layers (Falcon-H1's beside it on every layer: `falconH1`). */
  mamba?: MambaConfig;
  /** Falcon-H1: attention and the Mamba-2 mixer side by side on every layer, and their μP multipliers. */
  falconH1?: FalconH1Multipliers;
  /** GPT-2: learned absolute position embeddings added to the token embeddings (none beyond maxPositions). */
  learnedPositions?: true;
  /** Jamba's Mamba-1 mixers in place of attention on some layers. */
  mamba1?: Mamba1Config;
  /** Qwen3.5's and Qwen3-Next's Gated DeltaNet (linear attention) layers in place of attention on some layers. */
  deltaNet?: DeltaNetConfig;
  /**
   * Nemotron-H: each layer is one block, x + mixer(norm(x)), with no MLP after the mixer; the
   * layers in `mlpLayers` are an MLP alone (neither attention nor Mamba: a dense one, or a mixture
   * of experts where `moe` routes the layer).
   */
  singleBlocks?: { mlpLayers: number[] };
  /**
   * The layers that attend, in order: the KV cache has one layer per entry (cache layer i is decoder
   * layer attentionLayers[i]). Every layer, except in a hybrid model (`shortConv`, `mamba`, `singleBlocks`).
   */
  attentionLayers: number[];
}

/** Reads an HF config.json (already parsed) into a `LlamaConfig`, refusing what this runtime cannot run. */
export function parseModelConfig(raw: unknown, fileName = 'config.json'): LlamaConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CorruptModelFileError(fileName, 'must hold a JSON object');
  const c = inCommonNames(raw as Record<string, unknown>, fileName);
  const supportedList = Object.entries(SUPPORTED_MODEL_TYPES)
    .map(([type, what]) => `${type} (${what})`)
    .join('; ');
  const modelType = c.model_type;
  if (typeof modelType !== 'string' || !(modelType in SUPPORTED_MODEL_TYPES)) {
    throw new UnsupportedModelError(`${fileName}: model_type ${JSON.stringify(modelType)} is not supported; supported: ${supportedList}`, {
      file: fileName,
      field: 'model_type',
      value: modelType,
      supported: Object.keys(SUPPORTED_MODEL_TYPES),
    });
  }
  const type = modelType as ModelType;
  const unsupported = (field: string, value: unknown, supported: string): never => {
    throw new UnsupportedModelError(`${fileName}: ${field} = ${JSON.stringify(value)} is not supported; supported: ${supported}`, {
      file: fileName,
      field,
      value,
    });
  };
  const invalid = (field: string, problem: string): never => {
    throw new InvalidConfigError(`${fileName}: ${field} ${problem}`, { file: fileName, field, value: c[field] });
  };
  const positiveInt = (field: string, fallback?: number): number => {
    const value = c[field] ?? fallback;
    if (value === undefined) return invalid(field, 'is required');
    if (!Number.isSafeInteger(value) || (value as number) <= 0) return invalid(field, `must be a positive integer, got ${JSON.stringify(value)}`);
    return value as number;
  };
  const positiveNumber = (value: unknown, field: string): number => {
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) return invalid(field, `must be a positive number, got ${JSON.stringify(value)}`);
    return value;
  };

  const architectures = c.architectures;
  const family = MODEL_FAMILIES[type] as ModelFamily;
  const known = [family.architecture, ...(family.releasedArchitectures ?? [])];
  if (Array.isArray(architectures) && architectures.length > 0 && !known.some((name) => architectures.includes(name))) {
    unsupported('architectures', architectures, `${known.join(' or ')} for model_type ${type}`);
  }
  const gemma = type === 'gemma3_text' || type === 'gemma2';
  const traits = layerTraits(type);
  if ((type === 'phi' || type === 'stablelm') && c.qk_layernorm === true) {
    unsupported('qk_layernorm', true, type === 'phi' ? 'false (Phi-1, Phi-1.5, Phi-2)' : 'false (StableLM 2 1.6B, StableLM-3B)');
  }
  if ((type === 'cohere' || type === 'cohere2') && c.use_qk_norm === true) unsupported('use_qk_norm', true, 'false (Command R, Aya)');
  // With use_bias ERNIE 4.5's experts carry biases too, which the stacked experts do not hold (the released MoE checkpoints have none).
  if (type === 'ernie4_5_moe' && c.use_bias === true) unsupported('use_bias', true, 'false (ERNIE-4.5-21B-A3B, 300B-A47B)');
  if (type === 'gpt2' && c.scale_attn_by_inverse_layer_idx === true) unsupported('scale_attn_by_inverse_layer_idx', true, 'false (GPT-2, DistilGPT2)');
  const mlpActivation = parseActivation(c, type, unsupported);
  const quantization = parseQuantization(c, type, unsupported, invalid);
  const hiddenSize = positiveInt('hidden_size');
  const numHeads = positiveInt('num_attention_heads');
  const numKvHeads = positiveInt('num_key_value_heads', type === 'mistral' && c.num_key_value_heads === undefined ? 8 : numHeads);
  if (numHeads % numKvHeads !== 0) invalid('num_key_value_heads', `(${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  // DeepSeek's MLA: its own head sizes, one shared latent head in the cache.
  const latent = parseLatentAttention(c, type, positiveInt, positiveNumber, invalid);
  if (!latent && (c.head_dim === undefined || c.head_dim === null)) {
    if (hiddenSize % numHeads !== 0) invalid('hidden_size', `(${hiddenSize}) must be a multiple of num_attention_heads (${numHeads}) when head_dim is not given`);
  }
  const headDim = latent?.headDim ?? (c.head_dim === undefined || c.head_dim === null ? hiddenSize / numHeads : positiveInt('head_dim'));
  if (headDim % 2 !== 0) invalid('head_dim', `must be even for rotary embeddings, got ${headDim}`);
  // BambaConfig hard-codes half of each head rotating, whatever its config.json says; transformers 5 may keep the factor in
  // rope_parameters; Qwen3-Next's and Qwen3.5's classes default it to a quarter.
  const ropeParameters = typeof c.rope_parameters === 'object' && c.rope_parameters !== null ? (c.rope_parameters as Record<string, unknown>) : {};
  const partialRotary = type === 'bamba' ? 0.5 : (c.partial_rotary_factor ?? ropeParameters.partial_rotary_factor ?? (MODEL_FAMILIES[type] as ModelFamily).partialRotaryDefault ?? 1);
  if (typeof partialRotary !== 'number' || !(partialRotary > 0 && partialRotary <= 1)) invalid('partial_rotary_factor', `must be a number in (0, 1], got ${JSON.stringify(partialRotary)}`);
  // HF: int(head_dim · partial_rotary_factor) channels rotate.
  const rotaryDim = latent?.rotaryDim ?? Math.floor(headDim * (partialRotary as number));
  if (rotaryDim === 0 || rotaryDim % 2 !== 0) invalid('partial_rotary_factor', `must leave an even, nonzero number of rotary channels; ${partialRotary} of head_dim ${headDim} gives ${rotaryDim}`);

  // Nemotron-H lists its layers (num_hidden_layers, where given, must count them).
  const nemotronKinds = nemotronLayerKinds(c, type, invalid, unsupported);
  const numLayers = positiveInt('num_hidden_layers', nemotronKinds?.length);
  if (nemotronKinds && nemotronKinds.length !== numLayers) invalid('num_hidden_layers', `(${numLayers}) must equal the ${nemotronKinds.length} layers hybrid_override_pattern or layers_block_type gives`);
  const maxPositions = positiveInt('max_position_embeddings', MODEL_FAMILIES[type].maxPositions);
  const original = c.original_max_position_embeddings;
  const ropeContext: RopeScalingContext = { maxPositionEmbeddings: maxPositions, ...(typeof original === 'number' ? { originalMaxPositionEmbeddings: original } : {}) };
  const gemmaFields = gemma ? parseGemma(c, type, fileName, ropeContext, unsupported, positiveNumber) : undefined;
  const rope = gemmaFields?.rope ?? hunyuanAlphaRope(c, type, headDim, positiveNumber) ?? parseRope(c, fileName, ropeContext, unsupported, positiveNumber);
  const { ropeTheta } = rope;
  const ropeScaling = type === 'phimoe' ? withPhimoeMscales(rope.ropeScaling, c, positiveNumber) : rope.ropeScaling;
  if (ropeScaling.type === 'longrope') {
    for (const [key, factors] of [['short_factor', ropeScaling.shortFactor], ['long_factor', ropeScaling.longFactor]] as const) {
      if (factors.length !== rotaryDim / 2) invalid(c.rope_parameters ? 'rope_parameters' : 'rope_scaling', `${key} has ${factors.length} entries; ${rotaryDim} rotary channels need ${rotaryDim / 2}`);
    }
  }
  // YaRN and dynamic NTK stretch the original context by their factor (vLLM's reading; Qwen's
  // configs keep max_position_embeddings at the original length).
  const stretched = ropeScaling.type === 'yarn' || ropeScaling.type === 'dynamic';
  const context = stretched ? Math.max(maxPositions, Math.floor(ropeScaling.originalMaxPositionEmbeddings * ropeScaling.factor)) : maxPositions;
  // Llama 4's rotating layers attend within chunks of attention_chunk_size (`AttentionChunks`).
  const chunk = type === 'llama4_text' && c.attention_chunk_size !== null ? positiveInt('attention_chunk_size') : undefined;
  const { slidingWindow, slidingLayers } = parseSlidingWindow(c, type, numLayers, unsupported, invalid, positiveInt);

  const noRopeLayers =
    type === 'smollm3' || type === 'llama4_text'
      ? parseNoRopeLayers(c, numLayers, invalid, positiveInt)
      : type === 'cohere2'
        ? Array.from({ length: numLayers }, (_, i) => i).filter((i) => slidingWindow === undefined || (slidingLayers !== undefined && !slidingLayers.includes(i)))
        : type === 'exaone4' && c.sliding_window !== null
          ? // EXAONE 4.0 with a window: its global layers go without position embedding (without one, every layer rotates).
            Array.from({ length: numLayers }, (_, i) => i).filter((i) => slidingWindow === undefined || (slidingLayers !== undefined && !slidingLayers.includes(i)))
          : [];
  // GPT-NeoX's and GLM's attention carries biases unless attention_bias says otherwise (GLM-4.5's: as it says); Phi's always does.
  const attentionBias = type === 'phi' || Boolean(c.attention_bias ?? (type === 'gpt_neox' || type === 'glm' || type === 'glm4'));
  // LayerNorm families name their epsilon layer_norm_eps (default 1e-5), RMSNorm ones rms_norm_eps.
  const epsField = traits.normKind === 'layer' ? 'layer_norm_eps' : 'rms_norm_eps';
  const normEps = positiveNumber(c[epsField] ?? (traits.normKind === 'layer' ? 1e-5 : 1e-6), epsField);
  // GPT-NeoX and StableLM read use_parallel_residual (defaults: true and false).
  const readsParallel = type === 'gpt_neox' || type === 'stablelm';
  const parallelResidual = readsParallel && typeof c.use_parallel_residual === 'boolean' ? c.use_parallel_residual : traits.parallelResidual;
  const jamba = parseJambaLayers(c, type, numLayers, hiddenSize, positiveInt, invalid, unsupported);
  const routedLayers =
    nemotronKinds?.flatMap((kind, i) => (kind === 'moe' ? [i] : [])) ?? jamba?.routedLayers ?? ernieRoutedLayers(c, type, numLayers, positiveInt, invalid) ?? llama4RoutedLayers(c, type, numLayers, positiveInt, invalid);
  const moe = parseMoeConfig(c, type, numLayers, routedLayers, positiveInt, positiveNumber, invalid, unsupported);
  const shortConv = parseShortConv(c, type, numLayers, positiveInt, invalid, unsupported);
  const mamba = parseMambaConfig(c, type, numLayers, hiddenSize, nemotronKinds, positiveInt, invalid, unsupported);
  const mlpLayers = nemotronKinds?.flatMap((kind, i) => (kind === 'mlp' || kind === 'moe' ? [i] : []));
  const falconH1 = parseFalconH1Multipliers(c, type, positiveNumber, invalid);
  const deltaNet = parseDeltaNetConfig(c, type, numLayers, positiveInt, invalid, unsupported);
  // The layers that do not attend (Falcon-H1's attend beside their Mamba mixers).
  const mamba1 = jamba?.mamba1;
  const nonAttending = new Set([...(shortConv?.layers ?? []), ...(falconH1 ? [] : (mamba?.layers ?? [])), ...(mamba1?.layers ?? []), ...(deltaNet?.layers ?? []), ...(mlpLayers ?? [])]);
  // The dense MLP's width; a config whose every layer routes may leave it out. Granite 4.0-H's dense MLP is its shared one.
  const intermediateSize =
    type === 'granitemoehybrid' && !moe
      ? positiveInt('shared_expert_intermediate_size')
      : type === 'llama4_text'
        ? positiveInt('intermediate_size_mlp')
      : positiveInt('intermediate_size', moe && moe.denseLayers.length === 0 ? moe.expertSize : type === 'gpt2' ? 4 * hiddenSize : undefined);
  // Granite 4.0-H's attention rotates only with position_embedding_type "rope"; Nemotron-H's and Jamba's never (`positions`
  // 'none'); GPT-2 adds learned position embeddings to its token embeddings instead ('learned': `learnedPositions`).
  const positions = (MODEL_FAMILIES[type] as ModelFamily).positions ?? 'rope';
  const noPositions = (type === 'granitemoehybrid' && c.position_embedding_type !== 'rope') || positions !== 'rope';
  if (type === 'granitemoehybrid' && ![undefined, null, 'nope', 'rope'].includes(c.position_embedding_type as string)) {
    unsupported('position_embedding_type', c.position_embedding_type, '"rope", or "nope" / none (no rotary embedding)');
  }
  return {
    modelType: type,
    numLayers,
    hiddenSize,
    intermediateSize: type === 'lfm2' ? lfm2FeedForwardSize(c, intermediateSize, positiveInt, invalid) : intermediateSize,
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: positiveInt('vocab_size'),
    maxPositions: context,
    ropeTheta,
    ropeScaling,
    rotaryDim,
    ...(slidingWindow !== undefined ? { slidingWindow } : {}),
    ...(slidingLayers !== undefined ? { slidingLayers } : {}),
    normEps,
    ...traits,
    // GLM-4.5's per-head q/k norms are there with use_qk_norm (GLM-4.5, GLM-4.6), not without (GLM-4.5-Air).
    ...(type === 'glm4_moe' ? { qkNorm: c.use_qk_norm === true ? ('head' as const) : ('none' as const) } : {}),
    ...(type === 'llama4_text' ? llama4Fields(c, positiveNumber) : {}),
    ...(chunk !== undefined && chunk < context ? { attentionChunk: chunk } : {}),
    parallelResidual,
    noRopeLayers: noPositions ? Array.from({ length: numLayers }, (_, i) => i) : noRopeLayers,
    mlpActivation,
    // OLMo 3's sliding layers rotate at the same base without rope_scaling (its attention factor included).
    ...(type === 'olmo3' ? { localRopeTheta: ropeTheta } : {}),
    embedScale: gemma || type === 'gemma' ? Math.sqrt(hiddenSize) : 1,
    residualScale: 1,
    logitsDivisor: 1,
    ...(gemmaFields?.fields ?? {}),
    ...(type === 'granite' || type === 'granitemoe' || type === 'granitemoeshared' || type === 'granitemoehybrid' ? graniteFields(c, positiveNumber) : {}),
    // Cohere multiplies its logits by logit_scale.
    ...(type === 'cohere' || type === 'cohere2' ? { logitsDivisor: 1 / positiveNumber(c.logit_scale ?? 0.0625, 'logit_scale') } : {}),
    tieWordEmbeddings: Boolean(c.tie_word_embeddings ?? false),
    // Qwen2 (and Qwen2-MoE's qkv_bias), StableLM's use_qkv_bias and GLM's attention_bias put biases on q, k and v only.
    attentionBias:
      type === 'qwen2' ||
      (type === 'qwen2_moe' && c.qkv_bias !== false) || (type === 'stablelm' && c.use_qkv_bias === true) || ((type === 'glm' || type === 'glm4' || type === 'glm4_moe') && attentionBias)
        ? { q: true, k: true, v: true, o: false }
        : // Seed-OSS gives o_proj a bias of its own (attention_out_bias).
          { q: attentionBias, k: attentionBias, v: attentionBias, o: type === 'seed_oss' ? c.attention_out_bias === true : attentionBias },
    mlpBias: traits.mlpBias || Boolean(c.mlp_bias ?? false),
    bosTokenId: typeof c.bos_token_id === 'number' ? c.bos_token_id : undefined,
    eosTokenIds: tokenIdList(c.eos_token_id),
    torchDtype: typeof (c.torch_dtype ?? c.dtype) === 'string' ? ((c.torch_dtype ?? c.dtype) as string) : undefined,
    // OLMo 1 and OLMoE clamp q, k and v with clip_qkv.
    ...((type === 'olmo' || type === 'olmoe') && c.clip_qkv !== undefined && c.clip_qkv !== null ? { clipQkv: positiveNumber(c.clip_qkv, 'clip_qkv') } : {}),
    // Phi-3.5-MoE's LM head carries a bias with lm_head_bias.
    ...(type === 'phimoe' ? { lmHeadBias: c.lm_head_bias === true } : {}),
    ...(moe ? { moe } : {}),
    ...((MODEL_FAMILIES[type] as ModelFamily).attentionSinks ? { attentionSinks: true as const } : {}),
    ...(latent ? latentFields(latent, c, attentionBias) : {}),
    ...quantization,
    ...(shortConv ? { shortConv } : {}),
    ...(mamba ? { mamba } : {}),
    ...(mamba1 ? { mamba1 } : {}),
    ...(positions === 'learned' ? { learnedPositions: true as const } : {}),
    ...(mlpLayers ? { singleBlocks: { mlpLayers } } : {}),
    ...(deltaNet ? { deltaNet } : {}),
    ...(falconH1 ? { falconH1, embedScale: positiveNumber(c.embedding_multiplier ?? 1, 'embedding_multiplier'), logitsDivisor: 1 / positiveNumber(c.lm_head_multiplier ?? 1, 'lm_head_multiplier') } : {}),
    attentionLayers: Array.from({ length: numLayers }, (_, i) => i).filter((i) => !nonAttending.has(i)),
  };
}

/**
 * What MLA overrides: one shared cache head, its softmax scale, its projections' biases
 * (attention_bias puts them on q_a_proj, kv_a_proj_with_mqa and o_proj only), and DeepSeek-V3's
 * rope_interleave false pairing channels as rotate_half does.
 */
function latentFields(latent: NonNullable<ReturnType<typeof parseLatentAttention>>, c: Record<string, unknown>, bias: boolean): Partial<LlamaConfig> {
  return {
    latentAttention: latent.latentAttention,
    numKvHeads: latent.numKvHeads,
    attentionScale: latent.attentionScale,
    attentionBias: { q: bias && latent.latentAttention.queryRank !== undefined, k: bias, v: false, o: bias },
    // DeepSeek-V2 always pairs neighbours; V3's (and Kimi K2's) rope_interleave false pairs as rotate_half.
    ...(c.model_type !== 'deepseek_v2' && c.rope_interleave === false ? { ropeLayout: 'half' as const } : {}),
  };
}

/**
 * Llama 4's own attention: per-head L2 norms (RMSNorms without weights, after RoPE) on its rotating
 * layers with use_qk_norm, and its NoPE layers' query temperature (attn_temperature_tuning).
 */
function llama4Fields(c: Record<string, unknown>, positiveNumber: (value: unknown, field: string) => number): Partial<LlamaConfig> {
  const l2 = Boolean(c.use_qk_norm);
  return {
    qkNorm: l2 ? 'head' : 'none',
    ...(l2 ? { l2QkNorm: true as const } : {}),
    ...(c.attn_temperature_tuning ? { queryTemperature: { floorScale: positiveNumber(c.floor_scale, 'floor_scale'), scale: positiveNumber(c.attn_scale, 'attn_scale') } } : {}),
  };
}

/**
 * Hunyuan's NTK-alpha RoPE (rope_scaling `{ type: 'dynamic', alpha }`): one fixed base,
 * rope_theta · alpha^(d / (d − 2)) over head_dim d, and no attention factor (its rotary embedding
 * sets the base at construction); undefined for other models or without alpha.
 */
function hunyuanAlphaRope(c: Record<string, unknown>, type: ModelType, headDim: number, positiveNumber: (value: unknown, field: string) => number): { ropeTheta: number; ropeScaling: RopeScaling } | undefined {
  if (type !== 'hunyuan_v1_dense') return undefined;
  const raw = (c.rope_parameters ?? c.rope_scaling) as Record<string, unknown> | null | undefined;
  if (!raw || raw.alpha === undefined || raw.alpha === null) return undefined;
  const alpha = positiveNumber(raw.alpha, 'rope_scaling.alpha');
  const theta = positiveNumber(raw.rope_theta ?? c.rope_theta ?? 10000, 'rope_theta');
  return { ropeTheta: theta * alpha ** (headDim / (headDim - 2)), ropeScaling: { type: 'default' } };
}

/**
 * Phi-3.5-MoE's LongRoPE scales queries and keys by its own factors, short_mscale within the
 * original context and long_mscale beyond it (PhimoeRotaryEmbedding), in place of LongRoPE's
 * attention factor, which stands in for either one its rope_scaling leaves out.
 */
function withPhimoeMscales(scaling: RopeScaling, c: Record<string, unknown>, positiveNumber: (value: unknown, field: string) => number): RopeScaling {
  if (scaling.type !== 'longrope') return scaling;
  const raw = (c.rope_parameters ?? c.rope_scaling) as Record<string, unknown>;
  const mscale = (key: string) => (raw[key] === undefined || raw[key] === null ? scaling.attentionFactor : positiveNumber(raw[key], `rope_scaling.${key}`));
  return { ...scaling, attentionFactor: mscale('short_mscale'), longAttentionFactor: mscale('long_mscale') };
}

/** `eos_token_id` may be a number, a list, or absent. */
export function tokenIdList(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value)) return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number' && Number.isInteger(v));
  return [];
}

/**
 * The MLP's activation: Gemma's `hidden_activation` (tanh GELU); elsewhere `hidden_act` among those the
 * family takes (`ModelFamily.activations`: GPT-NeoX's, Phi's, StarCoder2's and GPT-2's exact or tanh
 * GELU, Nemotron-H's and Arcee's squared ReLU, the others' SiLU).
 */
function parseActivation(c: Record<string, unknown>, type: ModelType, unsupported: (field: string, value: unknown, supported: string) => never): LlamaConfig['mlpActivation'] {
  if (type === 'gemma3_text' || type === 'gemma2' || type === 'gemma') {
    // Gemma 1's config.json says hidden_act "gelu", which transformers' GemmaMLP never reads: it takes
    // hidden_activation, the tanh GELU where that is unset.
    const act = c.hidden_activation ?? (type === 'gemma' ? undefined : c.hidden_act) ?? 'gelu_pytorch_tanh';
    return act === 'gelu_pytorch_tanh' ? 'gelu_tanh' : unsupported('hidden_activation', act, 'gelu_pytorch_tanh (GeGLU MLP)');
  }
  const family = MODEL_FAMILIES[type] as ModelFamily;
  const activations: Readonly<Record<string, LlamaConfig['mlpActivation']>> = family.activations ?? SILU_ACTIVATIONS;
  const act = c.hidden_act ?? c.hidden_activation ?? Object.keys(activations)[0];
  if (Object.hasOwn(activations, act as string)) return activations[act as string];
  // A refusal names the field as the config spells it (Nemotron-H's mlp_hidden_act, GPT-2's activation_function).
  const own = Object.entries(family.configNames ?? {}).find(([name, common]) => [common].flat().includes('hidden_act') && c[name] !== undefined);
  return unsupported(own?.[0] ?? 'hidden_act', act, Object.keys(activations).join(', '));
}

/** The SwiGLU MLP's activation, under both its names: what a family takes unless it says otherwise. */
const SILU_ACTIVATIONS = { silu: 'silu', swish: 'silu' } as const;

/**
 * transformers 4.x writes `rope_theta` and `rope_scaling`; 5.x writes one `rope_parameters`
 * object holding both, nested by layer type where the layer types may differ (LFM2's
 * `{ full_attention: {…}, conv: null }`, OLMo 3's `{ full_attention, sliding_attention }`). Any
 * of them is read; a nested one gives the attention layers' `full_attention` entry, and a
 * `sliding_attention` entry must rotate as the runtime rotates those layers (OLMo 3: the same base
 * without scaling; elsewhere: the same rope). Gemma's own local rope is read by `parseGemma`.
 */
function parseRope(
  c: Record<string, unknown>,
  fileName: string,
  context: RopeScalingContext,
  unsupported: (field: string, value: unknown, supported: string) => never,
  positiveNumber: (value: unknown, field: string) => number,
): { ropeTheta: number; ropeScaling: RopeScaling } {
  const byLayerType = ropeParametersByLayerType(c.rope_parameters);
  if (byLayerType) {
    const { full_attention: full, sliding_attention: sliding } = byLayerType;
    const global = parseRope({ ...c, rope_parameters: full }, fileName, context, unsupported, positiveNumber);
    if (sliding) {
      const local = parseRope({ ...c, rope_parameters: sliding }, fileName, context, unsupported, positiveNumber);
      const expected = c.model_type === 'olmo3' ? { ropeTheta: global.ropeTheta, ropeScaling: { type: 'default' } } : global;
      if (JSON.stringify(local) !== JSON.stringify(expected)) {
        unsupported('rope_parameters.sliding_attention', sliding, `the rope of the attention layers${c.model_type === 'olmo3' ? ' without scaling' : ''} (${JSON.stringify(full)})`);
      }
    }
    return global;
  }
  const params = c.rope_parameters;
  const field = params !== undefined && params !== null ? 'rope_parameters' : 'rope_scaling';
  const scaling = (field === 'rope_parameters' ? params : c.rope_scaling) as Record<string, unknown> | null | undefined;
  const theta = (field === 'rope_parameters' ? (scaling?.rope_theta ?? c.rope_theta) : c.rope_theta) ?? 10000;
  const ropeTheta = positiveNumber(theta, 'rope_theta');
  if (scaling === undefined || scaling === null) return { ropeTheta, ropeScaling: { type: 'default' } };
  // Phi-3's early 128k configs name LongRoPE "su" (or "yarn") under `type`; transformers' Phi3Config renames them.
  const phi3Alias = c.model_type === 'phi3' && scaling.rope_type === undefined && (scaling.type === 'su' || scaling.type === 'yarn');
  const ropeType = phi3Alias ? 'longrope' : (scaling.rope_type ?? scaling.type ?? 'default');
  if (!(SUPPORTED_ROPE_TYPES as readonly unknown[]).includes(ropeType)) {
    unsupported(`${field}.rope_type`, ropeType, `${SUPPORTED_ROPE_TYPES.join(', ')} (or no ${field})`);
  }
  try {
    return { ropeTheta, ropeScaling: parseRopeScaling({ ...scaling, rope_type: ropeType }, context) };
  } catch (error) {
    throw new InvalidConfigError(`${fileName}: ${field}: ${(error as Error).message}`, { file: fileName, field });
  }
}

/**
 * transformers 5's `rope_parameters` nested by layer type (its keys layer types, `full_attention`
 * among them, each an object or null), or undefined for a flat one.
 */
function ropeParametersByLayerType(params: unknown): { full_attention: Record<string, unknown>; sliding_attention?: Record<string, unknown> } | undefined {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return undefined;
  const entries = params as Record<string, unknown>;
  const full = entries.full_attention;
  if (typeof full !== 'object' || full === null) return undefined;
  const sliding = entries.sliding_attention;
  return { full_attention: full as Record<string, unknown>, ...(typeof sliding === 'object' && sliding !== null ? { sliding_attention: sliding as Record<string, unknown> } : {}) };
}

/**
 * Which layers attend through a sliding window, and its size. transformers lists the layers in
 * `layer_types` (4.5x and 5; sliding_attention or full_attention per layer); without that list:
 * Mistral's and Phi-3's `sliding_window` (null: none) covers every layer; Gemma's global layers are
 * every `sliding_window_pattern`-th (6 for Gemma 3, 2 for Gemma 2, 4 for Command R7B), OLMo 3's every fourth, the others slide; Qwen2, Qwen3
 * and SmolLM3 use a window only with `use_sliding_window`, on the layers from `max_window_layers`
 * (default 28) on. `slidingLayers` is absent when every layer slides.
 */
function parseSlidingWindow(
  c: Record<string, unknown>,
  type: ModelType,
  numLayers: number,
  unsupported: (field: string, value: unknown, supported: string) => never,
  invalid: (field: string, problem: string) => never,
  positiveInt: (field: string, fallback?: number) => number,
): { slidingWindow?: number; slidingLayers?: number[] } {
  const qwenFamily = type === 'qwen2' || type === 'qwen3' || type === 'smollm3' || type === 'qwen2_moe' || type === 'qwen3_moe';
  // A window on every layer, where the config gives one.
  const everyLayer = type === 'mistral' || type === 'ministral' || type === 'phi3' || type === 'mixtral' || type === 'starcoder2' || type === 'phimoe';
  const gemma = type === 'gemma2' || type === 'gemma3_text';
  // A hybrid's layer lists name its mixers; it attends without a window.
  if ((MODEL_FAMILIES[type] as ModelFamily).hybrid) return {};
  // Qwen's window exists only with use_sliding_window; Mistral's and Phi-3's unless null.
  if (qwenFamily && c.use_sliding_window !== true) return {};
  if ((qwenFamily || everyLayer || type === 'exaone4' || type === 'gpt_oss') && c.sliding_window === null) return {};
  // Phi3Config, MixtralConfig, Starcoder2Config and PhimoeConfig default to no window.
  if ((type === 'phi3' || type === 'mixtral' || type === 'starcoder2' || type === 'phimoe') && c.sliding_window === undefined) return {};
  const layerTypes = c.layer_types;
  let sliding: boolean[];
  if (Array.isArray(layerTypes)) {
    sliding = readLayerTypes(layerTypes, numLayers, ['sliding_attention', 'full_attention'], invalid, unsupported).map((t) => t === 'sliding_attention');
  } else if (type === 'exaone4') {
    sliding = exaoneSlidingLayers(c.sliding_window_pattern, numLayers, invalid);
  } else if (type === 'gpt_oss') {
    // GptOssConfig's default: layers 0, 2, 4… slide, the others attend globally.
    sliding = Array.from({ length: numLayers }, (_, i) => i % 2 === 0);
  } else if (gemma || type === 'olmo3' || type === 'cohere2') {
    // Olmo3Config's pattern and Cohere2Config's default: every fourth layer global.
    const pattern = type === 'olmo3' ? 4 : positiveInt('sliding_window_pattern', type === 'gemma3_text' ? 6 : type === 'cohere2' ? 4 : 2);
    sliding = Array.from({ length: numLayers }, (_, i) => (i + 1) % pattern !== 0);
  } else if (qwenFamily) {
    const fullLayers = c.max_window_layers ?? 28;
    if (!Number.isInteger(fullLayers) || (fullLayers as number) < 0) return invalid('max_window_layers', `must be an integer >= 0, got ${JSON.stringify(fullLayers)}`);
    sliding = Array.from({ length: numLayers }, (_, i) => i >= (fullLayers as number));
  } else {
    sliding = Array.from({ length: numLayers }, () => everyLayer);
  }
  if (!sliding.includes(true)) return {};
  const slidingWindow = positiveInt('sliding_window', MODEL_FAMILIES[type].slidingWindow ?? undefined);
  return sliding.every(Boolean) ? { slidingWindow } : { slidingWindow, slidingLayers: sliding.flatMap((s, i) => (s ? [i] : [])) };
}

/**
 * EXAONE 4.0's sliding layers without `layer_types`, from `sliding_window_pattern` (4 by default): a
 * number n slides every layer but each n-th; a string of L (local) and G (global) repeats over the
 * layers, the last layer global whatever it says.
 */
function exaoneSlidingLayers(pattern: unknown, numLayers: number, invalid: (field: string, problem: string) => never): boolean[] {
  const layers = Array.from({ length: numLayers }, (_, i) => i);
  if (pattern === undefined || pattern === null) pattern = 4;
  if (typeof pattern === 'number' && Number.isInteger(pattern) && pattern > 0) return layers.map((i) => (i + 1) % pattern !== 0);
  if (typeof pattern === 'string' && /^[LG]+$/.test(pattern)) return layers.map((i) => i < numLayers - 1 && pattern[i % pattern.length] === 'L');
  return invalid('sliding_window_pattern', `must be a positive integer or a string of L and G, got ${JSON.stringify(pattern)}`);
}

/**
 * SmolLM3's NoPE layers: `no_rope_layers` holds one flag per layer, 1 where the layer uses RoPE and
 * 0 where it does not; without it, every `no_rope_layer_interval`-th layer (default 4) goes without.
 * Returns the indices of the layers without RoPE.
 */
function parseNoRopeLayers(
  c: Record<string, unknown>,
  numLayers: number,
  invalid: (field: string, problem: string) => never,
  positiveInt: (field: string, fallback?: number) => number,
): number[] {
  const flags = c.no_rope_layers;
  // An empty list is no list (Llama 4's released configs give []: the interval decides).
  if (flags === undefined || flags === null || (Array.isArray(flags) && flags.length === 0)) {
    const interval = positiveInt('no_rope_layer_interval', 4);
    return Array.from({ length: numLayers }, (_, i) => i).filter((i) => (i + 1) % interval === 0);
  }
  // At least one flag per layer (Llama4TextConfig reads the first num_hidden_layers).
  if (!Array.isArray(flags) || flags.length < numLayers || !flags.every((f) => f === 0 || f === 1 || f === true || f === false)) {
    return invalid('no_rope_layers', `must list one 0/1 flag per layer (${numLayers}), got ${JSON.stringify(flags)}`);
  }
  return flags.slice(0, numLayers).flatMap((f, i) => (f === 0 || f === false ? [i] : []));
}

/**
 * Gemma 2's and 3's fields (their sliding layers: `parseSlidingWindow`): the score scale
 * `query_pre_attn_scalar`^−½, and the rope: Gemma 3's global layers have `rope_theta` and
 * `rope_scaling` (transformers 5: `rope_parameters.full_attention`), its sliding ones their own base
 * (`rope_local_base_freq`; `rope_parameters.sliding_attention`); Gemma 2 has one. Gemma 2 soft-caps
 * scores and logits (`attn_logit_softcapping`, `final_logit_softcapping`); Gemma 3 caps none, and
 * refuses caps. Bidirectional attention is refused.
 */
function parseGemma(
  c: Record<string, unknown>,
  type: 'gemma2' | 'gemma3_text',
  fileName: string,
  ropeContext: RopeScalingContext,
  unsupported: (field: string, value: unknown, supported: string) => never,
  positiveNumber: (value: unknown, field: string) => number,
): { rope: { ropeTheta: number; ropeScaling: RopeScaling }; fields: Partial<LlamaConfig> } {
  const gemma3 = type === 'gemma3_text';
  // HF's Gemma2Config caps scores at 50 and logits at 30 unless told otherwise; null turns a cap off.
  const softcap = (field: 'attn_logit_softcapping' | 'final_logit_softcapping', gemma2Default: number): number | undefined => {
    const value = c[field] === undefined ? (gemma3 ? null : gemma2Default) : c[field];
    if (value === null) return undefined;
    if (gemma3) return unsupported(field, value, 'null (Gemma 3 caps no logits)');
    return positiveNumber(value, field);
  };
  const attentionSoftcap = softcap('attn_logit_softcapping', 50);
  const finalLogitSoftcap = softcap('final_logit_softcapping', 30);
  if (c.use_bidirectional_attention === true) unsupported('use_bidirectional_attention', true, 'false (causal attention)');
  const params = c.rope_parameters as Record<string, Record<string, unknown> | undefined> | null | undefined;
  const nested = params !== undefined && params !== null && typeof params.full_attention === 'object';
  // HF's defaults: rope_theta 1e6 for Gemma 3, 1e4 for Gemma 2.
  const theta = gemma3 ? 1_000_000 : 10_000;
  const global = nested
    ? parseRope({ rope_parameters: { rope_theta: theta, ...params.full_attention } }, fileName, ropeContext, unsupported, positiveNumber)
    : parseRope({ ...c, rope_theta: c.rope_theta ?? theta }, fileName, ropeContext, unsupported, positiveNumber);
  const local = nested ? params.sliding_attention : undefined;
  if (local && (local.rope_type ?? 'default') !== 'default') unsupported('rope_parameters.sliding_attention.rope_type', local.rope_type, 'default');
  const localBase = local ? local.rope_theta : c.rope_local_base_freq;
  const localRopeTheta = gemma3 || localBase !== undefined ? positiveNumber(localBase ?? 10000, 'rope_local_base_freq') : undefined;
  const fields: Partial<LlamaConfig> = {
    attentionScale: positiveNumber(c.query_pre_attn_scalar ?? 256, 'query_pre_attn_scalar') ** -0.5,
    ...(localRopeTheta !== undefined ? { localRopeTheta } : {}),
    ...(attentionSoftcap !== undefined ? { attentionSoftcap } : {}),
    ...(finalLogitSoftcap !== undefined ? { finalLogitSoftcap } : {}),
  };
  return { rope: global, fields };
}

/**
 * Granite's four multipliers (GraniteConfig's defaults are 1, the score scale included: a config
 * without attention_multiplier scales scores by 1, not 1/√head_dim).
 */
function graniteFields(c: Record<string, unknown>, positiveNumber: (value: unknown, field: string) => number): Partial<LlamaConfig> {
  return {
    embedScale: positiveNumber(c.embedding_multiplier ?? 1, 'embedding_multiplier'),
    attentionScale: positiveNumber(c.attention_multiplier ?? 1, 'attention_multiplier'),
    residualScale: positiveNumber(c.residual_multiplier ?? 1, 'residual_multiplier'),
    logitsDivisor: positiveNumber(c.logits_scaling ?? 1, 'logits_scaling'),
  };
}

/** The sliding window layer `layer` attends through, if any (Mistral: every layer; Gemma 3: its sliding layers). */
export function layerWindow(config: LlamaConfig, layer: number): number | undefined {
  if (config.slidingWindow === undefined) return undefined;
  return config.slidingLayers === undefined || config.slidingLayers.includes(layer) ? config.slidingWindow : undefined;
}
