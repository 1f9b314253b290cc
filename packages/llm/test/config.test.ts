import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ropeAttentionFactor } from '@kvkit/tensor-core';
import { describe, expect, it } from 'vitest';
import { layerWindow, parseModelConfig } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';

const fixtureConfig = (name: string): Record<string, unknown> => JSON.parse(readFileSync(join(TORCH_REFERENCE, name, 'config.json'), 'utf8'));

const rejects = (raw: unknown, code: string, pattern: RegExp): void => {
  expectKvkitError(() => parseModelConfig(raw), code, pattern);
};

// Field values of public checkpoints' config.json (dimensions only).
const LLAMA_32_1B = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  vocab_size: 128256,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000.0,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  tie_word_embeddings: true,
  attention_bias: false,
  mlp_bias: false,
  hidden_act: 'silu',
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  torch_dtype: 'bfloat16',
};

const MISTRAL_7B_V01 = {
  architectures: ['MistralForCausalLM'],
  model_type: 'mistral',
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  vocab_size: 32000,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  hidden_act: 'silu',
  bos_token_id: 1,
  eos_token_id: 2,
};

const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  use_sliding_window: false,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  eos_token_id: 151643,
};

/** The fields of a Qwen3-0.6B config.json: head_dim 128 with 16 heads of a 1024-wide model. */
const QWEN3_06B = {
  architectures: ['Qwen3ForCausalLM'],
  model_type: 'qwen3',
  attention_bias: false,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 1024,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_sliding_window: false,
  vocab_size: 151936,
};

/** The fields of a SmolLM3-3B config.json: every fourth layer without RoPE. */
const SMOLLM3_3B = {
  architectures: ['SmolLM3ForCausalLM'],
  model_type: 'smollm3',
  attention_bias: false,
  eos_token_id: 128012,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 11008,
  max_position_embeddings: 65536,
  mlp_bias: false,
  no_rope_layer_interval: 4,
  no_rope_layers: Array.from({ length: 36 }, (_, i) => ((i + 1) % 4 === 0 ? 0 : 1)),
  num_attention_heads: 16,
  num_hidden_layers: 36,
  num_key_value_heads: 4,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 5000000.0,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_sliding_window: false,
  vocab_size: 128256,
};

/** The fields of a Gemma 3 1B config.json (transformers 4.5x): five sliding layers to each global one. */
const GEMMA3_1B = {
  architectures: ['Gemma3ForCausalLM'],
  model_type: 'gemma3_text',
  attention_bias: false,
  attn_logit_softcapping: null,
  bos_token_id: 2,
  eos_token_id: [1, 106],
  final_logit_softcapping: null,
  head_dim: 256,
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 1152,
  intermediate_size: 6912,
  max_position_embeddings: 32768,
  num_attention_heads: 4,
  num_hidden_layers: 26,
  num_key_value_heads: 1,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: 512,
  sliding_window_pattern: 6,
  torch_dtype: 'bfloat16',
  vocab_size: 262144,
};

/** The fields of a Gemma 2 2B config.json: every other layer slides, scores and logits soft-capped. */
const GEMMA2_2B = {
  architectures: ['Gemma2ForCausalLM'],
  model_type: 'gemma2',
  attn_logit_softcapping: 50.0,
  final_logit_softcapping: 30.0,
  head_dim: 256,
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 2304,
  intermediate_size: 9216,
  max_position_embeddings: 8192,
  num_attention_heads: 8,
  num_hidden_layers: 26,
  num_key_value_heads: 4,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_theta: 10000.0,
  sliding_window: 4096,
  torch_dtype: 'float32',
  vocab_size: 256000,
};

/** The fields of a Phi-3-mini-4k-instruct config.json: a 2047-token window on every layer, fused projections in the checkpoint. */
const PHI3_MINI_4K = {
  architectures: ['Phi3ForCausalLM'],
  model_type: 'phi3',
  attention_bias: false,
  bos_token_id: 1,
  eos_token_id: 32000,
  hidden_act: 'silu',
  hidden_size: 3072,
  intermediate_size: 8192,
  max_position_embeddings: 4096,
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  original_max_position_embeddings: 4096,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  sliding_window: 2047,
  tie_word_embeddings: false,
  vocab_size: 32064,
};

// Phi-3.5-mini-instruct's and Phi-4-mini-instruct's config.json (long_factor / short_factor shortened
// to made-up values of the released length: one per rotated channel pair).
const factors = (n: number, top: number) => Array.from({ length: n }, (_, i) => 1 + ((top - 1) * i) / (n - 1));
const PHI35_MINI = {
  ...PHI3_MINI_4K,
  max_position_embeddings: 131072,
  rope_scaling: { long_factor: factors(48, 60), short_factor: factors(48, 1.2), type: 'longrope' },
  sliding_window: 262144,
};
const PHI4_MINI = {
  architectures: ['Phi3ForCausalLM'],
  model_type: 'phi3',
  attention_bias: false,
  bos_token_id: 199999,
  eos_token_id: 199999,
  full_attn_mod: 1,
  hidden_act: 'silu',
  hidden_size: 3072,
  intermediate_size: 8192,
  interpolate_factor: 1,
  lm_head_bias: false,
  max_position_embeddings: 131072,
  mlp_bias: false,
  num_attention_heads: 24,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  original_max_position_embeddings: 4096,
  pad_token_id: 199999,
  partial_rotary_factor: 0.75,
  rms_norm_eps: 1e-5,
  rope_scaling: { long_factor: factors(48, 60), short_factor: factors(48, 1.2), type: 'longrope' },
  rope_theta: 10000.0,
  sliding_window: 262144,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  vocab_size: 200064,
};

// google/gemma-3-4b-it's config.json without its vision_config (Gemma3ForConditionalGeneration).
const GEMMA3_4B_IT = {
  architectures: ['Gemma3ForConditionalGeneration'],
  boi_token_index: 255999,
  eoi_token_index: 256000,
  eos_token_id: [1, 106],
  image_token_index: 262144,
  initializer_range: 0.02,
  mm_tokens_per_image: 256,
  model_type: 'gemma3',
  text_config: {
    hidden_size: 2560,
    intermediate_size: 10240,
    model_type: 'gemma3_text',
    num_hidden_layers: 34,
    rope_scaling: { factor: 8.0, rope_type: 'linear' },
    sliding_window: 1024,
  },
  torch_dtype: 'bfloat16',
  transformers_version: '4.50.0.dev0',
  vision_config: { model_type: 'siglip_vision_model' },
};

