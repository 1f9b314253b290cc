import { CorruptModelFileError, InvalidConfigError, parseRopeScaling, type RopeLayout, type RopeScaling, type RopeScalingContext, UnsupportedModelError } from '@kvkit/tensor-core';
import { inCommonNames } from './config-names.js';

/** The `model_type`s this runtime runs, with the checkpoints each covers. */
export const SUPPORTED_MODEL_TYPES = {
  llama: 'Llama 2, Llama 3.x, SmolLM/SmolLM2, TinyLlama (LlamaForCausalLM)',
  mistral: 'Mistral 7B and other MistralForCausalLM checkpoints (sliding-window attention)',
  qwen2: 'Qwen2 and Qwen2.5 (Qwen2ForCausalLM, q/k/v biases)',
  qwen3: "Qwen3 dense models (Qwen3ForCausalLM, RMSNorm over each head's queries and keys)",
  smollm3: 'SmolLM3 (SmolLM3ForCausalLM, no rotary embedding on every fourth layer: NoPE)',
  gemma3_text: 'Gemma 3 text models (Gemma3ForCausalLM: 270M, 1B; sliding-window and global layers, GeGLU, norms around both blocks)',
  gemma3: 'Gemma 3 4B, 12B and 27B (Gemma3ForConditionalGeneration): its text model (text_config, the language_model weights); images are not read',
  gemma2: 'Gemma 2 (Gemma2ForCausalLM; sliding-window and global layers in turn, soft-capped scores and logits, GeGLU)',
  cohere: 'Command R, Aya 23 and Aya Expanse (CohereForCausalLM: one bias-free LayerNorm feeding attention and MLP in parallel, rotary pairs of neighbouring channels, scaled logits)',
  glm: 'GLM-4 and GLM-Edge (GlmForCausalLM: half of each head rotating in pairs of neighbouring channels, q/k/v biases, gate/up stored fused)',
  glm4: 'GLM-4-0414 (Glm4ForCausalLM: GLM with norms on the attention\'s and the MLP\'s outputs too)',
  cohere2: 'Command R7B (Cohere2ForCausalLM: Cohere with three of every four layers sliding and rotating, the global ones without position embedding)',
  stablelm: 'StableLM 2 and StableLM-3B-4E1T (StableLmForCausalLM: LayerNorms with biases, a quarter of each head rotating, optional q/k/v biases and parallel layer)',
  phi: 'Phi-1, Phi-1.5 and Phi-2 (PhiForCausalLM: one LayerNorm feeding attention and MLP in parallel, partial rotary, GELU MLP, biases everywhere, lm_head included)',
  gpt_neox: 'GPT-NeoX and Pythia (GPTNeoXForCausalLM: LayerNorm, attention and MLP in parallel, a quarter of each head rotating, fused per-head q/k/v, GELU MLP)',
  olmo2: 'OLMo 2 (Olmo2ForCausalLM: RMSNorms on each block\'s output instead of its input, and over the whole query and key projections)',
  olmo3: 'OLMo 3 (Olmo3ForCausalLM: OLMo 2 with three of every four layers sliding, their rope unscaled)',
  granite: 'IBM Granite 3.x dense models (GraniteForCausalLM: Llama with multipliers on embeddings, scores, residual branches and logits)',
  phi3: 'Phi-3, Phi-3.5 and Phi-4 (Phi3ForCausalLM: q/k/v and gate/up stored fused; LongRoPE; partial rotary as Phi-4-mini)',
} as const;

export type ModelType = keyof typeof SUPPORTED_MODEL_TYPES;

/** `rope_scaling` types implemented (HF names). */
export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3', 'yarn', 'longrope'] as const;

