import type { RopeLayout } from '@kvkit/tensor-core';

/** How a family's decoder layer is built, beyond what its config.json states. */
export interface LayerTraits {
  /** RMSNorm, or LayerNorm (with biases where `normBias`). */
  normKind: 'rms' | 'layer';
  normBias: boolean;
  /** Norms before each block ('pre'), before and on its output ('sandwich'), or on its output only ('post'). */
  blockNorms: 'pre' | 'sandwich' | 'post';
  /** An RMSNorm on queries and keys before RoPE: per head, over the whole projection, or none. */
  qkNorm: 'none' | 'head' | 'projection';
  /** HF's rotate_half pairs (i, i + r/2), or neighbouring channels (2i, 2i + 1). */
  ropeLayout: RopeLayout;
  /** Attention and MLP side by side on the layer's input (a config's use_parallel_residual may say otherwise where the family reads one). */
  parallelResidual: boolean;
  /** down(act(gate(x)) · up(x)), or down(act(up(x))). */
  gatedMlp: boolean;
  /** Biases on the MLP's projections (GPT-NeoX's and Phi's always; the others' as mlp_bias says). */
  mlpBias: boolean;
  /** A bias on the LM head (Phi). */
  lmHeadBias: boolean;
  /** Matrices the checkpoint stores fused, split at load. */
  fusedProjections: { qkv: boolean; gateUp: boolean };
  /** Added to norm weights at load (Gemma stores scale − 1). */
  normWeightOffset: number;
  /** Attention's output times sigmoid of a gate q_proj also gives, per head (Qwen3.5, Qwen3-Next). */
  attentionOutputGate: boolean;
  /** LayerNorms without weight or bias (OLMo 1): the checkpoint holds no norm tensors. */
  parameterlessNorms: boolean;
  /** The per-head q/k norms (`qkNorm` 'head') on the rotated queries and keys instead of before RoPE (Hunyuan). */
  qkNormAfterRope: boolean;
}

/** A `model_type` this runtime runs. */
export interface ModelFamily {
  /** The checkpoints it covers and what sets them apart (messages and docs). */
  covers: string;
  /** Its `architectures` entry. */
  architecture: string;
  /** Other `architectures` entries its released configs carry (the remote-code class a checkpoint was first published with). */
  releasedArchitectures?: readonly string[];
  /** The transformers class defaults for a config that leaves them out. */
  maxPositions: number;
  slidingWindow: number | null;
  /** Where its layer differs from Llama's. */
  layer?: Partial<LayerTraits>;
  /** Its class's defaults for other fields its config.json may leave out (in the common names). */
  configDefaults?: Record<string, unknown>;
  /** Its config's own names for common fields (own name → common name, or names: StarCoder2's use_bias is both biases). */
  configNames?: Record<string, string | string[]>;
  /** A multimodal checkpoint: the `model_type` of the text model this runtime runs (images are not read). */
  textModel?: string;
  /**
   * A hybrid: recurrent mixers (short convolutions, Mamba-2, Gated DeltaNet) on some or all layers.
   * Its layer lists name those mixers, not sliding windows: it attends without a window.
   */
  hybrid?: true;
  /**
   * Gated DeltaNet layers (those `layer_types` marks linear_attention; without that list every
   * `full_attention_interval`-th layer attends): their input projections stored as Qwen3.5 stores
   * them (in_proj_qkv, in_proj_z, in_proj_b, in_proj_a) or fused per key head as Qwen3-Next does
   * (in_proj_qkvz, in_proj_ba; split at load).
   */
  gatedDeltaNet?: 'separate' | 'fused';
  /** partial_rotary_factor where the config gives none (Qwen3-Next's and Qwen3.5's classes: 0.25). */
  partialRotaryDefault?: number;
  /**
   * The `hidden_act` values its MLP takes, and the activation each means (default: SiLU's names, a
   * SwiGLU MLP); the first listed names the family's in messages.
   */
  activations?: Readonly<Record<string, 'silu' | 'gelu_tanh' | 'gelu' | 'relu2' | 'xielu'>>;
  /** Its MLP's block name where it is not `mlp` (Llama 4's feed_forward). */
  mlpName?: string;
  /** Its pre-norms' names where they are not Llama's input_layernorm and post_attention_layernorm (Apertus's). */
  normNames?: { beforeAttention: string; beforeMlp: string };
  /** Its q/k norms' names under self_attn where they are not q_norm and k_norm (Hunyuan's). */
  qkNormNames?: { query: string; key: string };
  /** How its attention knows positions: rotary embeddings (default), none at all, or learned embeddings added to the tokens'. */
  positions?: 'rope' | 'none' | 'learned';
  /**
   * A mixture of experts in place of the MLP (counts in the common names num_experts and
   * num_experts_per_tok): the field holding each expert's width, whether the chosen experts'
   * probabilities are renormalized (always, or as norm_topk_prob says), and a shared expert beside
   * them (shared_expert_intermediate_size wide, or one expert's width with 'expert-width': Llama 4's;
   * its output scaled by sigmoid(shared_expert_gate) or added as it is).
   */
  moe?: {
    expertSizeField: 'intermediate_size' | 'moe_intermediate_size';
    normalize: boolean | 'config';
    sharedExpert?: 'gated' | 'ungated' | 'expert-width';
    /**
     * A router scoring each expert by its sigmoid instead of a softmax over them, a learned bias
     * added to the scores only to choose the experts (LFM2-MoE's expert_bias with use_expert_bias;
     * Nemotron-H's e_score_correction_bias, always), and the chosen scores renormalized over their
     * sum + `normalizeEpsilon` (LFM2-MoE: 1e-6; DeepSeek-V3's routing in Nemotron-H: 1e-20).
     */
    sigmoidRouter?: { selectionBias: 'use_expert_bias' | 'always'; normalizeEpsilon: number };
    /** Experts that are down(act(up(x))) without a gate (Nemotron-H's ReLU² experts). */
    ungatedExperts?: true;
    /** A softmax router whose choice is made on the probabilities + a learned correction bias, the weights the probabilities alone (ERNIE 4.5). */
    correctionBias?: true;
    /** Granite 4.0-H: num_experts 0 means no experts (the layer's MLP is the shared one alone). */
    optional?: true;
    /** Where the checkpoint keeps the experts, where it differs from Qwen2-MoE's names (`ExpertNames`). */
    names?: Partial<ExpertNames>;
    /** mlp_only_layers and decoder_sparse_step are not read (Qwen3.5-MoE's config class drops them; GLM-4.5's model ignores them). */
    ignoresSparseStep?: true;
    /**
     * gpt-oss's experts: biases on the router and on every expert's projections, and the clamped
     * SwiGLU (swiglu_alpha, swiglu_limit) in place of the plain one.
     */
    gptOssExperts?: true;
    /** Phi-3.5-MoE's SparseMixer routing (two experts, each from a softmax over the logits near its own; router_jitter_noise). */
    sparseMixer?: true;
    /** DeepSeek's router settings, checked (`assertDeepseekRouting`); V2's topk_method group_limited_greedy limits the choice to groups. */
    deepseekRouting?: 'v2' | 'v3';
    /** The chosen experts' weights scale each expert's input instead of its output (Llama 4). */
    weighsInputs?: true;
    /** The fused experts are stored input-major, [experts, in, out] (Llama 4 as released): transposed at load. */
    inputMajorExperts?: true;
  };
  /** DeepSeek's multi-head latent attention (MLA) in place of q/k/v projections (`LatentAttentionConfig`). */
  latentAttention?: true;
  /** A learned logit per query head that joins every row's softmax and takes its share of the weight on no value (gpt-oss's `sinks`). */
  attentionSinks?: true;
}

