// Zhipu GLM-4.5 (GLM-4.5-Air, GLM-4.6, GLM-4.7): attention rotating half of each head with q/k/v
// biases and optional per-head q/k norms, the first layers' dense MLP, then DeepSeek-V3-routed
// experts (sigmoid scores chosen with a correction bias, one group) beside shared experts. Its
// configs as released and what it refuses; logits against the PyTorch reference are checked in
// torch-reference-parity.test.ts (CPU), webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { relativeError } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/index.js';
import { editedCheckpoint, referenceIdLogits, zeroing } from './helpers/edited-checkpoint.js';
import { expectKvkitError } from './helpers/errors.js';
import { readReference, rows, TORCH_REFERENCE } from './helpers/fixtures.js';

// zai-org/GLM-4.5-Air's config.json.
const GLM_45_AIR = {
  architectures: ['Glm4MoeForCausalLM'],
  attention_bias: true,
  attention_dropout: 0.0,
  pad_token_id: 151329,
  eos_token_id: [151329, 151336, 151338],
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 4096,
  partial_rotary_factor: 0.5,
  initializer_range: 0.02,
  intermediate_size: 10944,
  max_position_embeddings: 131072,
  model_type: 'glm4_moe',
  moe_intermediate_size: 1408,
  norm_topk_prob: true,
  num_attention_heads: 96,
  n_group: 1,
  topk_group: 1,
  n_routed_experts: 128,
  n_shared_experts: 1,
  routed_scaling_factor: 1.0,
  num_experts_per_tok: 8,
  first_k_dense_replace: 1,
  num_hidden_layers: 46,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 1000000,
  num_nextn_predict_layers: 1,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_qk_norm: false,
  vocab_size: 151552,
};

const FIXTURE = join(TORCH_REFERENCE, 'glm4-moe');

describe('GLM-4.5 configs', () => {
  it('reads GLM-4.5-Air: half of each 128-wide head rotating, q/k/v biases, 8 of 128 sigmoid-routed experts and a shared one after one dense layer', () => {
    const c = parseModelConfig(GLM_45_AIR);
    expect(c).toMatchObject({ headDim: 128, rotaryDim: 64, ropeLayout: 'half', qkNorm: 'none', attentionBias: { q: true, k: true, v: true, o: false }, intermediateSize: 10944 });
    expect(c.moe).toMatchObject({
      experts: 128,
      expertsPerToken: 8,
      expertSize: 1408,
      denseLayers: [0],
      scoring: 'sigmoid',
      selectionBias: true,
      normalizeTopK: true,
      normalizeEpsilon: 1e-20,
      sharedExpert: { size: 1408, gated: false },
    });
    expect(c.eosTokenIds).toEqual([151329, 151336, 151338]);
  });

  it('reads GLM-4.5’s own choices: per-head q/k norms with use_qk_norm, three dense layers, routed_scaling_factor, several shared experts', () => {
    const c = parseModelConfig({ ...GLM_45_AIR, use_qk_norm: true, first_k_dense_replace: 3, routed_scaling_factor: 2.5, n_shared_experts: 2 });
    expect(c.qkNorm).toBe('head');
    expect(c.moe).toMatchObject({ denseLayers: [0, 1, 2], routedScale: 2.5, sharedExpert: { size: 2 * 1408, gated: false } });
    expect(parseModelConfig({ ...GLM_45_AIR, n_shared_experts: 0 }).moe!.sharedExpert).toBeUndefined();
    // Glm4MoeConfig's default rotates half of each head.
    const { partial_rotary_factor: _, ...unstated } = GLM_45_AIR;
    expect(parseModelConfig(unstated).rotaryDim).toBe(64);
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...GLM_45_AIR, n_group: 3, topk_group: 2 }), 'INVALID_CONFIG', /n_group \(3\) must divide the number of experts \(128\)/);
    expectKvkitError(() => parseModelConfig({ ...GLM_45_AIR, n_group: 8, topk_group: 9 }), 'INVALID_CONFIG', /topk_group \(9\) must not exceed n_group \(8\)/);
    expectKvkitError(() => parseModelConfig({ ...GLM_45_AIR, n_shared_experts: 1.5 }), 'INVALID_CONFIG', /n_shared_experts must be a whole number/);
    expectKvkitError(() => parseModelConfig({ ...GLM_45_AIR, first_k_dense_replace: 47 }), 'INVALID_CONFIG', /num_dense_layers must be an integer in 0…46/);
  });
});

describe('GLM-4.5 on the CPU (glm4-moe: layer 0 dense, then 2 of 4 routed experts and a shared one)', () => {
  it('chooses experts by score + e_score_correction_bias: zeroed, the bias changes the logits', async () => {
    const ref = readReference(FIXTURE);
    const unbiased = editedCheckpoint(FIXTURE, zeroing('e_score_correction_bias'));
    expect(relativeError(await referenceIdLogits(FIXTURE, unbiased), rows(ref.logits, 0, ref.ids.length))).toBeGreaterThan(1e-2);
  });

  it('leaves the multi-token-prediction layer (model.layers.<num_hidden_layers>.*) of a released checkpoint unread', async () => {
    const ref = readReference(FIXTURE);
    const released = editedCheckpoint(FIXTURE, (tensors) => {
      // As released: the MTP layer is one more decoder layer, with its own projections.
      for (const [name, t] of Object.entries(tensors)) if (name.startsWith('model.layers.2.')) tensors[name.replace('model.layers.2.', 'model.layers.3.')] = t;
      tensors['model.layers.3.eh_proj.weight'] = { dtype: 'F32', shape: [32, 64], data: new Float32Array(32 * 64).fill(0.25) };
    });
    expect(relativeError(await referenceIdLogits(FIXTURE, released), rows(ref.logits, 0, ref.ids.length))).toBeLessThan(1e-5);
  });
});