/** A Llama-family config, normalized from an HF config.json. */
export interface LlamaConfig {
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
  /** Which channels rotate together: HF's `rotate_half` (channel i with i + rotaryDim/2), or pairs 2i, 2i+1 (Cohere). */
  ropeLayout: RopeLayout;
  /** Channels of each head that rotate: the first `rotaryDim` (head_dim × partial_rotary_factor; Phi-4-mini: 3/4); the rest pass through. */
  rotaryDim: number;
  /** Sliding-window attention span (Mistral, Gemma, Qwen with use_sliding_window): a query sees keys with queryPos − keyPos < slidingWindow. */
  slidingWindow?: number;
  /** The norms' epsilon (rms_norm_eps; GPT-NeoX's layer_norm_eps). */
  normEps: number;
  /** RMSNorm (Llama and the others), or LayerNorm (GPT-NeoX, Phi, StableLM, Cohere). */
  normKind: 'rms' | 'layer';
  /** Whether the LayerNorms carry biases (all but Cohere's). */
  normBias: boolean;
  /**
   * Attention and MLP side by side on the layer's input instead of one after the other: GPT-NeoX's
   * use_parallel_residual, x + attn(norm₁(x)) + mlp(norm₂(x)); Phi's, x + attn(norm(x)) + mlp(norm(x)).
   */
  parallelResidual: boolean;
  /** A gated MLP (down(act(gate(x)) · up(x)): SwiGLU, GeGLU), or a plain one (down(act(up(x))): GPT-NeoX). */
  gatedMlp: boolean;
  tieWordEmbeddings: boolean;
  /**
   * An RMSNorm on queries and keys before RoPE (q_norm, k_norm): over each head's vector (Qwen3,
   * Gemma 3), over the whole projection (OLMo 2), or none.
   */
  qkNorm: 'none' | 'head' | 'projection';
  /** Layers whose queries and keys are not rotated (SmolLM3's NoPE layers, from `no_rope_layers`; Command R7B's global layers); empty elsewhere. */
  noRopeLayers: number[];
  /** The MLP's activation: SwiGLU's SiLU, the tanh-approximated GELU (Gemma's GeGLU), or the exact GELU (GPT-NeoX). */
  mlpActivation: 'silu' | 'gelu_tanh' | 'gelu';
  /** Gemma: every RMSNorm scales by 1 + weight (checkpoints store weight − 1); 0 elsewhere. */
  normWeightOffset: number;
  /**
   * Where each block's norms sit: before the block ('pre': Llama and most), before and on its output
   * before it joins the residual stream ('sandwich': Gemma 2/3), or only on its output ('post': OLMo 2).
   */
  blockNorms: 'pre' | 'sandwich' | 'post';
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
  /** Gemma 2: scores soft-capped to ±cap (cap · tanh(s / cap)) before the softmax. */
  attentionSoftcap?: number;
  /** Gemma 2: logits soft-capped to ±cap. */
  finalLogitSoftcap?: number;
  /** Matrices the checkpoint stores fused (split at load): q/k/v as one `qkv_proj` (Phi-3), gate/up as one `gate_up_proj` (Phi-3, GLM). */
  fusedProjections: { qkv: boolean; gateUp: boolean };
  /** Which projections carry a bias (Qwen2: q, k, v; Llama and Qwen3 with attention_bias: all four). */
  attentionBias: { q: boolean; k: boolean; v: boolean; o: boolean };
  mlpBias: boolean;
  /** Phi: the LM head carries a bias. */
  lmHeadBias: boolean;
  bosTokenId?: number;
  eosTokenIds: number[];
  /** The dtype the checkpoint was saved in, as the config states it (informational). */
  torchDtype?: string;
}

const CAUSAL_LM_ARCHITECTURES: Record<ModelType, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  smollm3: 'SmolLM3ForCausalLM',
  gemma3_text: 'Gemma3ForCausalLM',
  gemma3: 'Gemma3ForConditionalGeneration',
  gemma2: 'Gemma2ForCausalLM',
  phi3: 'Phi3ForCausalLM',
  granite: 'GraniteForCausalLM',
  olmo2: 'Olmo2ForCausalLM',
  olmo3: 'Olmo3ForCausalLM',
  gpt_neox: 'GPTNeoXForCausalLM',
  phi: 'PhiForCausalLM',
  stablelm: 'StableLmForCausalLM',
  cohere: 'CohereForCausalLM',
  cohere2: 'Cohere2ForCausalLM',
  glm: 'GlmForCausalLM',
  glm4: 'Glm4ForCausalLM',
};

