// Qwen3-Next and Qwen3.5's mixture-of-experts models: Qwen3.5's hybrid layers (Gated DeltaNet,
// gated full attention) with Qwen2-MoE's experts and their gated shared expert. Their configs as
// released and as their classes default them; Qwen3-Next's fused DeltaNet projections split at
// load; the recurrent state across passes and batched requests. Logits against the PyTorch
// reference: torch-reference-parity.test.ts (CPU), webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertClose } from '@kvkit/tensor-core/testing';
import { loadModel, parseModelConfig } from '../src/index.js';
import { editedCheckpoint, referenceIdLogits } from './helpers/edited-checkpoint.js';
import { expectKvkitError } from './helpers/errors.js';
import { readReference, rows, TORCH_REFERENCE } from './helpers/fixtures.js';
import { expectBatchMatchesSolo, expectChunkedPrefill, expectStateAfterPrompt } from './helpers/recurrent-continuity.js';

// Qwen/Qwen3-Next-80B-A3B-Instruct's config.json.
const QWEN3_NEXT_80B = {
  architectures: ['Qwen3NextForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  decoder_sparse_step: 1,
  eos_token_id: 151645,
  full_attention_interval: 4,
  head_dim: 256,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 5120,
  linear_conv_kernel_dim: 4,
  linear_key_head_dim: 128,
  linear_num_key_heads: 16,
  linear_num_value_heads: 32,
  linear_value_head_dim: 128,
  max_position_embeddings: 262144,
  mlp_only_layers: [],
  model_type: 'qwen3_next',
  moe_intermediate_size: 512,
  norm_topk_prob: true,
  num_attention_heads: 16,
  num_experts: 512,
  num_experts_per_tok: 10,
  num_hidden_layers: 48,
  num_key_value_heads: 2,
  output_router_logits: false,
  partial_rotary_factor: 0.25,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 10000000,
  router_aux_loss_coef: 0.001,
  shared_expert_intermediate_size: 512,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

// The text_config of a Qwen3.5-35B-A3B-like release (full attention on every fourth layer).
const QWEN3_5_MOE_TEXT = {
  model_type: 'qwen3_5_moe_text',
  hidden_size: 2048,
  num_hidden_layers: 40,
  num_attention_heads: 16,
  num_key_value_heads: 2,
  head_dim: 256,
  layer_types: Array.from({ length: 40 }, (_, i) => (i % 4 === 3 ? 'full_attention' : 'linear_attention')),
  linear_conv_kernel_dim: 4,
  linear_key_head_dim: 128,
  linear_value_head_dim: 128,
  linear_num_key_heads: 16,
  linear_num_value_heads: 32,
  num_experts: 256,
  num_experts_per_tok: 8,
  moe_intermediate_size: 512,
  shared_expert_intermediate_size: 512,
  rms_norm_eps: 1e-6,
  rope_parameters: { rope_type: 'default', rope_theta: 10000000, partial_rotary_factor: 0.25, mrope_section: [11, 11, 10], mrope_interleaved: true },
  vocab_size: 248320,
  tie_word_embeddings: false,
};
const QWEN3_5_MOE = { architectures: ['Qwen3_5MoeForConditionalGeneration'], model_type: 'qwen3_5_moe', text_config: QWEN3_5_MOE_TEXT, eos_token_id: 248046 };

const NEXT_FIXTURE = join(TORCH_REFERENCE, 'qwen3-next');
const MOE_FIXTURE = join(TORCH_REFERENCE, 'qwen3_5-moe');

describe('Qwen3-Next and Qwen3.5-MoE configs', () => {
  it('reads Qwen3-Next-80B-A3B: full attention every full_attention_interval layers, fused DeltaNet projections, 10 of 512 experts beside a gated shared one', () => {
    const c = parseModelConfig(QWEN3_NEXT_80B);
    expect(c.attentionLayers).toEqual(Array.from({ length: 12 }, (_, i) => 4 * i + 3));
    expect(c.deltaNet).toMatchObject({ keyHeads: 16, valueHeads: 32, keyDim: 128, valueDim: 128, fusedInputs: true });
    expect(c.deltaNet!.layers).toHaveLength(36);
    expect(c.moe).toMatchObject({ experts: 512, expertsPerToken: 10, expertSize: 512, normalizeTopK: true, denseLayers: [], sharedExpert: { size: 512, gated: true } });
    expect(c).toMatchObject({ headDim: 256, rotaryDim: 64, ropeTheta: 10000000, qkNorm: 'head', normWeightOffset: 1, attentionOutputGate: true, intermediateSize: 5120 });
  });

  it('defaults as Qwen3NextConfig and Qwen3_5TextConfig do: full attention on every fourth layer, a quarter of each head rotating', () => {
    const { full_attention_interval: _, partial_rotary_factor: __, ...bare } = QWEN3_NEXT_80B;
    for (const config of [bare, { model_type: 'qwen3_5_text', num_hidden_layers: 8, head_dim: 128 }]) {
      const c = parseModelConfig(config);
      expect(c.attentionLayers).toEqual(c.numLayers === 8 ? [3, 7] : Array.from({ length: 12 }, (_, i) => 4 * i + 3));
      expect(c.rotaryDim).toBe(c.headDim / 4);
    }
    expect(parseModelConfig({ ...QWEN3_NEXT_80B, full_attention_interval: 2 }).attentionLayers).toHaveLength(24);
    // Every layer attending (interval 1): a plain transformer, no recurrent state to keep.
    expect(parseModelConfig({ ...QWEN3_NEXT_80B, full_attention_interval: 1 }).deltaNet).toBeUndefined();
  });

  it('reads Qwen3.5-35B-A3B’s text model: experts in every layer, always renormalized, no dense MLP width needed', () => {
    const c = parseModelConfig(QWEN3_5_MOE);
    expect(c.modelType).toBe('qwen3_5_moe_text');
    expect(c.attentionLayers).toEqual(Array.from({ length: 10 }, (_, i) => 4 * i + 3));
    expect(c.deltaNet).toMatchObject({ fusedInputs: false });
    expect(c.moe).toMatchObject({ experts: 256, expertsPerToken: 8, normalizeTopK: true, denseLayers: [], sharedExpert: { size: 512, gated: true } });
    // Qwen3_5MoeTextConfig drops norm_topk_prob, mlp_only_layers and decoder_sparse_step: a config carrying them changes nothing.
    const carried = parseModelConfig({ ...QWEN3_5_MOE, text_config: { ...QWEN3_5_MOE_TEXT, norm_topk_prob: false, mlp_only_layers: [0], decoder_sparse_step: 2 } });
    expect(carried.moe).toEqual(c.moe);
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...QWEN3_NEXT_80B, full_attention_interval: 64 }), 'INVALID_CONFIG', /full_attention_interval must give at least one attention layer/);
    expectKvkitError(() => parseModelConfig({ ...QWEN3_NEXT_80B, full_attention_interval: 0 }), 'INVALID_CONFIG', /full_attention_interval must be a positive integer/);
    expectKvkitError(() => parseModelConfig({ ...QWEN3_NEXT_80B, num_experts_per_tok: 513 }), 'INVALID_CONFIG', /num_experts_per_tok \(513\) must not exceed/);
    expectKvkitError(() => parseModelConfig({ ...QWEN3_NEXT_80B, architectures: ['Qwen3_5MoeForCausalLM'] }), 'UNSUPPORTED_MODEL', /Qwen3NextForCausalLM for model_type qwen3_next/);
  });
});