/**
 * A mixture's names in the checkpoint, relative to the layer: the block (and the one transformers 5
 * saves fused experts under), each expert's gate, up and down projections, the router, the selection
 * bias (with `groupedBias`: stored [1, experts]) and the shared expert's block.
 */
export interface ExpertNames {
  block: string;
  fusedBlock: string;
  projections: [gate: string, up: string, down: string];
  router: string;
  selectionBias: string;
  groupedBias: boolean;
  shared: string;
}

/** Qwen2-MoE's names, which Qwen3-MoE, OLMoE, Qwen3-Next and Qwen3.5-MoE share. */
export const QWEN_EXPERT_NAMES: ExpertNames = {
  block: 'mlp',
  fusedBlock: 'mlp',
  projections: ['gate_proj', 'up_proj', 'down_proj'],
  router: 'gate',
  selectionBias: 'expert_bias',
  groupedBias: false,
  shared: 'shared_expert',
};

const LLAMA_LAYER: LayerTraits = {
  normKind: 'rms',
  normBias: false,
  blockNorms: 'pre',
  qkNorm: 'none',
  ropeLayout: 'half',
  parallelResidual: false,
  gatedMlp: true,
  mlpBias: false,
  lmHeadBias: false,
  fusedProjections: { qkv: false, gateUp: false },
  normWeightOffset: 0,
  attentionOutputGate: false,
  parameterlessNorms: false,
  qkNormAfterRope: false,
};

/** Gemma3TextConfig's defaults for what a Gemma 3 config may leave out (the released 4B+ configs' text_config does): sizes, tied embeddings. */
const GEMMA3_TEXT_DEFAULTS = {
  vocab_size: 262_208,
  hidden_size: 2304,
  intermediate_size: 9216,
  num_hidden_layers: 26,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  tie_word_embeddings: true,
};

const GEMMA_LAYER: Partial<LayerTraits> = { blockNorms: 'sandwich', normWeightOffset: 1 };
const OLMO_LAYER: Partial<LayerTraits> = { blockNorms: 'post', qkNorm: 'projection' };
const COHERE_LAYER: Partial<LayerTraits> = { normKind: 'layer', ropeLayout: 'interleaved', parallelResidual: true };
const GLM_LAYER: Partial<LayerTraits> = { ropeLayout: 'interleaved', fusedProjections: { qkv: false, gateUp: true } };
/** The GELUs of the plain MLPs (GPT-NeoX, Phi, StarCoder2, GPT-2): exact, or one of the tanh approximation's names. */
const GELU_ACTIVATIONS = { gelu: 'gelu', gelu_new: 'gelu_tanh', gelu_pytorch_tanh: 'gelu_tanh', gelu_fast: 'gelu_tanh' } as const;
/** The squared ReLU of Nemotron-H's and Arcee's MLPs. */
const RELU2_ACTIVATION = { relu2: 'relu2' } as const;

/** Qwen3-Next's and Qwen3.5's layer: zero-centred norms, per-head q/k norms, attention output gated. */
const QWEN_GATED_LAYER: Partial<LayerTraits> = { qkNorm: 'head', normWeightOffset: 1, attentionOutputGate: true };
/** Qwen2-MoE's experts as Qwen3-Next and Qwen3.5-MoE keep them: a shared expert scaled by sigmoid(shared_expert_gate) beside the routed ones. */
const QWEN_SHARED_MOE = { expertSizeField: 'moe_intermediate_size', sharedExpert: 'gated' } as const;

/** What Lfm2Config and Lfm2MoeConfig default alike, and the names of the original LFM2 configs. */
const LFM2_DEFAULTS = {
  vocab_size: 65536,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 1_000_000,
  tie_word_embeddings: true,
};
const LFM2_NAMES = { norm_eps: 'rms_norm_eps', tie_embedding: 'tie_word_embeddings', theta: 'rope_theta' };
/** What the LFM2 families share beyond their configs: a 128k context, no window, per-head q/k norms. */
const LFM2_FAMILY = { maxPositions: 128000, slidingWindow: null, layer: { qkNorm: 'head' } } as const;
/** DeepSeek's experts: per expert as released, an ungated shared MLP of n_shared_experts experts' width, the router's correction bias (V3). */
const DEEPSEEK_MOE = {
  expertSizeField: 'moe_intermediate_size',
  sharedExpert: 'ungated',
  ignoresSparseStep: true,
  names: { selectionBias: 'gate.e_score_correction_bias', shared: 'shared_experts' },
} as const;
/** What DeepseekV2Config and DeepseekV3Config default alike: the released models' latent attention. */
const DEEPSEEK_ATTENTION_DEFAULTS = { rms_norm_eps: 1e-6, kv_lora_rank: 512, q_lora_rank: 1536, qk_nope_head_dim: 128, qk_rope_head_dim: 64, v_head_dim: 128 };
/** DeepSeek's configs' own names for the experts' count and the leading dense layers. */
const DEEPSEEK_NAMES = { n_routed_experts: 'num_experts', first_k_dense_replace: 'num_dense_layers' };

/** DeepSeek-V3's family, which Kimi K2's configs name kimi_k2. */
const DEEPSEEK_V3 = {
  covers:
    'DeepSeek-V3, R1 and V3.1, Moonlight (DeepseekV3ForCausalLM): multi-head latent attention, sigmoid-scored experts chosen with a correction bias within the best groups, beside a shared one after the first dense layers; block-FP8 releases dequantized at load',
  architecture: 'DeepseekV3ForCausalLM',
  maxPositions: 4096,
  slidingWindow: null,
  latentAttention: true,
  // rope_interleave (default true) pairs neighbouring channels; false: rotate_half.
  layer: { ropeLayout: 'interleaved' },
  moe: { ...DEEPSEEK_MOE, normalize: 'config', sigmoidRouter: { selectionBias: 'always', normalizeEpsilon: 1e-20 }, deepseekRouting: 'v3' },
  configNames: DEEPSEEK_NAMES,
  // DeepseekV3Config's defaults (DeepSeek-V3's sizes).
  configDefaults: {
    vocab_size: 129280,
    hidden_size: 7168,
    intermediate_size: 18432,
    num_hidden_layers: 61,
    num_attention_heads: 128,
    ...DEEPSEEK_ATTENTION_DEFAULTS,
    num_experts: 256,
    num_experts_per_tok: 8,
    n_shared_experts: 1,
    moe_intermediate_size: 2048,
    num_dense_layers: 3,
    n_group: 8,
    topk_group: 4,
    norm_topk_prob: true,
    routed_scaling_factor: 2.5,
  },
} satisfies ModelFamily;