/** HF class defaults for fields a config.json may leave out. */
const DEFAULTS: Record<ModelType, { maxPositions: number; slidingWindow: number | null }> = {
  llama: { maxPositions: 2048, slidingWindow: null },
  mistral: { maxPositions: 4096 * 32, slidingWindow: 4096 },
  qwen2: { maxPositions: 32768, slidingWindow: 4096 },
  qwen3: { maxPositions: 32768, slidingWindow: 4096 },
  smollm3: { maxPositions: 32768, slidingWindow: null },
  gemma3_text: { maxPositions: 131072, slidingWindow: 4096 },
  gemma3: { maxPositions: 131072, slidingWindow: 4096 },
  gemma2: { maxPositions: 8192, slidingWindow: 4096 },
  phi3: { maxPositions: 4096, slidingWindow: null },
  granite: { maxPositions: 2048, slidingWindow: null },
  olmo2: { maxPositions: 2048, slidingWindow: null },
  olmo3: { maxPositions: 2048, slidingWindow: 4096 },
  gpt_neox: { maxPositions: 2048, slidingWindow: null },
  phi: { maxPositions: 2048, slidingWindow: null },
  stablelm: { maxPositions: 4096, slidingWindow: null },
  cohere: { maxPositions: 8192, slidingWindow: null },
  cohere2: { maxPositions: 8192, slidingWindow: 4096 },
  glm: { maxPositions: 131072, slidingWindow: null },
  glm4: { maxPositions: 131072, slidingWindow: null },
};

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
  if (Array.isArray(architectures) && architectures.length > 0 && !architectures.includes(CAUSAL_LM_ARCHITECTURES[type])) {
    unsupported('architectures', architectures, `${CAUSAL_LM_ARCHITECTURES[type]} for model_type ${type}`);
  }
  const gemma = type === 'gemma3_text' || type === 'gemma2';
  const neox = type === 'gpt_neox';
  // Phi-1/1.5/2 and GPT-NeoX share the LayerNorm, parallel, plain-MLP, biased layer.
  const phi = type === 'phi';
  const stablelm = type === 'stablelm';
  // Cohere 2 is Cohere with sliding layers that rotate and global ones that do not.
  const cohere = type === 'cohere' || type === 'cohere2';
  // GLM-4: rotary pairs of neighbouring channels over half of each head; GLM-4-0414 adds output norms.
  const glm = type === 'glm' || type === 'glm4';
  const parallelFamily = neox || phi;
  if ((phi || stablelm) && c.qk_layernorm === true) unsupported('qk_layernorm', true, phi ? 'false (Phi-1, Phi-1.5, Phi-2)' : 'false (StableLM 2 1.6B, StableLM-3B)');
  if (cohere && c.use_qk_norm === true) unsupported('use_qk_norm', true, 'false (Command R, Aya)');
  const olmo = type === 'olmo2' || type === 'olmo3';
  const mlpActivation = parseActivation(c, type, unsupported);
  if (c.quantization_config !== undefined && c.quantization_config !== null) {
    const method = (c.quantization_config as { quant_method?: unknown }).quant_method;
    unsupported('quantization_config', method ?? c.quantization_config, 'unquantized f32, f16 or bf16 checkpoints');
  }
  const hiddenSize = positiveInt('hidden_size');
  const numHeads = positiveInt('num_attention_heads');
  const numKvHeads = positiveInt('num_key_value_heads', type === 'mistral' && c.num_key_value_heads === undefined ? 8 : numHeads);
  if (numHeads % numKvHeads !== 0) invalid('num_key_value_heads', `(${numKvHeads}) must divide num_attention_heads (${numHeads})`);
  if (c.head_dim === undefined || c.head_dim === null) {
    if (hiddenSize % numHeads !== 0) invalid('hidden_size', `(${hiddenSize}) must be a multiple of num_attention_heads (${numHeads}) when head_dim is not given`);
  }
  const headDim = c.head_dim === undefined || c.head_dim === null ? hiddenSize / numHeads : positiveInt('head_dim');
  if (headDim % 2 !== 0) invalid('head_dim', `must be even for rotary embeddings, got ${headDim}`);
  const partialRotary = c.partial_rotary_factor ?? 1;
  if (typeof partialRotary !== 'number' || !(partialRotary > 0 && partialRotary <= 1)) invalid('partial_rotary_factor', `must be a number in (0, 1], got ${JSON.stringify(partialRotary)}`);
  // HF: int(head_dim · partial_rotary_factor) channels rotate.
  const rotaryDim = Math.floor(headDim * (partialRotary as number));
  if (rotaryDim === 0 || rotaryDim % 2 !== 0) invalid('partial_rotary_factor', `must leave an even, nonzero number of rotary channels; ${partialRotary} of head_dim ${headDim} gives ${rotaryDim}`);

  const numLayers = positiveInt('num_hidden_layers');
  const maxPositions = positiveInt('max_position_embeddings', DEFAULTS[type].maxPositions);
  const original = c.original_max_position_embeddings;
  const ropeContext: RopeScalingContext = { maxPositionEmbeddings: maxPositions, ...(typeof original === 'number' ? { originalMaxPositionEmbeddings: original } : {}) };
  const gemmaFields = gemma ? parseGemma(c, type, fileName, ropeContext, unsupported, positiveNumber) : undefined;
  const { ropeTheta, ropeScaling } = gemmaFields?.rope ?? parseRope(c, fileName, ropeContext, unsupported, positiveNumber);
  if (ropeScaling.type === 'longrope') {
    for (const [key, factors] of [['short_factor', ropeScaling.shortFactor], ['long_factor', ropeScaling.longFactor]] as const) {
      if (factors.length !== rotaryDim / 2) invalid(c.rope_parameters ? 'rope_parameters' : 'rope_scaling', `${key} has ${factors.length} entries; ${rotaryDim} rotary channels need ${rotaryDim / 2}`);
    }
  }
  // YaRN stretches the original context by its factor (vLLM's reading; Qwen's configs keep
  // max_position_embeddings at the original length).
  const context = ropeScaling.type === 'yarn' ? Math.max(maxPositions, Math.floor(ropeScaling.originalMaxPositionEmbeddings * ropeScaling.factor)) : maxPositions;
  const { slidingWindow, slidingLayers } = parseSlidingWindow(c, type, numLayers, unsupported, invalid, positiveInt);

  const noRopeLayers =
    type === 'smollm3'
      ? parseNoRopeLayers(c, numLayers, invalid, positiveInt)
      : type === 'cohere2'
        ? Array.from({ length: numLayers }, (_, i) => i).filter((i) => slidingWindow === undefined || (slidingLayers !== undefined && !slidingLayers.includes(i)))
        : [];
  // GPT-NeoX's linear layers all carry biases unless attention_bias says otherwise.
  const attentionBias = phi || Boolean(c.attention_bias ?? (neox || glm));
  const normEps = positiveNumber(c.rms_norm_eps ?? 1e-6, parallelFamily || stablelm || cohere ? 'layer_norm_eps' : 'rms_norm_eps');
  return {
    modelType: type,
    numLayers,
    hiddenSize,
    intermediateSize: positiveInt('intermediate_size'),
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
    normKind: parallelFamily || stablelm || cohere ? 'layer' : 'rms',
    // Cohere's LayerNorms scale without a bias.
    normBias: parallelFamily || stablelm,
    parallelResidual: phi || cohere || (neox && c.use_parallel_residual !== false) || (stablelm && c.use_parallel_residual === true),
    ropeLayout: cohere || glm ? 'interleaved' : 'half',
    gatedMlp: !parallelFamily,
    qkNorm: type === 'qwen3' || type === 'gemma3_text' ? 'head' : olmo ? 'projection' : 'none',
    noRopeLayers,
    mlpActivation,
    normWeightOffset: gemma ? 1 : 0,
    blockNorms: gemma || type === 'glm4' ? 'sandwich' : olmo ? 'post' : 'pre',
    // OLMo 3's sliding layers rotate at the same base without rope_scaling (its attention factor included).
    ...(type === 'olmo3' ? { localRopeTheta: ropeTheta } : {}),
    embedScale: gemma ? Math.sqrt(hiddenSize) : 1,
    residualScale: 1,
    logitsDivisor: 1,
    fusedProjections: { qkv: type === 'phi3', gateUp: type === 'phi3' || glm },
    ...(gemmaFields?.fields ?? {}),
    ...(type === 'granite' ? graniteFields(c, positiveNumber) : {}),
    // Cohere multiplies its logits by logit_scale.
    ...(cohere ? { logitsDivisor: 1 / positiveNumber(c.logit_scale ?? 0.0625, 'logit_scale') } : {}),
    tieWordEmbeddings: Boolean(c.tie_word_embeddings ?? false),
    // Qwen2, StableLM's use_qkv_bias and GLM's attention_bias put biases on q, k and v only.
    attentionBias:
      type === 'qwen2' || (stablelm && c.use_qkv_bias === true) || (glm && attentionBias)
        ? { q: true, k: true, v: true, o: false }
        : { q: attentionBias, k: attentionBias, v: attentionBias, o: attentionBias },
    mlpBias: parallelFamily || Boolean(c.mlp_bias ?? false),
    lmHeadBias: phi,
    bosTokenId: typeof c.bos_token_id === 'number' ? c.bos_token_id : undefined,
    eosTokenIds: tokenIdList(c.eos_token_id),
    torchDtype: typeof (c.torch_dtype ?? c.dtype) === 'string' ? ((c.torch_dtype ?? c.dtype) as string) : undefined,
  };
}