describe('Qwen3-Next on the CPU (qwen3-next: Gated DeltaNet on layers 0 and 2, full attention on 1 and 3, experts but on layer 1)', () => {
  // 2 key heads of 8, 4 value heads of 6: per linear layer conv rows [3, 2·16 + 24] and delta-rule state [4, 8, 6].
  it('holds a cache layer per full-attention layer, and per linear layer its convolution rows and f32 state', () =>
    expectStateAfterPrompt(NEXT_FIXTURE, 2, 2 * (3 * 56 + 4 * 8 * 6) * 4));

  it('routes the layers mlp_only_layers does not list, its dense MLP on the one it does', async () => {
    const model = await loadModel(NEXT_FIXTURE);
    try {
      expect([0, 1, 2, 3].map((layer) => model.expertWeights(layer) !== undefined)).toEqual([true, false, true, true]);
      expect(model.expertWeights(0)!.gateUp!.shape).toEqual([4, 2 * 16, 32]);
    } finally {
      model.dispose();
    }
  });

  it('leaves the multi-token-prediction weights (mtp.*) of a released checkpoint unread', async () => {
    const ref = readReference(NEXT_FIXTURE);
    const released = editedCheckpoint(NEXT_FIXTURE, (tensors) => {
      const hidden = tensors['model.embed_tokens.weight'].shape[1];
      // The MTP module as released: its own layer, norms and a projection of the concatenated embedding and hidden state.
      tensors['mtp.fc.weight'] = { dtype: 'F32', shape: [hidden, 2 * hidden], data: new Float32Array(2 * hidden ** 2).fill(0.5) };
      tensors['mtp.layers.0.self_attn.q_proj.weight'] = tensors['model.layers.1.self_attn.q_proj.weight'];
    });
    assertClose(await referenceIdLogits(NEXT_FIXTURE, released), rows(ref.logits, 0, ref.ids.length), 1e-5, 'with mtp.* tensors');
  });

  it('continues the state across passes: a prompt fed in chunks of 3, 1 and 3 tokens gives the one-pass logits', () => expectChunkedPrefill(NEXT_FIXTURE, [3, 1, 3]));

  it('keeps each request’s state in its own cache: a batched pass gives every request its solo logits', () => expectBatchMatchesSolo(NEXT_FIXTURE));
});

describe('Qwen3.5-MoE on the CPU (qwen3_5-moe: bf16, tied, experts on every layer)', () => {
  it('continues the state across passes', () => expectChunkedPrefill(MOE_FIXTURE, [2, 5]));

  it('keeps each request’s state in its own cache', () => expectBatchMatchesSolo(MOE_FIXTURE));
});
