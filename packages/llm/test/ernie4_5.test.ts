// Baidu ERNIE 4.5: Llama's layer with rotary pairs of neighbouring channels and, with use_bias,
// biases on every projection; the MoE models route through softmax experts chosen with a
// correction bias, beside shared experts. Their configs as released and what they refuse; logits
// against the PyTorch reference: torch-reference-parity.test.ts (CPU), webgpu.test.ts and
// cuda-emulator.test.ts (ernie4_5-bias, ernie4_5-moe).
import { join } from 'node:path';
import { relativeError } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/index.js';
import { editedCheckpoint, referenceIdLogits, zeroing } from './helpers/edited-checkpoint.js';
import { expectKvkitError } from './helpers/errors.js';
import { readReference, rows, TORCH_REFERENCE } from './helpers/fixtures.js';

// baidu/ERNIE-4.5-0.3B-PT's config.json.
const ERNIE_03B = {
  architectures: ['Ernie4_5ForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 1024,
  intermediate_size: 3072,
  max_position_embeddings: 131072,
  model_type: 'ernie4_5',
  num_attention_heads: 16,
  num_key_value_heads: 2,
  head_dim: 128,
  num_hidden_layers: 18,
  pad_token_id: 0,
  rms_norm_eps: 1e-5,
  use_cache: false,
  vocab_size: 103424,
  rope_theta: 500000,
  use_bias: false,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
};

// A config.json shaped like baidu/ERNIE-4.5-21B-A3B-PT's.
const ERNIE_21B_A3B = {
  architectures: ['Ernie4_5_MoeForCausalLM'],
  model_type: 'ernie4_5_moe',
  hidden_size: 2560,
  intermediate_size: 12288,
  num_hidden_layers: 28,
  num_attention_heads: 20,
  num_key_value_heads: 4,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000,
  use_bias: false,
  moe_num_experts: 64,
  moe_num_shared_experts: 2,
  moe_layer_start_index: 1,
  moe_layer_end_index: 27,
  moe_layer_interval: 1,
  moe_intermediate_size: 1536,
  moe_k: 6,
  vocab_size: 103424,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
};

describe('ERNIE 4.5 configs', () => {
  it('reads ERNIE-4.5-0.3B: rotary pairs of neighbouring channels over 128-wide heads, no biases, tied', () => {
    const c = parseModelConfig(ERNIE_03B);
    expect(c).toMatchObject({ headDim: 128, rotaryDim: 128, ropeLayout: 'interleaved', ropeTheta: 500000, mlpBias: false, attentionBias: { q: false, o: false }, tieWordEmbeddings: true });
    expect(parseModelConfig({ ...ERNIE_03B, use_bias: true })).toMatchObject({ mlpBias: true, attentionBias: { q: true, k: true, v: true, o: true } });
  });

  it('reads ERNIE-4.5-21B-A3B: 6 of 64 softmax-routed experts chosen with the correction bias, two shared ones, the first layer dense', () => {
    const c = parseModelConfig(ERNIE_21B_A3B);
    expect(c.moe).toMatchObject({ experts: 64, expertsPerToken: 6, expertSize: 1536, denseLayers: [0], scoring: 'softmax', selectionBias: true, normalizeTopK: true, sharedExpert: { size: 2 * 1536, gated: false } });
    expect(parseModelConfig({ ...ERNIE_21B_A3B, moe_layer_interval: 2, moe_layer_end_index: -1 }).moe!.denseLayers).toEqual(Array.from({ length: 14 }, (_, i) => 2 * i));
    expect(parseModelConfig({ ...ERNIE_21B_A3B, moe_layer_start_index: 4, moe_layer_end_index: 9 }).moe!.denseLayers).toEqual([0, 1, 2, 3, ...Array.from({ length: 18 }, (_, i) => 10 + i)]);
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...ERNIE_21B_A3B, use_bias: true }), 'UNSUPPORTED_MODEL', /use_bias = true/);
    expectKvkitError(() => parseModelConfig({ ...ERNIE_21B_A3B, moe_layer_end_index: 28 }), 'INVALID_CONFIG', /moe_layer_end_index must be a layer index below 28/);
    expectKvkitError(() => parseModelConfig({ ...ERNIE_21B_A3B, moe_k: 65 }), 'INVALID_CONFIG', /num_experts_per_tok \(65\) must not exceed/);
  });
});

describe('ERNIE 4.5 MoE on the CPU (ernie4_5-moe: layer 0 dense, then 2 of 4 routed experts and a shared one)', () => {
  it('chooses experts by probability + moe_statics.e_score_correction_bias: zeroed, the bias changes the logits', async () => {
    const dir = join(TORCH_REFERENCE, 'ernie4_5-moe');
    const ref = readReference(dir);
    const unbiased = editedCheckpoint(dir, zeroing('e_score_correction_bias'));
    expect(relativeError(await referenceIdLogits(dir, unbiased), rows(ref.logits, 0, ref.ids.length))).toBeGreaterThan(1e-2);
  });
});