/** `eos_token_id` may be a number, a list, or absent. */
export function tokenIdList(value: unknown): number[] {
  if (typeof value === 'number' && Number.isInteger(value)) return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === 'number' && Number.isInteger(v));
  return [];
}

/**
 * The MLP's activation: Gemma's `hidden_activation` (tanh GELU), GPT-NeoX's and Phi's exact or tanh GELU, the
 * others' SiLU (SwiGLU).
 */
function parseActivation(c: Record<string, unknown>, type: ModelType, unsupported: (field: string, value: unknown, supported: string) => never): LlamaConfig['mlpActivation'] {
  if (type === 'gemma3_text' || type === 'gemma2') {
    const act = c.hidden_activation ?? c.hidden_act ?? 'gelu_pytorch_tanh';
    return act === 'gelu_pytorch_tanh' ? 'gelu_tanh' : unsupported('hidden_activation', act, 'gelu_pytorch_tanh (GeGLU MLP)');
  }
  const act = c.hidden_act ?? c.hidden_activation ?? 'silu';
  if (type === 'gpt_neox' || type === 'phi') {
    if (act === 'gelu') return 'gelu';
    return act === 'gelu_new' || act === 'gelu_pytorch_tanh' || act === 'gelu_fast' ? 'gelu_tanh' : unsupported('hidden_act', act, 'gelu, gelu_new, gelu_pytorch_tanh, gelu_fast');
  }
  return act === 'silu' || act === 'swish' ? 'silu' : unsupported('hidden_act', act, 'silu (SwiGLU MLP)');
}