/** Granite's MoE configs' own names for the experts' count and the shared MLP's width. */
const GRANITE_SHARED_NAMES = { num_local_experts: 'num_experts', shared_intermediate_size: 'shared_expert_intermediate_size' };

export const MODEL_FAMILIES = {
  llama: { covers: 'Llama 2, Llama 3.x, SmolLM/SmolLM2, TinyLlama (LlamaForCausalLM)', architecture: 'LlamaForCausalLM', maxPositions: 2048, slidingWindow: null },
  mistral: {
    covers: 'Mistral 7B and other MistralForCausalLM checkpoints (sliding-window attention)',
    architecture: 'MistralForCausalLM',
    maxPositions: 4096 * 32,
    slidingWindow: 4096,
  },
  ministral: {
    covers: 'Ministral 8B (MinistralForCausalLM: Mistral with the window on the layers layer_types marks sliding_attention, every layer without that list)',
    architecture: 'MinistralForCausalLM',
    maxPositions: 4096 * 32,
    slidingWindow: 4096,
  },
  qwen2: { covers: 'Qwen2 and Qwen2.5 (Qwen2ForCausalLM, q/k/v biases)', architecture: 'Qwen2ForCausalLM', maxPositions: 32768, slidingWindow: 4096 },
  qwen2_vl: {
    covers: 'Qwen2-VL (Qwen2VLForConditionalGeneration): its language model on text (the multimodal rope is the plain one there); images are not read',
    architecture: 'Qwen2VLForConditionalGeneration',
    maxPositions: 32768,
    slidingWindow: 4096,
    textModel: 'qwen2',
  },
  qwen2_5_vl: {
    covers: 'Qwen2.5-VL (Qwen2_5_VLForConditionalGeneration): its language model on text, as Qwen2-VL',
    architecture: 'Qwen2_5_VLForConditionalGeneration',
    maxPositions: 128000,
    slidingWindow: 4096,
    textModel: 'qwen2',
  },
  qwen3: {
    covers: "Qwen3 dense models (Qwen3ForCausalLM, RMSNorm over each head's queries and keys)",
    architecture: 'Qwen3ForCausalLM',
    maxPositions: 32768,
    slidingWindow: 4096,
    layer: { qkNorm: 'head' },
  },
  smollm3: {
    covers: 'SmolLM3 (SmolLM3ForCausalLM, no rotary embedding on every fourth layer: NoPE)',
    architecture: 'SmolLM3ForCausalLM',
    maxPositions: 32768,
    slidingWindow: null,
  },
  gemma3_text: {
    covers: 'Gemma 3 text models (Gemma3ForCausalLM: 270M, 1B; sliding-window and global layers, GeGLU, norms around both blocks)',
    architecture: 'Gemma3ForCausalLM',
    maxPositions: 131072,
    slidingWindow: 4096,
    layer: { ...GEMMA_LAYER, qkNorm: 'head' },
    configDefaults: GEMMA3_TEXT_DEFAULTS,
  },
  gemma3: {
    covers: 'Gemma 3 4B, 12B and 27B (Gemma3ForConditionalGeneration): its text model (text_config, the language_model weights); images are not read',
    architecture: 'Gemma3ForConditionalGeneration',
    maxPositions: 131072,
    slidingWindow: 4096,
    textModel: 'gemma3_text',
  },
  mistral3: {
    covers: 'Mistral Small 3.1 and 3.2 (Mistral3ForConditionalGeneration): its text model (text_config, the language_model weights); images are not read',
    architecture: 'Mistral3ForConditionalGeneration',
    maxPositions: 131072,
    slidingWindow: null,
    textModel: 'mistral',
  },
  gemma: {
    covers: 'Gemma 1 (GemmaForCausalLM: 2B, 7B, CodeGemma; GeGLU, RMSNorms scaling by 1 + weight, embeddings × √hidden)',
    architecture: 'GemmaForCausalLM',
    maxPositions: 8192,
    slidingWindow: null,
    layer: { normWeightOffset: 1 },
    configDefaults: { tie_word_embeddings: true, head_dim: 256 },
  },
  gemma2: {
    covers: 'Gemma 2 (Gemma2ForCausalLM; sliding-window and global layers in turn, soft-capped scores and logits, GeGLU)',
    architecture: 'Gemma2ForCausalLM',
    maxPositions: 8192,
    slidingWindow: 4096,
    layer: GEMMA_LAYER,
  },
  phi3: {
    covers: 'Phi-3, Phi-3.5 and Phi-4 (Phi3ForCausalLM: q/k/v and gate/up stored fused; LongRoPE; partial rotary as Phi-4-mini)',
    architecture: 'Phi3ForCausalLM',
    maxPositions: 4096,
    slidingWindow: null,
    layer: { fusedProjections: { qkv: true, gateUp: true } },
  },
  phi: {
    covers: 'Phi-1, Phi-1.5 and Phi-2 (PhiForCausalLM: one LayerNorm feeding attention and MLP in parallel, partial rotary, GELU MLP, biases everywhere, lm_head included)',
    architecture: 'PhiForCausalLM',
    activations: GELU_ACTIVATIONS,
    maxPositions: 2048,
    slidingWindow: null,
    layer: { normKind: 'layer', normBias: true, parallelResidual: true, gatedMlp: false, mlpBias: true, lmHeadBias: true },
    configDefaults: { partial_rotary_factor: 0.5, hidden_act: 'gelu_new' },
  },
  gpt_neox: {
    covers: 'GPT-NeoX and Pythia (GPTNeoXForCausalLM: LayerNorm, attention and MLP in parallel, a quarter of each head rotating, fused per-head q/k/v, GELU MLP)',
    architecture: 'GPTNeoXForCausalLM',
    activations: GELU_ACTIVATIONS,
    maxPositions: 2048,
    slidingWindow: null,
    layer: { normKind: 'layer', normBias: true, parallelResidual: true, gatedMlp: false, mlpBias: true },
    configDefaults: { partial_rotary_factor: 0.25, rope_theta: 10000, hidden_act: 'gelu' },
    configNames: { rotary_pct: 'partial_rotary_factor', rotary_emb_base: 'rope_theta' },
  },
  stablelm: {
    covers: 'StableLM 2 and StableLM-3B-4E1T (StableLmForCausalLM: LayerNorms with biases, a quarter of each head rotating, optional q/k/v biases and parallel layer)',
    architecture: 'StableLmForCausalLM',
    maxPositions: 4096,
    slidingWindow: null,
    layer: { normKind: 'layer', normBias: true },
    configDefaults: { partial_rotary_factor: 0.25 },
  },
  cohere: {
    covers: 'Command R, Aya 23 and Aya Expanse (CohereForCausalLM: one bias-free LayerNorm feeding attention and MLP in parallel, rotary pairs of neighbouring channels, scaled logits)',
    architecture: 'CohereForCausalLM',
    maxPositions: 8192,
    slidingWindow: null,
    layer: COHERE_LAYER,
    configDefaults: { tie_word_embeddings: true },
  },
  cohere2: {
    covers: 'Command R7B (Cohere2ForCausalLM: Cohere with three of every four layers sliding and rotating, the global ones without position embedding)',
    architecture: 'Cohere2ForCausalLM',
    maxPositions: 8192,
    slidingWindow: 4096,
    layer: COHERE_LAYER,
    configDefaults: { tie_word_embeddings: true },
  },
  glm: {
    covers: 'GLM-4 and GLM-Edge (GlmForCausalLM: half of each head rotating in pairs of neighbouring channels, q/k/v biases, gate/up stored fused)',
    architecture: 'GlmForCausalLM',
    maxPositions: 131072,
    slidingWindow: null,
    layer: GLM_LAYER,
    configDefaults: { partial_rotary_factor: 0.5 },
  },
  glm4: {
    covers: "GLM-4-0414 (Glm4ForCausalLM: GLM with norms on the attention's and the MLP's outputs too)",
    architecture: 'Glm4ForCausalLM',
    maxPositions: 131072,
    slidingWindow: null,
    layer: { ...GLM_LAYER, blockNorms: 'sandwich' },
    configDefaults: { partial_rotary_factor: 0.5 },
  },
  glm4_moe: {
    covers: 'Zhipu GLM-4.5, GLM-4.5-Air, GLM-4.6, GLM-4.7 (Glm4MoeForCausalLM): half of each head rotating, q/k/v biases, optional per-head q/k norms, DeepSeek-V3-routed experts beside shared ones after the first dense layers',
    architecture: 'Glm4MoeForCausalLM',
    maxPositions: 131072,
    slidingWindow: null,
    partialRotaryDefault: 0.5,
    // DeepSeek-V3's routing (sigmoid scores chosen by score + e_score_correction_bias), SwiGLU experts, shared ones added as they are.
    moe: {
      expertSizeField: 'moe_intermediate_size',
      normalize: 'config',
      sharedExpert: 'ungated',
      sigmoidRouter: { selectionBias: 'always', normalizeEpsilon: 1e-20 },
      ignoresSparseStep: true,
      // DeepSeek-V3's names: the router's own correction bias, the shared experts' block.
      names: { selectionBias: 'gate.e_score_correction_bias', shared: 'shared_experts' },
    },
    // Glm4MoeConfig's defaults.
    configDefaults: {
      vocab_size: 151552,
      hidden_size: 4096,
      intermediate_size: 10944,
      num_hidden_layers: 46,
      num_attention_heads: 96,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-5,
      moe_intermediate_size: 1408,
      num_experts_per_tok: 8,
      num_experts: 128,
      n_shared_experts: 1,
      num_dense_layers: 1,
      norm_topk_prob: true,
      routed_scaling_factor: 1,
    },
    configNames: { n_routed_experts: 'num_experts', first_k_dense_replace: 'num_dense_layers' },
  },
  starcoder2: {
    covers: 'BigCode StarCoder2 3B, 7B, 15B (Starcoder2ForCausalLM: LayerNorms with biases, biases on every projection, a GELU MLP c_fc / c_proj, an optional window on every layer)',
    architecture: 'Starcoder2ForCausalLM',
    activations: GELU_ACTIVATIONS,
    maxPositions: 4096,
    slidingWindow: null,
    layer: { normKind: 'layer', normBias: true, gatedMlp: false },
    // Starcoder2Config's defaults (StarCoder2-7B's sizes).
    configDefaults: {
      vocab_size: 49152,
      hidden_size: 3072,
      intermediate_size: 12288,
      num_hidden_layers: 30,
      num_attention_heads: 24,
      num_key_value_heads: 2,
      hidden_act: 'gelu_pytorch_tanh',
      layer_norm_eps: 1e-5,
      attention_bias: true,
      mlp_bias: true,
      // PretrainedConfig's default: the embeddings serve as the LM head unless the config says otherwise.
      tie_word_embeddings: true,
    },
    configNames: { norm_epsilon: 'layer_norm_eps', use_bias: ['attention_bias', 'mlp_bias'] },
  },
  gpt2: {
    covers: 'OpenAI GPT-2 (small to XL) and DistilGPT2 (GPT2LMHeadModel: learned absolute position embeddings, LayerNorms with biases, Conv1D projections stored input-major, a tanh-GELU MLP, tied embeddings)',
    architecture: 'GPT2LMHeadModel',
    positions: 'learned',
    activations: GELU_ACTIVATIONS,
    maxPositions: 1024,
    slidingWindow: null,
    layer: { normKind: 'layer', normBias: true, gatedMlp: false, mlpBias: true },
    // GPT2Config's defaults (GPT-2 small).
    configDefaults: { vocab_size: 50257, hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, layer_norm_eps: 1e-5, hidden_act: 'gelu_new', attention_bias: true, tie_word_embeddings: true },
    configNames: {
      n_embd: 'hidden_size',
      n_layer: 'num_hidden_layers',
      n_head: 'num_attention_heads',
      n_positions: 'max_position_embeddings',
      n_inner: 'intermediate_size',
      layer_norm_epsilon: 'layer_norm_eps',
      activation_function: 'hidden_act',
    },
  },
  ernie4_5: {
    covers: 'Baidu ERNIE 4.5 dense models (Ernie4_5ForCausalLM: ERNIE-4.5-0.3B): Llama with rotary pairs of neighbouring channels and, with use_bias, biases on every projection',
    architecture: 'Ernie4_5ForCausalLM',
    maxPositions: 131072,
    slidingWindow: null,
    layer: { ropeLayout: 'interleaved' },
    // Ernie4_5Config's defaults (ERNIE-4.5-0.3B's sizes).
    configDefaults: {
      vocab_size: 103424,
      hidden_size: 1024,
      intermediate_size: 3072,
      num_hidden_layers: 18,
      num_attention_heads: 16,
      num_key_value_heads: 2,
      head_dim: 128,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      tie_word_embeddings: true,
    },
    configNames: { use_bias: ['attention_bias', 'mlp_bias'] },
  },
  ernie4_5_moe: {
    covers: 'Baidu ERNIE 4.5 mixture-of-experts models (Ernie4_5_MoeForCausalLM: ERNIE-4.5-21B-A3B, 300B-A47B): ERNIE 4.5 with softmax-routed experts chosen with a correction bias, beside shared experts',
    architecture: 'Ernie4_5_MoeForCausalLM',
    maxPositions: 131072,
    slidingWindow: null,
    layer: { ropeLayout: 'interleaved' },
    moe: {
      expertSizeField: 'moe_intermediate_size',
      normalize: true,
      sharedExpert: 'ungated',
      correctionBias: true,
      ignoresSparseStep: true,
      // The correction bias sits in moe_statics, one row per group of experts (one group).
      names: { selectionBias: 'moe_statics.e_score_correction_bias', groupedBias: true, shared: 'shared_experts' },
    },
    // Ernie4_5_MoeConfig's defaults (ERNIE-4.5-21B-A3B's sizes).
    configDefaults: {
      vocab_size: 103424,
      hidden_size: 2560,
      intermediate_size: 12288,
      num_hidden_layers: 28,
      num_attention_heads: 20,
      num_key_value_heads: 4,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      tie_word_embeddings: true,
      moe_intermediate_size: 1536,
      num_experts_per_tok: 6,
      num_experts: 64,
      n_shared_experts: 2,
    },
    configNames: { use_bias: ['attention_bias', 'mlp_bias'], moe_num_experts: 'num_experts', moe_k: 'num_experts_per_tok', moe_num_shared_experts: 'n_shared_experts' },
  },
  arcee: {
    covers: 'Arcee AFM (ArceeForCausalLM: AFM-4.5B): Llama with an ungated squared-ReLU MLP, down(relu(up(x))²)',
    architecture: 'ArceeForCausalLM',
    activations: RELU2_ACTIVATION,
    maxPositions: 4096,
    slidingWindow: null,
    layer: { gatedMlp: false },
    // ArceeConfig's defaults.
    configDefaults: { vocab_size: 32000, hidden_size: 2560, intermediate_size: 18432, num_hidden_layers: 32, num_attention_heads: 32, rms_norm_eps: 1e-5, hidden_act: 'relu2' },
  },
  seed_oss: {
    covers: 'ByteDance Seed-OSS (SeedOssForCausalLM: Seed-OSS-36B): Llama with q/k/v biases (attention_bias), an o_proj bias of its own (attention_out_bias) and MLP biases (mlp_bias)',
    architecture: 'SeedOssForCausalLM',
    maxPositions: 524288,
    slidingWindow: null,
    // SeedOssConfig's defaults for the fields its configs may leave out.
    configDefaults: { attention_bias: true, head_dim: 128, rms_norm_eps: 1e-6 },
  },
  olmo: {
    covers: 'OLMo 1 (OlmoForCausalLM: OLMo-1B, OLMo-7B, OLMo-7B-0424, OLMo-1.7-7B): Llama with LayerNorms without any parameters and q/k/v clamped by clip_qkv',
    architecture: 'OlmoForCausalLM',
    maxPositions: 2048,
    slidingWindow: null,
    layer: { normKind: 'layer', parameterlessNorms: true },
    // OlmoConfig's defaults; its LayerNorm's epsilon is fixed at 1e-5.
    configDefaults: { vocab_size: 50304, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, layer_norm_eps: 1e-5 },
  },
  olmo2: {
    covers: "OLMo 2 (Olmo2ForCausalLM: RMSNorms on each block's output instead of its input, and over the whole query and key projections)",
    architecture: 'Olmo2ForCausalLM',
    maxPositions: 2048,
    slidingWindow: null,
    layer: OLMO_LAYER,
  },
  olmo3: {
    covers: 'OLMo 3 (Olmo3ForCausalLM: OLMo 2 with three of every four layers sliding, their rope unscaled)',
    architecture: 'Olmo3ForCausalLM',
    maxPositions: 2048,
    slidingWindow: 4096,
    layer: OLMO_LAYER,
  },
  exaone4: {
    covers: "LG EXAONE 4.0 (Exaone4ForCausalLM: 1.2B, 32B): OLMo 2's norms on the blocks' outputs, per-head q/k norms, sliding layers that rotate beside global ones without position embedding",
    architecture: 'Exaone4ForCausalLM',
    maxPositions: 2048,
    slidingWindow: 4096,
    layer: { blockNorms: 'post', qkNorm: 'head' },
    // Exaone4Config's defaults.
    configDefaults: { vocab_size: 102400, hidden_size: 4096, intermediate_size: 16384, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, rms_norm_eps: 1e-5 },
  },
  mixtral: {
    covers: 'Mixtral 8x7B and 8x22B (MixtralForCausalLM: a router sending each token to 2 of 8 SwiGLU experts, their weights renormalized)',
    architecture: 'MixtralForCausalLM',
    maxPositions: 4096 * 32,
    slidingWindow: null,
    moe: { expertSizeField: 'intermediate_size', normalize: true, names: { block: 'block_sparse_moe', projections: ['w1', 'w3', 'w2'] } },
    configDefaults: { num_experts: 8, num_experts_per_tok: 2 },
    configNames: { num_local_experts: 'num_experts' },
  },
  qwen2_moe: {
    covers: 'Qwen1.5-MoE and Qwen2-57B-A14B (Qwen2MoeForCausalLM: routed experts beside a shared expert gated per token, q/k/v biases)',
    architecture: 'Qwen2MoeForCausalLM',
    maxPositions: 32768,
    slidingWindow: 4096,
    moe: { ...QWEN_SHARED_MOE, normalize: 'config' },
    configDefaults: { num_experts: 60, num_experts_per_tok: 4 },
  },
  qwen3_moe: {
    covers: "Qwen3 mixture-of-experts models (Qwen3MoeForCausalLM: Qwen3-30B-A3B, Qwen3-235B-A22B; RMSNorm over each head's queries and keys)",
    architecture: 'Qwen3MoeForCausalLM',
    maxPositions: 32768,
    slidingWindow: 4096,
    layer: { qkNorm: 'head' },
    moe: { expertSizeField: 'moe_intermediate_size', normalize: 'config' },
    configDefaults: { num_experts: 128, num_experts_per_tok: 8 },
  },
  olmoe: {
    covers: 'OLMoE (OlmoeForCausalLM: 8 of 64 experts per token, RMSNorm over the whole query and key projections)',
    architecture: 'OlmoeForCausalLM',
    maxPositions: 4096,
    slidingWindow: null,
    layer: { qkNorm: 'projection' },
    moe: { expertSizeField: 'intermediate_size', normalize: 'config' },
    configDefaults: { num_experts: 64, num_experts_per_tok: 8 },
  },
  granite: {
    covers: 'IBM Granite 3.x dense models (GraniteForCausalLM: Llama with multipliers on embeddings, scores, residual branches and logits)',
    architecture: 'GraniteForCausalLM',
    maxPositions: 2048,
    slidingWindow: null,
  },
  granitemoe: {
    covers: "IBM Granite 3.x mixture-of-experts models (GraniteMoeForCausalLM: 1B-A400M, 3B-A800M; Granite's multipliers, experts stored stacked)",
    architecture: 'GraniteMoeForCausalLM',
    maxPositions: 2048,
    slidingWindow: null,
    // Granite's router takes the softmax of the top-k logits: the chosen probabilities renormalized.
    moe: { expertSizeField: 'intermediate_size', normalize: true },
    configDefaults: { num_experts: 8, num_experts_per_tok: 2 },
    configNames: { num_local_experts: 'num_experts' },
  },
  granitemoeshared: {
    covers: 'Granite mixture-of-experts models with a shared expert beside the routed ones (GraniteMoeSharedForCausalLM)',
    architecture: 'GraniteMoeSharedForCausalLM',
    maxPositions: 2048,
    slidingWindow: null,
    moe: { expertSizeField: 'intermediate_size', normalize: true, sharedExpert: 'ungated' },
    // GraniteMoeSharedConfig's shared_intermediate_size defaults to 0: no shared MLP.
    configDefaults: { num_experts: 8, num_experts_per_tok: 2, shared_expert_intermediate_size: 0 },
    configNames: GRANITE_SHARED_NAMES,
  },
  lfm2: {
    hybrid: true,
    covers: 'LFM2 (Lfm2ForCausalLM: 350M, 700M, 1.2B, 2.6B): gated short-convolution layers beside grouped-query attention layers with per-head q/k norms',
    architecture: 'Lfm2ForCausalLM',
    ...LFM2_FAMILY,
    // Lfm2Config's defaults are the 2.6B's sizes.
    configDefaults: { ...LFM2_DEFAULTS, hidden_size: 2560, intermediate_size: 12288 },
    configNames: { ...LFM2_NAMES, block_ff_dim: 'intermediate_size' },
  },
  lfm2_moe: {
    hybrid: true,
    covers: 'LFM2-MoE (Lfm2MoeForCausalLM: LFM2-8B-A1B): LFM2\'s hybrid of short convolutions and attention with a mixture of experts after the first dense layers, routed by sigmoid scores with a selection bias',
    architecture: 'Lfm2MoeForCausalLM',
    ...LFM2_FAMILY,
    moe: { expertSizeField: 'moe_intermediate_size', normalize: 'config', sigmoidRouter: { selectionBias: 'use_expert_bias', normalizeEpsilon: 1e-6 },
      names: { block: 'feed_forward', fusedBlock: 'feed_forward', projections: ['w1', 'w3', 'w2'] },
    },
    // Lfm2MoeConfig's defaults are LFM2-8B-A1B's sizes.
    configDefaults: {
      ...LFM2_DEFAULTS,
      hidden_size: 2048,
      intermediate_size: 7168,
      moe_intermediate_size: 1792,
      num_experts: 32,
      num_experts_per_tok: 4,
      num_dense_layers: 2,
      norm_topk_prob: true,
      use_expert_bias: true,
      routed_scaling_factor: 1,
    },
    configNames: LFM2_NAMES,
  },
  granitemoehybrid: {
    hybrid: true,
    covers: 'Granite 4.0-H (GraniteMoeHybridForCausalLM: H-Micro, H-Tiny, H-Small): Mamba-2 mixers beside attention layers (NoPE unless position_embedding_type is "rope"), Granite\'s multipliers, shared_mlp with or without stacked experts',
    architecture: 'GraniteMoeHybridForCausalLM',
    maxPositions: 2048,
    slidingWindow: null,
    moe: { expertSizeField: 'intermediate_size', normalize: true, sharedExpert: 'ungated', optional: true },
    // GraniteMoeHybridConfig's defaults: 8 experts (0: none, shared_mlp alone), a shared MLP of 1024.
    configDefaults: { num_experts: 8, num_experts_per_tok: 2, shared_expert_intermediate_size: 1024 },
    configNames: GRANITE_SHARED_NAMES,
  },
  nemotron_h: {
    hybrid: true,
    covers: 'NVIDIA Nemotron-H (NemotronHForCausalLM: Nemotron-H 4B/8B/47B/56B, Nemotron Nano 2 9B/12B, Nemotron 3 Nano 30B-A3B): one block per layer, a Mamba-2 mixer (grouped gated norm), NoPE attention, a ReLU² MLP or a mixture of ReLU² experts',
    architecture: 'NemotronHForCausalLM',
    positions: 'none',
    activations: RELU2_ACTIVATION,
    maxPositions: 4096,
    slidingWindow: null,
    layer: { gatedMlp: false },
    // Nemotron 3's 'E' layers: DeepSeek-V3's sigmoid routing, ReLU² experts and a shared one.
    moe: {
      expertSizeField: 'moe_intermediate_size',
      normalize: 'config',
      sharedExpert: 'ungated',
      sigmoidRouter: { selectionBias: 'always', normalizeEpsilon: 1e-20 },
      ungatedExperts: true,
    },
    // NemotronHConfig's defaults (Nemotron-H-8B's sizes); its attention has no rotary embedding.
    configDefaults: {
      vocab_size: 131072,
      hidden_size: 4096,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 128,
      intermediate_size: 21504,
      rms_norm_eps: 1e-5,
      hidden_act: 'relu2',
      num_experts: 8,
      num_experts_per_tok: 2,
      moe_intermediate_size: 7688,
      shared_expert_intermediate_size: 7688,
      norm_topk_prob: true,
      routed_scaling_factor: 1,
    },
    configNames: {
      n_routed_experts: 'num_experts',
      moe_shared_expert_intermediate_size: 'shared_expert_intermediate_size',
      layer_norm_epsilon: 'rms_norm_eps',
      mlp_hidden_act: 'hidden_act',
      attention_head_dim: 'head_dim',
      // The older names NemotronHConfig still reads.
      mamba_n_groups: 'n_groups',
      mamba_d_conv: 'conv_kernel',
      mamba_conv_bias: 'use_conv_bias',
      mamba_dt_limit: 'time_step_limit',
    },
  },
  qwen3_5_text: {
    hybrid: true,
    covers: "Qwen3.5's text models (Qwen3_5ForCausalLM): Gated DeltaNet linear attention on most layers, gated full attention (partial rotary, per-head q/k norms) on the others, zero-centred norms",
    architecture: 'Qwen3_5ForCausalLM',
    maxPositions: 262144,
    slidingWindow: null,
    layer: QWEN_GATED_LAYER,
    gatedDeltaNet: 'separate',
    partialRotaryDefault: 0.25,
    // Qwen3_5TextConfig's defaults for what a config may leave out.
    configDefaults: { vocab_size: 248320, hidden_size: 4096, intermediate_size: 12288, num_hidden_layers: 32, num_attention_heads: 16, num_key_value_heads: 4, head_dim: 256, rms_norm_eps: 1e-6 },
  },
  qwen3_5: {
    covers: "Qwen3.5 (Qwen3_5ForConditionalGeneration: 0.8B to 27B): its text model (text_config, the language_model weights); images are not read",
    architecture: 'Qwen3_5ForConditionalGeneration',
    maxPositions: 262144,
    slidingWindow: null,
    textModel: 'qwen3_5_text',
  },
  qwen3_5_moe_text: {
    hybrid: true,
    covers: "Qwen3.5's mixture-of-experts text models (Qwen3_5MoeForCausalLM): Qwen3.5's layers with experts in every MLP, a gated shared expert beside them",
    architecture: 'Qwen3_5MoeForCausalLM',
    maxPositions: 32768,
    slidingWindow: null,
    layer: QWEN_GATED_LAYER,
    gatedDeltaNet: 'separate',
    partialRotaryDefault: 0.25,
    // Its router renormalizes the chosen experts' probabilities whatever norm_topk_prob says.
    moe: { ...QWEN_SHARED_MOE, normalize: true, ignoresSparseStep: true },
    // Qwen3_5MoeTextConfig's defaults (Qwen3.5-35B-A3B's sizes); it has no dense MLP.
    configDefaults: {
      vocab_size: 248320,
      hidden_size: 2048,
      num_hidden_layers: 40,
      num_attention_heads: 16,
      num_key_value_heads: 2,
      head_dim: 256,
      rms_norm_eps: 1e-6,
      num_experts: 256,
      num_experts_per_tok: 8,
      moe_intermediate_size: 512,
      shared_expert_intermediate_size: 512,
    },
  },
  qwen3_5_moe: {
    covers: "Qwen3.5's mixture-of-experts releases (Qwen3_5MoeForConditionalGeneration: 35B-A3B, 122B-A10B, 397B-A17B): their text model (text_config, the language_model weights); images are not read",
    architecture: 'Qwen3_5MoeForConditionalGeneration',
    maxPositions: 32768,
    slidingWindow: null,
    textModel: 'qwen3_5_moe_text',
  },
  qwen3_next: {
    hybrid: true,
    covers: "Qwen3-Next (Qwen3NextForCausalLM: Qwen3-Next-80B-A3B Instruct and Thinking): Qwen3.5's layers with Gated DeltaNet's projections fused per key head, Qwen2-MoE's experts with a gated shared expert",
    architecture: 'Qwen3NextForCausalLM',
    maxPositions: 32768,
    slidingWindow: null,
    layer: QWEN_GATED_LAYER,
    gatedDeltaNet: 'fused',
    partialRotaryDefault: 0.25,
    moe: { ...QWEN_SHARED_MOE, normalize: 'config' },
    // Qwen3NextConfig's defaults.
    configDefaults: {
      vocab_size: 151936,
      hidden_size: 2048,
      intermediate_size: 5632,
      num_hidden_layers: 48,
      num_attention_heads: 16,
      num_key_value_heads: 2,
      head_dim: 256,
      rms_norm_eps: 1e-6,
      num_experts: 512,
      num_experts_per_tok: 10,
      moe_intermediate_size: 512,
      shared_expert_intermediate_size: 512,
      norm_topk_prob: true,
    },
  },
  bamba: {
    hybrid: true,
    covers: "IBM Bamba (BambaForCausalLM: Bamba-9B v1, v2): Granite 4.0-H's Mamba-2 mixers beside attention on the layers attn_layer_indices lists (half of each head rotating), a SwiGLU MLP",
    architecture: 'BambaForCausalLM',
    maxPositions: 262144,
    slidingWindow: null,
    // BambaConfig's defaults for the common fields.
    configDefaults: { vocab_size: 128000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5 },
  },
  falcon_h1: {
    hybrid: true,
    covers: 'TII Falcon-H1 (FalconH1ForCausalLM: 0.5B, 1.5B, 1.5B-Deep, 3B, 7B, 34B; Falcon-H1R): a parallel hybrid, attention and a Mamba-2 mixer side by side on every layer, with μP multipliers',
    architecture: 'FalconH1ForCausalLM',
    maxPositions: 8192,
    slidingWindow: null,
    // FalconH1Config's defaults for the common fields.
    configDefaults: { vocab_size: 128000, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, rms_norm_eps: 1e-5 },
  },
  jamba: {
    hybrid: true,
    covers: 'AI21 Jamba (JambaForCausalLM: Jamba-v0.1, Jamba 1.5 / 1.6 / 1.7 Mini and Large): Mamba-1 mixers (RMSNorms on dt, B and C) on most layers, attention without positional encoding on every attn_layer_period-th, a mixture of experts in every expert_layer_period-th MLP',
    architecture: 'JambaForCausalLM',
    positions: 'none',
    maxPositions: 262144,
    slidingWindow: null,
    // Its router's top-k probabilities are not renormalized; each expert is a SwiGLU MLP of intermediate_size.
    moe: { expertSizeField: 'intermediate_size', normalize: false, names: { block: 'feed_forward', fusedBlock: 'feed_forward', router: 'router' } },
    // JambaConfig's defaults (Jamba-v0.1's sizes).
    configDefaults: { vocab_size: 65536, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, rms_norm_eps: 1e-6, num_experts: 16, num_experts_per_tok: 2 },
  },
  phimoe: {
    covers:
      'Microsoft Phi-3.5-MoE (PhimoeForCausalLM: 2 of 16 experts per token chosen by SparseMixer, LayerNorms with biases, biases on q/k/v/o and the LM head, LongRoPE with its own attention factors)',
    architecture: 'PhimoeForCausalLM',
    // As published, before transformers had the class: the remote code's name.
    releasedArchitectures: ['PhiMoEForCausalLM'],
    maxPositions: 4096 * 32,
    slidingWindow: null,
    layer: { normKind: 'layer', normBias: true },
    moe: { expertSizeField: 'intermediate_size', normalize: false, sparseMixer: true, names: { block: 'block_sparse_moe', projections: ['w1', 'w3', 'w2'] } },
    // Its LayerNorms' epsilon is named rms_norm_eps.
    configNames: { num_local_experts: 'num_experts', rms_norm_eps: 'layer_norm_eps' },
    // PhimoeConfig's defaults.
    configDefaults: { vocab_size: 32064, hidden_size: 4096, intermediate_size: 6400, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 8, num_experts: 16, num_experts_per_tok: 2, rms_norm_eps: 1e-5, router_jitter_noise: 0.01 },
  },
  hunyuan_v1_dense: {
    covers: "Tencent Hunyuan dense models (HunYuanDenseV1ForCausalLM: Hunyuan-0.5B, 1.8B, 4B, 7B): Llama with per-head q/k norms after RoPE and NTK-alpha RoPE (the base times alpha^(d/(d−2)))",
    architecture: 'HunYuanDenseV1ForCausalLM',
    maxPositions: 2048,
    slidingWindow: null,
    layer: { qkNorm: 'head', qkNormAfterRope: true },
    qkNormNames: { query: 'query_layernorm', key: 'key_layernorm' },
    // HunYuanDenseV1Config's defaults (Hunyuan-7B's sizes).
    configDefaults: { vocab_size: 290943, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32, rms_norm_eps: 1e-5 },
  },
  apertus: {
    covers: 'Swiss AI Apertus (ApertusForCausalLM: 8B, 70B): Llama with per-head q/k norms, pre-norms named attention_layernorm and feedforward_layernorm, and an ungated MLP with the learned xIELU activation',
    architecture: 'ApertusForCausalLM',
    maxPositions: 65536,
    slidingWindow: null,
    layer: { qkNorm: 'head', gatedMlp: false },
    activations: { xielu: 'xielu' },
    normNames: { beforeAttention: 'attention_layernorm', beforeMlp: 'feedforward_layernorm' },
    // ApertusConfig's defaults, its rope among them (llama3 ×8 from 8192 positions at base 12e6).
    configDefaults: {
      vocab_size: 131072,
      hidden_size: 4096,
      intermediate_size: 14336,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      rms_norm_eps: 1e-5,
      rope_theta: 12_000_000,
      rope_scaling: { rope_type: 'llama3', factor: 8, original_max_position_embeddings: 8192, low_freq_factor: 1, high_freq_factor: 4 },
    },
  },
  gpt_oss: {
    covers:
      "OpenAI gpt-oss (GptOssForCausalLM: gpt-oss-20b, gpt-oss-120b): sliding-window and global layers in turn, a learned attention sink per head, biases on every projection, 4 of 32 or 128 experts per token with a clamped SwiGLU; MXFP4 experts are dequantized to bf16 at load",
    architecture: 'GptOssForCausalLM',
    maxPositions: 131072,
    slidingWindow: 128,
    attentionSinks: true,
    // The router's top-k logits through a softmax: the top-k of the softmax, renormalized.
    moe: { expertSizeField: 'intermediate_size', normalize: true, gptOssExperts: true },
    configNames: { num_local_experts: 'num_experts' },
    // GptOssConfig's defaults (gpt-oss-20b's sizes) and its default rope: YaRN ×32 from 4096 positions, not truncated.
    configDefaults: {
      vocab_size: 201088,
      hidden_size: 2880,
      intermediate_size: 2880,
      num_hidden_layers: 36,
      num_attention_heads: 64,
      num_key_value_heads: 8,
      head_dim: 64,
      num_experts: 128,
      num_experts_per_tok: 4,
      rms_norm_eps: 1e-5,
      attention_bias: true,
      rope_theta: 150000,
      rope_scaling: { rope_type: 'yarn', factor: 32, beta_fast: 32, beta_slow: 1, truncate: false, original_max_position_embeddings: 4096 },
    },
  },
  deepseek_v2: {
    covers:
      'DeepSeek-V2, V2-Lite, V2.5 and DeepSeek-Coder-V2 (DeepseekV2ForCausalLM): multi-head latent attention (each token cached as one compressed latent and one rotated key), experts chosen by softmax (optionally within the best groups) beside shared ones after the first dense layers',
    architecture: 'DeepseekV2ForCausalLM',
    maxPositions: 2048,
    slidingWindow: null,
    latentAttention: true,
    layer: { ropeLayout: 'interleaved' },
    moe: { ...DEEPSEEK_MOE, normalize: false, deepseekRouting: 'v2' },
    configNames: DEEPSEEK_NAMES,
    // DeepseekV2Config's defaults.
    configDefaults: {
      vocab_size: 32000,
      hidden_size: 4096,
      intermediate_size: 11008,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      ...DEEPSEEK_ATTENTION_DEFAULTS,
      num_experts: 64,
      n_shared_experts: 2,
      moe_intermediate_size: 1407,
      num_dense_layers: 0,
      routed_scaling_factor: 1,
      topk_method: 'greedy',
    },
  },
  deepseek_v3: DEEPSEEK_V3,
  kimi_k2: {
    ...DEEPSEEK_V3,
    covers: "Moonshot Kimi K2 (its config names model_type kimi_k2 for DeepseekV3ForCausalLM): DeepSeek-V3's architecture, with its own sizes (384 experts, one group)",
  },
  llama4_text: {
    covers:
      "Meta Llama 4 Scout and Maverick (Llama4ForCausalLM): three of every four layers rotating neighbouring pairs with per-head L2-normalized queries and keys, the fourth without rotation and with its queries' temperature tuned by position, a mixture of experts whose router's sigmoid scores scale each expert's input, beside a shared expert; the rotating layers attend within chunks of attention_chunk_size (8192), their caches emptied at each new chunk",
    architecture: 'Llama4ForCausalLM',
    maxPositions: 4096 * 32,
    slidingWindow: null,
    layer: { ropeLayout: 'interleaved', qkNormAfterRope: true },
    mlpName: 'feed_forward',
    // The top-k logits' sigmoids scale each chosen expert's input; a shared expert of one expert's width beside them.
    moe: {
      expertSizeField: 'intermediate_size',
      normalize: false,
      sharedExpert: 'expert-width',
      sigmoidRouter: { selectionBias: 'use_expert_bias', normalizeEpsilon: 0 },
      weighsInputs: true,
      inputMajorExperts: true,
      names: { block: 'feed_forward', fusedBlock: 'feed_forward', router: 'router', shared: 'shared_expert' },
    },
    configNames: { num_local_experts: 'num_experts' },
    // Llama4TextConfig's defaults (Llama 4 Scout's sizes).
    configDefaults: {
      vocab_size: 202048,
      hidden_size: 5120,
      intermediate_size: 8192,
      intermediate_size_mlp: 16384,
      num_hidden_layers: 48,
      num_attention_heads: 40,
      num_key_value_heads: 8,
      head_dim: 128,
      rms_norm_eps: 1e-5,
      num_experts: 16,
      num_experts_per_tok: 1,
      rope_theta: 500000,
      use_qk_norm: true,
      attention_chunk_size: 8192,
      attn_temperature_tuning: true,
      floor_scale: 8192,
      attn_scale: 0.1,
    },
  },
  llama4: {
    covers: 'Meta Llama 4 Scout and Maverick as released (Llama4ForConditionalGeneration): its text model (text_config, the language_model weights); images are not read',
    architecture: 'Llama4ForConditionalGeneration',
    maxPositions: 4096 * 32,
    slidingWindow: null,
    textModel: 'llama4_text',
  },
  lfm2_vl: {
    covers: 'LFM2-VL (Lfm2VlForConditionalGeneration: 450M, 1.6B, 3B): its LFM2 language model (text_config, the language_model weights); images are not read',
    architecture: 'Lfm2VlForConditionalGeneration',
    maxPositions: 128000,
    slidingWindow: null,
    textModel: 'lfm2',
  },
} satisfies Record<string, ModelFamily>;

export type ModelType = keyof typeof MODEL_FAMILIES;

/** The family's layer: Llama's, with what the family changes. */
export function layerTraits(type: ModelType): LayerTraits {
  return { ...LLAMA_LAYER, ...(MODEL_FAMILIES[type] as ModelFamily).layer };
}