// allenai/OLMo-2-0425-1B's config.json (Olmo2ForCausalLM).
const OLMO2_1B = {
  architectures: ['Olmo2ForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  eos_token_id: 100257,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 4096,
  model_type: 'olmo2',
  num_attention_heads: 16,
  num_hidden_layers: 16,
  num_key_value_heads: 16,
  pad_token_id: 100277,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 500000,
  tie_word_embeddings: false,
  torch_dtype: 'float32',
  use_cache: true,
  vocab_size: 100352,
};

// stabilityai/stablelm-2-1_6b's config.json (StableLmForCausalLM).
const STABLELM_2_16B = {
  architectures: ['StableLmForCausalLM'],
  bos_token_id: 100257,
  eos_token_id: 100257,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 5632,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 4096,
  model_type: 'stablelm',
  num_attention_heads: 32,
  num_hidden_layers: 24,
  num_key_value_heads: 32,
  partial_rotary_factor: 0.25,
  qk_layernorm: false,
  rope_theta: 10000,
  tie_word_embeddings: false,
  torch_dtype: 'float16',
  use_parallel_residual: false,
  use_qkv_bias: true,
  vocab_size: 100352,
};

// CohereForAI/aya-expanse-8b's config.json (CohereForCausalLM).
const AYA_EXPANSE_8B = {
  architectures: ['CohereForCausalLM'],
  attention_bias: false,
  bos_token_id: 5,
  eos_token_id: 255001,
  hidden_act: 'silu',
  hidden_size: 4096,
  intermediate_size: 14336,
  layer_norm_eps: 1e-5,
  logit_scale: 0.125,
  max_position_embeddings: 8192,
  model_type: 'cohere',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  pad_token_id: 0,
  rope_theta: 10000,
  torch_dtype: 'float16',
  use_qk_norm: false,
  vocab_size: 256000,
};

// microsoft/phi-2's config.json (PhiForCausalLM).
const PHI_2 = {
  architectures: ['PhiForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 50256,
  embd_pdrop: 0.0,
  eos_token_id: 50256,
  hidden_act: 'gelu_new',
  hidden_size: 2560,
  initializer_range: 0.02,
  intermediate_size: 10240,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 2048,
  model_type: 'phi',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  partial_rotary_factor: 0.4,
  qk_layernorm: false,
  resid_pdrop: 0.1,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: 'float16',
  use_cache: true,
  vocab_size: 51200,
};

// EleutherAI's pythia-160m config.json (GPTNeoXForCausalLM).
const PYTHIA_160M = {
  architectures: ['GPTNeoXForCausalLM'],
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: 'gelu',
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 2048,
  model_type: 'gpt_neox',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  rotary_emb_base: 10000,
  rotary_pct: 0.25,
  tie_word_embeddings: false,
  torch_dtype: 'float16',
  use_cache: true,
  use_parallel_residual: true,
  vocab_size: 50304,
};

// A Granite 3.x 2B config.json (GraniteForCausalLM).
const GRANITE_3_2B = {
  architectures: ['GraniteForCausalLM'],
  model_type: 'granite',
  attention_bias: false,
  attention_multiplier: 0.015625,
  bos_token_id: 0,
  embedding_multiplier: 12.0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 8192,
  logits_scaling: 8.0,
  max_position_embeddings: 131072,
  mlp_bias: false,
  num_attention_heads: 32,
  num_hidden_layers: 40,
  num_key_value_heads: 8,
  pad_token_id: 0,
  residual_multiplier: 0.22,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  vocab_size: 49159,
};

describe('config.json', () => {
  it('normalizes Llama 3.2 (llama3 rope scaling, explicit head_dim, tied, several EOS ids)', () => {
    const c = parseModelConfig(LLAMA_32_1B);
    expect(c).toMatchObject({
      modelType: 'llama',
      numLayers: 16,
      hiddenSize: 2048,
      intermediateSize: 8192,
      numHeads: 32,
      numKvHeads: 8,
      headDim: 64,
      vocabSize: 128256,
      maxPositions: 131072,
      ropeTheta: 500000,
      ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 },
      normEps: 1e-5,
      tieWordEmbeddings: true,
      attentionBias: { q: false, k: false, v: false, o: false },
      mlpBias: false,
      bosTokenId: 128000,
      eosTokenIds: [128001, 128008, 128009],
      torchDtype: 'bfloat16',
    });
    expect(c.slidingWindow).toBeUndefined();
  });

  it('normalizes Mistral (sliding window) and Qwen2.5 (q/k/v biases, declared window unused)', () => {
    expect(parseModelConfig(MISTRAL_7B_V01)).toMatchObject({ modelType: 'mistral', headDim: 128, numKvHeads: 8, slidingWindow: 4096, eosTokenIds: [2] });
    expect(parseModelConfig({ ...MISTRAL_7B_V01, sliding_window: null }).slidingWindow).toBeUndefined();
    const { sliding_window: _unused, ...noWindowField } = MISTRAL_7B_V01;
    expect(parseModelConfig(noWindowField).slidingWindow).toBe(4096); // HF's MistralConfig default
    const qwen = parseModelConfig(QWEN25_05B);
    expect(qwen).toMatchObject({ modelType: 'qwen2', headDim: 64, attentionBias: { q: true, k: true, v: true, o: false }, tieWordEmbeddings: true });
    expect(qwen.slidingWindow).toBeUndefined();
  });

  it('normalizes Qwen3 (RMSNorm on queries and keys, head_dim larger than hidden / heads, biases only with attention_bias)', () => {
    const qwen3 = parseModelConfig(QWEN3_06B);
    expect(qwen3).toMatchObject({ modelType: 'qwen3', qkNorm: 'head', headDim: 128, numHeads: 16, numKvHeads: 8, maxPositions: 40960, tieWordEmbeddings: true, eosTokenIds: [151645] });
    expect(qwen3.attentionBias).toEqual({ q: false, k: false, v: false, o: false });
    expect(qwen3.slidingWindow).toBeUndefined();
    expect(parseModelConfig({ ...QWEN3_06B, attention_bias: true }).attentionBias).toEqual({ q: true, k: true, v: true, o: true });
    for (const other of [LLAMA_32_1B, MISTRAL_7B_V01, QWEN25_05B]) expect(parseModelConfig(other).qkNorm).toBe('none');
    // use_sliding_window: a window on the layers from max_window_layers on (none where sliding_window is null, as HF reads it).
    expect(parseModelConfig({ ...QWEN3_06B, use_sliding_window: true, sliding_window: 4096, max_window_layers: 20 })).toMatchObject({
      slidingWindow: 4096,
      slidingLayers: Array.from({ length: 8 }, (_, i) => 20 + i),
    });
    expect(parseModelConfig({ ...QWEN3_06B, use_sliding_window: true }).slidingWindow).toBeUndefined();
    rejects({ ...QWEN3_06B, model_type: 'zamba2', architectures: ['Zamba2ForCausalLM'] }, 'UNSUPPORTED_MODEL', /model_type "zamba2" is not supported; supported: .*qwen3 \(Qwen3 dense models/);
    rejects({ ...QWEN3_06B, architectures: ['Qwen2ForCausalLM'] }, 'UNSUPPORTED_MODEL', /supported: Qwen3ForCausalLM for model_type qwen3/);
  });

  it('normalizes SmolLM3 (no RoPE on the layers no_rope_layers marks 0, or every fourth by default)', () => {
    const nope = [3, 7, 11, 15, 19, 23, 27, 31, 35];
    expect(parseModelConfig(SMOLLM3_3B)).toMatchObject({ modelType: 'smollm3', noRopeLayers: nope, headDim: 128, numKvHeads: 4, ropeTheta: 5e6, qkNorm: 'none' });
    const { no_rope_layers: _flags, ...byInterval } = SMOLLM3_3B;
    expect(parseModelConfig(byInterval).noRopeLayers).toEqual(nope);
    expect(parseModelConfig({ ...byInterval, no_rope_layer_interval: 6 }).noRopeLayers).toEqual([5, 11, 17, 23, 29, 35]);
    for (const other of [LLAMA_32_1B, QWEN3_06B]) expect(parseModelConfig(other).noRopeLayers).toEqual([]);
    rejects({ ...SMOLLM3_3B, no_rope_layers: [1, 0, 1] }, 'INVALID_CONFIG', /no_rope_layers must list one 0\/1 flag per layer \(36\)/);
    rejects({ ...SMOLLM3_3B, no_rope_layers: SMOLLM3_3B.no_rope_layers.map((f) => f * 2) }, 'INVALID_CONFIG', /no_rope_layers/);
    expect(parseModelConfig({ ...SMOLLM3_3B, use_sliding_window: true, sliding_window: 2048, max_window_layers: 0 })).toMatchObject({ slidingWindow: 2048 });
  });

  it('normalizes Gemma 3 (sliding and global layers, their two rope bases, GeGLU, norms around both blocks, the query scale)', () => {
    const sliding = Array.from({ length: 26 }, (_, i) => i).filter((i) => (i + 1) % 6 !== 0);
    const gemma = parseModelConfig(GEMMA3_1B);
    expect(gemma).toMatchObject({
      modelType: 'gemma3_text',
      headDim: 256,
      numKvHeads: 1,
      qkNorm: 'head',
      mlpActivation: 'gelu_tanh',
      normWeightOffset: 1,
      blockNorms: 'sandwich',
      embedScale: Math.sqrt(1152),
      attentionScale: 1 / 16,
      slidingWindow: 512,
      slidingLayers: sliding,
      ropeTheta: 1e6,
      localRopeTheta: 10000,
      eosTokenIds: [1, 106],
    });
    expect([layerWindow(gemma, 0), layerWindow(gemma, 5), layerWindow(gemma, 6)]).toEqual([512, undefined, 512]);
    // transformers 5: layer_types and per-type rope_parameters.
    const { rope_theta: _t, rope_local_base_freq: _l, sliding_window_pattern: _p, ...rest } = GEMMA3_1B;
    const layerTypes = Array.from({ length: 26 }, (_, i) => (i % 3 === 2 ? 'full_attention' : 'sliding_attention'));
    const v5 = parseModelConfig({
      ...rest,
      layer_types: layerTypes,
      rope_parameters: { full_attention: { rope_type: 'linear', rope_theta: 1e6, factor: 8 }, sliding_attention: { rope_type: 'default', rope_theta: 10000 } },
    });
    expect(v5).toMatchObject({ ropeTheta: 1e6, ropeScaling: { type: 'linear', factor: 8 }, localRopeTheta: 10000, slidingLayers: layerTypes.flatMap((t, i) => (t === 'sliding_attention' ? [i] : [])) });
    for (const other of [LLAMA_32_1B, QWEN3_06B]) expect(parseModelConfig(other)).toMatchObject({ mlpActivation: 'silu', normWeightOffset: 0, blockNorms: 'pre', embedScale: 1 });
    expect(layerWindow(parseModelConfig(MISTRAL_7B_V01), 17)).toBe(4096);
    rejects({ ...GEMMA3_1B, final_logit_softcapping: 30 }, 'UNSUPPORTED_MODEL', /final_logit_softcapping = 30 is not supported; supported: null/);
    rejects({ ...GEMMA3_1B, attn_logit_softcapping: 50 }, 'UNSUPPORTED_MODEL', /attn_logit_softcapping/);
    rejects({ ...GEMMA3_1B, use_bidirectional_attention: true }, 'UNSUPPORTED_MODEL', /use_bidirectional_attention/);
    rejects({ ...GEMMA3_1B, hidden_activation: 'gelu' }, 'UNSUPPORTED_MODEL', /hidden_activation = "gelu" is not supported; supported: gelu_pytorch_tanh/);
    rejects({ ...GEMMA3_1B, layer_types: ['sliding_attention'] }, 'INVALID_CONFIG', /layer_types must list sliding_attention or full_attention for each of the 26 layers/);
    rejects({ ...GEMMA3_1B, model_type: 'gemma3', architectures: ['Gemma3ForCausalLM'] }, 'UNSUPPORTED_MODEL', /supported: Gemma3ForConditionalGeneration for model_type gemma3/);
    rejects({ model_type: 'gemma3', text_config: 'x' }, 'CORRUPT_MODEL_FILE', /text_config must be an object/);
  });

  it("reads Gemma 3 4B's multimodal config as its text model: text_config over Gemma3TextConfig's defaults, the outer token ids and dtype", () => {
    const gemma4b = parseModelConfig(GEMMA3_4B_IT);
    expect(gemma4b).toMatchObject({
      modelType: 'gemma3_text',
      hiddenSize: 2560,
      intermediateSize: 10240,
      numLayers: 34,
      numHeads: 8,
      numKvHeads: 4,
      headDim: 256,
      vocabSize: 262208,
      slidingWindow: 1024,
      ropeScaling: { type: 'linear', factor: 8 },
      ropeTheta: 1_000_000,
      localRopeTheta: 10000,
      attentionScale: 1 / 16,
      eosTokenIds: [1, 106],
      torchDtype: 'bfloat16',
      tieWordEmbeddings: true,
    });
    expect(gemma4b.slidingLayers).toHaveLength(34 - 5);
  });

  it("reads Gemma 1 (GeGLU from hidden_activation whatever hidden_act says, norms scaling by 1 + weight, embeddings × √hidden, tied, scores × 1/√head_dim)", () => {
    // google/gemma-2b's config.json (its first revision had no hidden_activation).
    const gemma2b = {
      architectures: ['GemmaForCausalLM'],
      attention_bias: false,
      bos_token_id: 2,
      eos_token_id: 1,
      head_dim: 256,
      hidden_act: 'gelu',
      hidden_activation: 'gelu_pytorch_tanh',
      hidden_size: 2048,
      intermediate_size: 16384,
      max_position_embeddings: 8192,
      model_type: 'gemma',
      num_attention_heads: 8,
      num_hidden_layers: 18,
      num_key_value_heads: 1,
      pad_token_id: 0,
      rms_norm_eps: 1e-6,
      rope_scaling: null,
      rope_theta: 10000.0,
      torch_dtype: 'bfloat16',
      vocab_size: 256000,
    };
    const c = parseModelConfig(gemma2b);
    expect(c).toMatchObject({ modelType: 'gemma', mlpActivation: 'gelu_tanh', normWeightOffset: 1, embedScale: Math.sqrt(2048), tieWordEmbeddings: true, headDim: 256, numKvHeads: 1, blockNorms: 'pre' });
    expect(c.attentionScale).toBeUndefined();
    expect(c.slidingWindow).toBeUndefined();
    const { hidden_activation: _unset, ...firstRevision } = gemma2b;
    expect(parseModelConfig(firstRevision).mlpActivation).toBe('gelu_tanh');
    rejects({ ...gemma2b, hidden_activation: 'relu' }, 'UNSUPPORTED_MODEL', /hidden_activation = "relu" is not supported; supported: gelu_pytorch_tanh/);
  });

  it('normalizes Gemma 2 (every other layer slides, one rope base, soft-capped scores and logits, no query/key norms)', () => {
    const gemma2 = parseModelConfig(GEMMA2_2B);
    expect(gemma2).toMatchObject({
      modelType: 'gemma2',
      qkNorm: 'none',
      mlpActivation: 'gelu_tanh',
      normWeightOffset: 1,
      blockNorms: 'sandwich',
      embedScale: Math.sqrt(2304),
      attentionScale: 1 / 16,
      attentionSoftcap: 50,
      finalLogitSoftcap: 30,
      slidingWindow: 4096,
      slidingLayers: Array.from({ length: 13 }, (_, i) => 2 * i),
      ropeTheta: 10000,
    });
    expect(gemma2.localRopeTheta).toBeUndefined();
    // HF's Gemma2Config defaults cap both; null turns a cap off.
    const { attn_logit_softcapping: _a, final_logit_softcapping: _f, ...uncapped } = GEMMA2_2B;
    expect(parseModelConfig(uncapped)).toMatchObject({ attentionSoftcap: 50, finalLogitSoftcap: 30 });
    const noCaps = parseModelConfig({ ...GEMMA2_2B, attn_logit_softcapping: null, final_logit_softcapping: null });
    expect([noCaps.attentionSoftcap, noCaps.finalLogitSoftcap]).toEqual([undefined, undefined]);
    rejects({ ...GEMMA2_2B, attn_logit_softcapping: -1 }, 'INVALID_CONFIG', /attn_logit_softcapping must be a positive number/);
  });

  it('normalizes Phi-3 (fused projections in the checkpoint, a window on every layer)', () => {
    expect(parseModelConfig(PHI3_MINI_4K)).toMatchObject({ modelType: 'phi3', fusedProjections: { qkv: true, gateUp: true }, slidingWindow: 2047, headDim: 96, rotaryDim: 96, tieWordEmbeddings: false, eosTokenIds: [32000] });
    expect(parseModelConfig({ ...PHI3_MINI_4K, sliding_window: null }).slidingWindow).toBeUndefined();
    expect(parseModelConfig(LLAMA_32_1B).fusedProjections).toEqual({ qkv: false, gateUp: false });
  });

  it('reads Phi-3.5-mini and Phi-4-mini: LongRoPE over the original 4k context, Phi-4-mini rotating 3/4 of each head', () => {
    const phi35 = parseModelConfig(PHI35_MINI);
    expect(phi35).toMatchObject({ rotaryDim: 96, maxPositions: 131072, ropeScaling: { type: 'longrope', originalMaxPositionEmbeddings: 4096 } });
    // transformers' default: √(1 + ln(131072 / 4096) / ln 4096).
    expect(ropeAttentionFactor(phi35.ropeScaling)).toBeCloseTo(Math.sqrt(1 + Math.log(32) / Math.log(4096)), 12);
    // Phi-3-128k's first configs called it "su"; transformers reads that (and "yarn") as LongRoPE for Phi-3.
    expect(parseModelConfig({ ...PHI35_MINI, rope_scaling: { ...PHI35_MINI.rope_scaling, type: 'su' } }).ropeScaling.type).toBe('longrope');
    const phi4 = parseModelConfig(PHI4_MINI);
    expect(phi4).toMatchObject({ headDim: 128, rotaryDim: 96, numKvHeads: 8, tieWordEmbeddings: true, slidingWindow: 262144, ropeScaling: { type: 'longrope' } });
    rejects({ ...PHI4_MINI, partial_rotary_factor: 1.5 }, 'INVALID_CONFIG', /partial_rotary_factor must be a number in \(0, 1\], got 1\.5/);
    rejects({ ...PHI4_MINI, partial_rotary_factor: 0.01 }, 'INVALID_CONFIG', /0\.01 of head_dim 128 gives 1/);
    rejects({ ...PHI4_MINI, rope_scaling: { ...PHI4_MINI.rope_scaling, short_factor: 'x' } }, 'INVALID_CONFIG', /config\.json: rope_scaling: .*short_factor/);
    // 48 factors fit the 96 rotated channels of 0.75 × 128, not the 64 of 0.5 × 128.
    rejects({ ...PHI4_MINI, partial_rotary_factor: 0.5 }, 'INVALID_CONFIG', /rope_scaling short_factor has 48 entries; 64 rotary channels need 32/);
  });

  it('reads Granite 3 (Llama with multipliers on embeddings, scores, residual branches and logits)', () => {
    const granite = parseModelConfig(GRANITE_3_2B);
    expect(granite).toMatchObject({ modelType: 'granite', embedScale: 12, attentionScale: 0.015625, residualScale: 0.22, logitsDivisor: 8, headDim: 64, tieWordEmbeddings: true, ropeTheta: 10000000 });
    // GraniteConfig's defaults are all 1, the score scale included.
    const bare = parseModelConfig({ model_type: 'granite', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: 10 });
    expect(bare).toMatchObject({ embedScale: 1, attentionScale: 1, residualScale: 1, logitsDivisor: 1 });
    expect(parseModelConfig(LLAMA_32_1B)).toMatchObject({ residualScale: 1, logitsDivisor: 1 });
    expect(parseModelConfig(LLAMA_32_1B).attentionScale).toBeUndefined();
    rejects({ ...GRANITE_3_2B, logits_scaling: 0 }, 'INVALID_CONFIG', /logits_scaling must be a positive number, got 0/);
  });

  it('reads StarCoder2 under its own names (norm_epsilon, use_bias for every projection): LayerNorms with biases, a GELU MLP, a window on every layer where one is set', () => {
    // A StarCoder2-3B-like config.json.
    const starcoder2 = {
      architectures: ['Starcoder2ForCausalLM'],
      model_type: 'starcoder2',
      hidden_size: 3072,
      intermediate_size: 12288,
      num_hidden_layers: 30,
      num_attention_heads: 24,
      num_key_value_heads: 2,
      hidden_act: 'gelu_pytorch_tanh',
      max_position_embeddings: 16384,
      norm_epsilon: 1e-5,
      rope_theta: 999999.4420358813,
      sliding_window: 4096,
      use_bias: true,
      attention_dropout: 0.1,
      residual_dropout: 0.1,
      embedding_dropout: 0.1,
      vocab_size: 49152,
      torch_dtype: 'bfloat16',
    };
    const c = parseModelConfig(starcoder2);
    expect(c).toMatchObject({
      headDim: 128,
      normKind: 'layer',
      normBias: true,
      normEps: 1e-5,
      gatedMlp: false,
      mlpActivation: 'gelu_tanh',
      mlpBias: true,
      attentionBias: { q: true, k: true, v: true, o: true },
      slidingWindow: 4096,
      ropeTheta: 999999.4420358813,
      tieWordEmbeddings: true,
    });
    expect(c.slidingLayers).toBeUndefined();
    const plain = parseModelConfig({ ...starcoder2, use_bias: false, sliding_window: null });
    expect([plain.mlpBias, plain.attentionBias.o, plain.slidingWindow]).toEqual([false, false, undefined]);
    expect(parseModelConfig({ model_type: 'starcoder2' })).toMatchObject({ hiddenSize: 3072, numKvHeads: 2, mlpBias: true });
    expect(parseModelConfig({ ...starcoder2, tie_word_embeddings: false }).tieWordEmbeddings).toBe(false);
  });

  it('reads Arcee AFM (an ungated relu² MLP) and Seed-OSS (q/k/v biases by default, o_proj’s its own, head_dim 128 unless given)', () => {
    const arcee = parseModelConfig({ model_type: 'arcee', architectures: ['ArceeForCausalLM'], hidden_size: 2560, num_attention_heads: 20, num_key_value_heads: 4, vocab_size: 128004 });
    expect(arcee).toMatchObject({ gatedMlp: false, mlpActivation: 'relu2', headDim: 128, attentionBias: { q: false, o: false } });
    expect(() => parseModelConfig({ model_type: 'arcee', hidden_act: 'silu' })).toThrow(/hidden_act = "silu" is not supported; supported: relu2/);
    const seed = parseModelConfig({ model_type: 'seed_oss', architectures: ['SeedOssForCausalLM'], hidden_size: 5120, num_attention_heads: 80, num_key_value_heads: 8, num_hidden_layers: 64, intermediate_size: 27648, vocab_size: 155136 });
    expect(seed).toMatchObject({ headDim: 128, attentionBias: { q: true, k: true, v: true, o: false }, mlpBias: false, normEps: 1e-6 });
    expect(parseModelConfig({ model_type: 'seed_oss', attention_out_bias: true, attention_bias: false, hidden_size: 64, num_attention_heads: 4, vocab_size: 10, intermediate_size: 8, num_hidden_layers: 1 }).attentionBias).toEqual({ q: false, k: false, v: false, o: true });
  });

  it('reads GPT-NeoX / Pythia under its own names (rotary_pct, rotary_emb_base, layer_norm_eps): LayerNorm, parallel residual, plain GELU MLP, biases', () => {
    const pythia = parseModelConfig(PYTHIA_160M);
    expect(pythia).toMatchObject({
      modelType: 'gpt_neox',
      numKvHeads: 12,
      headDim: 64,
      rotaryDim: 16,
      ropeTheta: 10000,
      normEps: 1e-5,
      normKind: 'layer',
      parallelResidual: true,
      gatedMlp: false,
      mlpActivation: 'gelu',
      attentionBias: { q: true, k: true, v: true, o: true },
      mlpBias: true,
      tieWordEmbeddings: false,
    });
    expect(parseModelConfig({ ...PYTHIA_160M, use_parallel_residual: false }).parallelResidual).toBe(false);
    expect(parseModelConfig({ ...PYTHIA_160M, hidden_act: 'gelu_new' }).mlpActivation).toBe('gelu_tanh');
    // transformers 5's names for the same fields.
    const { rotary_pct: _p, rotary_emb_base: _b, ...v5 } = PYTHIA_160M;
    expect(parseModelConfig({ ...v5, partial_rotary_factor: 0.5, rope_theta: 20000 })).toMatchObject({ rotaryDim: 32, ropeTheta: 20000 });
    expect(parseModelConfig(LLAMA_32_1B)).toMatchObject({ normKind: 'rms', parallelResidual: false, gatedMlp: true });
    rejects({ ...PYTHIA_160M, hidden_act: 'relu' }, 'UNSUPPORTED_MODEL', /hidden_act = "relu" is not supported; supported: gelu, gelu_new/);
    rejects({ ...PYTHIA_160M, layer_norm_eps: -1 }, 'INVALID_CONFIG', /layer_norm_eps must be a positive number/);
  });

  it('reads Phi-2 (one LayerNorm feeding attention and MLP in parallel, 0.4 of each head rotating, biases, LM head bias)', () => {
    expect(parseModelConfig(PHI_2)).toMatchObject({
      modelType: 'phi',
      headDim: 80,
      rotaryDim: 32,
      normKind: 'layer',
      normEps: 1e-5,
      parallelResidual: true,
      gatedMlp: false,
      mlpActivation: 'gelu_tanh',
      attentionBias: { q: true, k: true, v: true, o: true },
      mlpBias: true,
      lmHeadBias: true,
    });
    expect(parseModelConfig(LLAMA_32_1B).lmHeadBias).toBe(false);
    rejects({ ...PHI_2, qk_layernorm: true }, 'UNSUPPORTED_MODEL', /qk_layernorm = true is not supported/);
  });

  it('reads StableLM 2 (LayerNorms with biases, a quarter of each head rotating, q/k/v biases; the 12B\'s parallel layer; its per-head q/k LayerNorms refused)', () => {
    expect(parseModelConfig(STABLELM_2_16B)).toMatchObject({
      modelType: 'stablelm',
      headDim: 64,
      rotaryDim: 16,
      normKind: 'layer',
      normEps: 1e-5,
      parallelResidual: false,
      gatedMlp: true,
      mlpActivation: 'silu',
      attentionBias: { q: true, k: true, v: true, o: false },
      mlpBias: false,
    });
    expect(parseModelConfig({ ...STABLELM_2_16B, use_parallel_residual: true }).parallelResidual).toBe(true);
    expect(parseModelConfig({ ...STABLELM_2_16B, use_qkv_bias: false }).attentionBias).toEqual({ q: false, k: false, v: false, o: false });
    rejects({ ...STABLELM_2_16B, qk_layernorm: true }, 'UNSUPPORTED_MODEL', /qk_layernorm = true is not supported; supported: false \(StableLM 2 1\.6B/);
  });

  it('reads Cohere / Aya (one bias-free LayerNorm feeding both blocks in parallel, interleaved rotary pairs, scaled logits, tied embeddings)', () => {
    expect(parseModelConfig(AYA_EXPANSE_8B)).toMatchObject({
      modelType: 'cohere',
      normKind: 'layer',
      normBias: false,
      parallelResidual: true,
      gatedMlp: true,
      ropeLayout: 'interleaved',
      logitsDivisor: 8,
      tieWordEmbeddings: true,
      numKvHeads: 8,
    });
    expect(parseModelConfig(LLAMA_32_1B)).toMatchObject({ ropeLayout: 'half', normBias: false });
    expect(parseModelConfig(PYTHIA_160M).normBias).toBe(true);
    rejects({ ...AYA_EXPANSE_8B, use_qk_norm: true }, 'UNSUPPORTED_MODEL', /use_qk_norm = true is not supported/);
  });

  it('reads GLM-4 and GLM-4-0414 (half of each head rotating in neighbouring pairs, q/k/v biases, fused gate/up; 0414: output norms too)', () => {
    const glm = { architectures: ['GlmForCausalLM'], model_type: 'glm', attention_bias: true, head_dim: 128, hidden_act: 'silu', hidden_size: 4096, intermediate_size: 13696, max_position_embeddings: 131072, num_attention_heads: 32, num_hidden_layers: 40, num_key_value_heads: 2, partial_rotary_factor: 0.5, rms_norm_eps: 1.5625e-7, rope_theta: 10000.0, tie_word_embeddings: false, vocab_size: 151552, eos_token_id: [151329, 151336, 151338] };
    expect(parseModelConfig(glm)).toMatchObject({ ropeLayout: 'interleaved', rotaryDim: 64, attentionBias: { q: true, k: true, v: true, o: false }, fusedProjections: { qkv: false, gateUp: true }, blockNorms: 'pre', eosTokenIds: [151329, 151336, 151338] });
    expect(parseModelConfig({ ...glm, model_type: 'glm4', architectures: ['Glm4ForCausalLM'] })).toMatchObject({ blockNorms: 'sandwich', normWeightOffset: 0, ropeLayout: 'interleaved' });
  });

  it("reads Qwen2.5-VL-3B's config as its Qwen2 language model (the multimodal rope is the plain one on text)", () => {
    const vl = {
      architectures: ['Qwen2_5_VLForConditionalGeneration'],
      bos_token_id: 151643,
      eos_token_id: 151645,
      hidden_act: 'silu',
      hidden_size: 2048,
      intermediate_size: 11008,
      max_position_embeddings: 128000,
      max_window_layers: 70,
      model_type: 'qwen2_5_vl',
      num_attention_heads: 16,
      num_hidden_layers: 36,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_scaling: { type: 'mrope', mrope_section: [16, 24, 24] },
      rope_theta: 1000000.0,
      sliding_window: 32768,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      use_sliding_window: false,
      vision_config: { depth: 32 },
      vocab_size: 151936,
    };
    expect(parseModelConfig(vl)).toMatchObject({ modelType: 'qwen2', headDim: 128, numKvHeads: 2, ropeScaling: { type: 'default' }, attentionBias: { q: true, k: true, v: true, o: false }, tieWordEmbeddings: true });
    expect(parseModelConfig(vl).slidingWindow).toBeUndefined();
    rejects({ ...vl, architectures: ['Qwen2ForCausalLM'] }, 'UNSUPPORTED_MODEL', /supported: Qwen2_5_VLForConditionalGeneration for model_type qwen2_5_vl/);
  });

  it('reads Command R7B (Cohere 2: three of four layers sliding and rotating, every fourth global without rotation)', () => {
    const r7b = parseModelConfig({ ...AYA_EXPANSE_8B, model_type: 'cohere2', architectures: ['Cohere2ForCausalLM'], sliding_window: 4096, sliding_window_pattern: 4, rope_theta: 50000 });
    expect(r7b).toMatchObject({ modelType: 'cohere2', ropeLayout: 'interleaved', parallelResidual: true, slidingWindow: 4096, noRopeLayers: [3, 7, 11, 15, 19, 23, 27, 31] });
    expect(r7b.slidingLayers).toHaveLength(24);
    expect(parseModelConfig(AYA_EXPANSE_8B).noRopeLayers).toEqual([]);
  });

  it('reads OLMo 2 (norms on the blocks\' outputs only, q/k norms over the whole projections)', () => {
    expect(parseModelConfig(OLMO2_1B)).toMatchObject({ modelType: 'olmo2', blockNorms: 'post', qkNorm: 'projection', numKvHeads: 16, headDim: 128, ropeTheta: 500000, normEps: 1e-6, tieWordEmbeddings: false });
    expect(parseModelConfig(LLAMA_32_1B)).toMatchObject({ blockNorms: 'pre', qkNorm: 'none' });
    expect(parseModelConfig(OLMO2_1B).slidingWindow).toBeUndefined();
  });

  it('reads OLMo 3 (OLMo 2 with three of four layers sliding; their rope unscaled)', () => {
    const yarn = { rope_type: 'yarn', factor: 8.0, original_max_position_embeddings: 8192 };
    const olmo3 = parseModelConfig({ ...OLMO2_1B, model_type: 'olmo3', architectures: ['Olmo3ForCausalLM'], rope_scaling: yarn, max_position_embeddings: 65536 });
    expect(olmo3).toMatchObject({ blockNorms: 'post', qkNorm: 'projection', slidingWindow: 4096, localRopeTheta: 500000, ropeScaling: { type: 'yarn', factor: 8 } });
    expect(olmo3.slidingLayers).toEqual([0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14]);
    const listed = Array.from({ length: 16 }, (_, i) => (i % 2 ? 'full_attention' : 'sliding_attention'));
    expect(parseModelConfig({ ...OLMO2_1B, model_type: 'olmo3', architectures: ['Olmo3ForCausalLM'], layer_types: listed, sliding_window: 1024 })).toMatchObject({ slidingWindow: 1024, slidingLayers: [0, 2, 4, 6, 8, 10, 12, 14] });
    // transformers 5 nests the two ropes by layer type: YaRN on the global layers, the same base unscaled on the sliding ones.
    const { rope_theta: theta, ...noTheta } = OLMO2_1B;
    const nested = { full_attention: { ...yarn, rope_theta: theta }, sliding_attention: { rope_type: 'default', rope_theta: theta } };
    const v5 = parseModelConfig({ ...noTheta, model_type: 'olmo3', architectures: ['Olmo3ForCausalLM'], rope_parameters: nested, max_position_embeddings: 65536 });
    expect(v5).toMatchObject({ ropeTheta: theta, localRopeTheta: theta, ropeScaling: { type: 'yarn', factor: 8 } });
  });

  it('reads YaRN rope scaling (Qwen2.5 and Qwen3 past 32k tokens)', () => {
    const yarn = { rope_type: 'yarn', factor: 4.0, original_max_position_embeddings: 32768 };
    const qwen = parseModelConfig({ ...QWEN25_05B, rope_scaling: yarn });
    expect(qwen.ropeScaling).toMatchObject({ type: 'yarn', factor: 4, originalMaxPositionEmbeddings: 32768, betaFast: 32, betaSlow: 1 });
    expect(ropeAttentionFactor(qwen.ropeScaling)).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
    // Qwen2.5-0.5B states 32768 positions; YaRN's factor 4 over them makes the context 131072.
    expect(qwen.maxPositions).toBe(131072);
    expect(parseModelConfig({ ...QWEN25_05B, max_position_embeddings: 200000, rope_scaling: yarn }).maxPositions).toBe(200000);
    rejects({ ...QWEN25_05B, rope_scaling: { rope_type: 'yarn' } }, 'INVALID_CONFIG', /rope_scaling: rope_scaling of type "yarn" needs a numeric "factor"/);
  });

  it('reads dynamic NTK rope scaling: growing from max_position_embeddings, the context stretched by its factor', () => {
    const c = parseModelConfig({ ...LLAMA_32_1B, rope_scaling: { type: 'dynamic', factor: 2 } });
    expect(c.ropeScaling).toEqual({ type: 'dynamic', factor: 2, originalMaxPositionEmbeddings: LLAMA_32_1B.max_position_embeddings });
    expect(c.maxPositions).toBe(2 * LLAMA_32_1B.max_position_embeddings);
    rejects({ ...LLAMA_32_1B, rope_scaling: { type: 'dynamic' } }, 'INVALID_CONFIG', /rope_scaling of type "dynamic" needs a numeric "factor"/);
  });

  it('reads the fixtures’ configs as the reference script meant them', () => {
    expect(parseModelConfig(fixtureConfig('mistral-sliding'))).toMatchObject({ slidingWindow: 4, headDim: 16, numHeads: 4, hiddenSize: 32 });
    expect(parseModelConfig(fixtureConfig('qwen2-bias')).slidingWindow).toBeUndefined();
    expect(parseModelConfig(fixtureConfig('llama-mqa-bias'))).toMatchObject({ numKvHeads: 1, attentionBias: { q: true, k: true, v: true, o: true }, mlpBias: true });
    expect(parseModelConfig(fixtureConfig('smollm-tied'))).toMatchObject({ tieWordEmbeddings: true, numHeads: 6, numKvHeads: 2, headDim: 8 });
    expect(parseModelConfig(fixtureConfig('qwen3-qk-norm'))).toMatchObject({ modelType: 'qwen3', qkNorm: 'head', headDim: 16, hiddenSize: 32, tieWordEmbeddings: true });
  });

  it('reads transformers 5 configs (rope_parameters, dtype, layer_types)', () => {
    const { rope_theta: _t, rope_scaling: _s, torch_dtype: _d, ...rest } = LLAMA_32_1B;
    const v5 = { ...rest, dtype: 'bfloat16', rope_parameters: { rope_type: 'llama3', rope_theta: 500000.0, factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192 } };
    expect(parseModelConfig(v5)).toMatchObject({ ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 32 }, torchDtype: 'bfloat16' });
    expect(parseModelConfig({ ...rest, rope_parameters: { rope_type: 'default', rope_theta: 1234 } })).toMatchObject({ ropeTheta: 1234, ropeScaling: { type: 'default' } });
    const layerTypes = (kind: string) => Array.from({ length: 32 }, () => kind);
    expect(parseModelConfig({ ...MISTRAL_7B_V01, layer_types: layerTypes('sliding_attention') }).slidingWindow).toBe(4096);
    expect(parseModelConfig({ ...QWEN25_05B, layer_types: layerTypes('full_attention').slice(0, 24) }).slidingWindow).toBeUndefined();
    // rope_parameters nested by layer type: the attention layers' entry, without a top-level rope_theta to fall back on.
    const llama3 = v5.rope_parameters;
    expect(parseModelConfig({ ...rest, rope_parameters: { full_attention: llama3 } })).toMatchObject({ ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 32 } });
    expect(parseModelConfig({ ...rest, rope_parameters: { full_attention: llama3, sliding_attention: llama3 } }).ropeTheta).toBe(500000);
    // A sliding entry that rotates otherwise than the runtime rotates those layers is refused, not ignored.
    expect(() => parseModelConfig({ ...rest, rope_parameters: { full_attention: llama3, sliding_attention: { rope_type: 'default', rope_theta: 10000 } } })).toThrow(
      /rope_parameters\.sliding_attention = .* is not supported; supported: the rope of the attention layers/,
    );
  });

  it('defaults what HF defaults (KV heads, eps, theta, context)', () => {
    const c = parseModelConfig({ model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 1, num_attention_heads: 4, vocab_size: 10 });
    expect(c).toMatchObject({ numKvHeads: 4, headDim: 16, normEps: 1e-6, ropeTheta: 10000, maxPositions: 2048, tieWordEmbeddings: false, eosTokenIds: [] });
  });

  it('refuses unsupported architectures, naming the field and listing what is supported', () => {
    rejects({ ...LLAMA_32_1B, model_type: 'bloom' }, 'UNSUPPORTED_MODEL', /config\.json: model_type "bloom" is not supported; supported: llama \(.*\); mistral \(.*\); qwen2 \(/);
    rejects({ hidden_size: 8 }, 'UNSUPPORTED_MODEL', /model_type undefined is not supported; supported: llama/);
    rejects({ ...LLAMA_32_1B, hidden_act: 'gelu' }, 'UNSUPPORTED_MODEL', /hidden_act = "gelu" is not supported; supported: silu/);
    rejects({ ...LLAMA_32_1B, rope_scaling: { rope_type: 'su', factor: 4 } }, 'UNSUPPORTED_MODEL', /rope_scaling\.rope_type = "su" is not supported; supported: default, linear, dynamic, llama3, yarn, longrope/);
    rejects({ ...LLAMA_32_1B, rope_scaling: { type: 'mrope', mrope_section: [16, 24, 24] } }, 'UNSUPPORTED_MODEL', /rope_scaling\.rope_type = "mrope"/);
    rejects({ ...LLAMA_32_1B, quantization_config: { quant_method: 'gptq', bits: 4 } }, 'UNSUPPORTED_MODEL', /quantization_config = "gptq" is not supported; supported: unquantized f32, f16 or bf16/);
    rejects({ ...LLAMA_32_1B, architectures: ['LlamaForSequenceClassification'] }, 'UNSUPPORTED_MODEL', /architectures = \["LlamaForSequenceClassification"\] is not supported; supported: LlamaForCausalLM/);
    rejects({ ...MISTRAL_7B_V01, layer_types: ['sliding_attention', 'chunked_attention'] }, 'UNSUPPORTED_MODEL', /layer_types = "chunked_attention" is not supported/);
  });

  it('reads which layers slide: layer_types for any model, Qwen2.5 from max_window_layers on', () => {
    const qwen = parseModelConfig({ ...QWEN25_05B, use_sliding_window: true });
    expect(qwen).toMatchObject({ slidingWindow: 32768, slidingLayers: [21, 22, 23] });
    expect([layerWindow(qwen, 20), layerWindow(qwen, 21)]).toEqual([undefined, 32768]);
    const mixed = Array.from({ length: 32 }, (_, i) => (i % 2 ? 'full_attention' : 'sliding_attention'));
    expect(parseModelConfig({ ...MISTRAL_7B_V01, layer_types: mixed })).toMatchObject({ slidingWindow: 4096, slidingLayers: Array.from({ length: 16 }, (_, i) => 2 * i) });
    rejects({ ...MISTRAL_7B_V01, layer_types: ['sliding_attention', 'full_attention'] }, 'INVALID_CONFIG', /layer_types must list sliding_attention or full_attention for each of the 32 layers/);
  });

  it('refuses invalid values, naming the field', () => {
    const { hidden_size: _h, ...noHidden } = LLAMA_32_1B;
    rejects(noHidden, 'INVALID_CONFIG', /config\.json: hidden_size is required/);
    rejects({ ...LLAMA_32_1B, num_key_value_heads: 5 }, 'INVALID_CONFIG', /num_key_value_heads \(5\) must divide num_attention_heads \(32\)/);
    rejects({ ...LLAMA_32_1B, num_hidden_layers: 0 }, 'INVALID_CONFIG', /num_hidden_layers must be a positive integer, got 0/);
    rejects({ ...LLAMA_32_1B, vocab_size: '128256' }, 'INVALID_CONFIG', /vocab_size must be a positive integer, got "128256"/);
    rejects({ ...LLAMA_32_1B, head_dim: 63 }, 'INVALID_CONFIG', /head_dim must be even/);
    rejects({ ...LLAMA_32_1B, head_dim: undefined, hidden_size: 2050 }, 'INVALID_CONFIG', /hidden_size \(2050\) must be a multiple of num_attention_heads \(32\)/);
    rejects({ ...LLAMA_32_1B, rope_theta: -1 }, 'INVALID_CONFIG', /rope_theta must be a positive number/);
    rejects({ ...LLAMA_32_1B, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'INVALID_CONFIG', /config\.json: rope_scaling: .*low_freq_factor/);
    rejects([1, 2], 'CORRUPT_MODEL_FILE', /config\.json: must hold a JSON object/);
  });
});