/**
 * transformers 4.x writes `rope_theta` and `rope_scaling`; 5.x writes one `rope_parameters`
 * object holding both. Either is read.
 */
function parseRope(
  c: Record<string, unknown>,
  fileName: string,
  context: RopeScalingContext,
  unsupported: (field: string, value: unknown, supported: string) => never,
  positiveNumber: (value: unknown, field: string) => number,
): { ropeTheta: number; ropeScaling: RopeScaling } {
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
  const qwenFamily = type === 'qwen2' || type === 'qwen3' || type === 'smollm3';
  const gemma = type === 'gemma2' || type === 'gemma3_text';
  // Qwen's window exists only with use_sliding_window; Mistral's and Phi-3's unless null.
  if (qwenFamily && c.use_sliding_window !== true) return {};
  if ((qwenFamily || type === 'mistral' || type === 'phi3') && c.sliding_window === null) return {};
  if (type === 'phi3' && c.sliding_window === undefined) return {};
  const layerTypes = c.layer_types;
  let sliding: boolean[];
  if (Array.isArray(layerTypes)) {
    for (const kind of new Set(layerTypes)) if (kind !== 'full_attention' && kind !== 'sliding_attention') unsupported('layer_types', kind, 'full_attention, sliding_attention');
    if (layerTypes.length !== numLayers) return invalid('layer_types', `must list sliding_attention or full_attention for each of the ${numLayers} layers`);
    sliding = layerTypes.map((t) => t === 'sliding_attention');
  } else if (gemma || type === 'olmo3' || type === 'cohere2') {
    // Olmo3Config's pattern and Cohere2Config's default: every fourth layer global.
    const pattern = type === 'olmo3' ? 4 : positiveInt('sliding_window_pattern', type === 'gemma3_text' ? 6 : type === 'cohere2' ? 4 : 2);
    sliding = Array.from({ length: numLayers }, (_, i) => (i + 1) % pattern !== 0);
  } else if (qwenFamily) {
    const fullLayers = c.max_window_layers ?? 28;
    if (!Number.isInteger(fullLayers) || (fullLayers as number) < 0) return invalid('max_window_layers', `must be an integer >= 0, got ${JSON.stringify(fullLayers)}`);
    sliding = Array.from({ length: numLayers }, (_, i) => i >= (fullLayers as number));
  } else {
    sliding = Array.from({ length: numLayers }, () => type === 'mistral' || type === 'phi3');
  }
  if (!sliding.includes(true)) return {};
  const slidingWindow = positiveInt('sliding_window', DEFAULTS[type].slidingWindow ?? undefined);
  return sliding.every(Boolean) ? { slidingWindow } : { slidingWindow, slidingLayers: sliding.flatMap((s, i) => (s ? [i] : [])) };
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
  if (flags === undefined || flags === null) {
    const interval = positiveInt('no_rope_layer_interval', 4);
    return Array.from({ length: numLayers }, (_, i) => i).filter((i) => (i + 1) % interval === 0);
  }
  if (!Array.isArray(flags) || flags.length !== numLayers || !flags.every((f) => f === 0 || f === 1 || f === true || f === false)) {
    return invalid('no_rope_layers', `must list one 0/1 flag per layer (${numLayers}), got ${JSON.stringify(flags)}`);
  }
  return flags.flatMap((f, i) => (f === 0 || f === false ? [i] : []));
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
