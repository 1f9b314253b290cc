// AllenAI OLMo 1: Llama with LayerNorms that have no parameters at all, and q/k/v clamped by
// clip_qkv (which OLMoE shares). Its configs; logits against the PyTorch reference (olmo-clip,
// olmo-bf16, olmoe-clip) are checked in torch-reference-parity.test.ts (CPU), webgpu.test.ts and
// cuda-emulator.test.ts.
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';

// The fields of allenai/OLMo-7B-0424-hf's config.json.
const OLMO_7B_0424 = {
  architectures: ['OlmoForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: null,
  clip_qkv: 8.0,
  eos_token_id: 50279,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 11008,
  max_position_embeddings: 4096,
  model_type: 'olmo',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  pad_token_id: 1,
  rope_scaling: null,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
  torch_dtype: 'float32',
  use_cache: true,
  vocab_size: 50304,
};

describe('OLMo 1 configs', () => {
  it('reads OLMo-7B-0424: parameterless LayerNorms at eps 1e-5, q/k/v clamped to ±8', () => {
    const c = parseModelConfig(OLMO_7B_0424);
    expect(c).toMatchObject({ normKind: 'layer', normBias: false, parameterlessNorms: true, normEps: 1e-5, clipQkv: 8, qkNorm: 'none', tieWordEmbeddings: false });
    expect(parseModelConfig({ ...OLMO_7B_0424, clip_qkv: null }).clipQkv).toBeUndefined();
  });

  it('refuses a clip_qkv that is not a positive number, for OLMo and OLMoE alike', () => {
    expectKvkitError(() => parseModelConfig({ ...OLMO_7B_0424, clip_qkv: -1 }), 'INVALID_CONFIG', /clip_qkv must be a positive number/);
    const olmoe = { model_type: 'olmoe', hidden_size: 64, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 96, num_experts: 4, num_experts_per_tok: 2 };
    expect(parseModelConfig({ ...olmoe, clip_qkv: 4 }).clipQkv).toBe(4);
    expectKvkitError(() => parseModelConfig({ ...olmoe, clip_qkv: 'x' }), 'INVALID_CONFIG', /clip_qkv must be a positive number/);
  });
});
