// AI21 Jamba: Mamba-1 mixers (tensor-core's selectiveScan with a decay rate per state entry, RMSNorms
// on dt, B and C) on most layers, attention without positional encoding on the others, a mixture
// of experts on every expert_layer_period-th layer. Its configs as released, the cache holding the
// attention layers with each Mamba layer's convolution rows and scan state beside them, and the
// state continuing across passes and batched requests. Logits against the PyTorch reference:
// torch-reference-parity.test.ts (CPU), webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, parseModelConfig } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';
import { expectBatchMatchesSolo, expectChunkedPrefill, expectStateAfterPrompt } from './helpers/recurrent-continuity.js';

// ai21labs/AI21-Jamba-1.5-Mini's config.json.
const JAMBA_MINI = {
  architectures: ['JambaForCausalLM'],
  attention_dropout: 0.0,
  attn_layer_offset: 4,
  attn_layer_period: 8,
  bos_token_id: 1,
  eos_token_id: [2, 518],
  expert_layer_offset: 1,
  expert_layer_period: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  mamba_conv_bias: true,
  mamba_d_conv: 4,
  mamba_d_state: 16,
  mamba_dt_rank: 256,
  mamba_expand: 2,
  mamba_proj_bias: false,
  max_position_embeddings: 262144,
  model_type: 'jamba',
  num_attention_heads: 32,
  num_experts: 16,
  num_experts_per_tok: 2,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  num_logits_to_keep: 1,
  output_router_logits: false,
  pad_token_id: 0,
  rms_norm_eps: 1e-6,
  router_aux_loss_coef: 0.001,
  sliding_window: null,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_mamba_kernels: true,
  vocab_size: 65536,
};

const FIXTURE = join(TORCH_REFERENCE, 'jamba');
const BF16_FIXTURE = join(TORCH_REFERENCE, 'jamba-bf16');

describe('Jamba configs', () => {
  it('reads Jamba 1.5 Mini: attention on every eighth layer from 4, Mamba-1 elsewhere, 2 of 16 experts on every other layer, no rotary embedding', () => {
    const c = parseModelConfig(JAMBA_MINI);
    expect(c.attentionLayers).toEqual([4, 12, 20, 28]);
    expect(c.mamba1).toMatchObject({ inner: 8192, dState: 16, convKernel: 4, dtRank: 256, convBias: true, projBias: false });
    expect(c.mamba1!.layers).toHaveLength(28);
    expect(c.moe).toMatchObject({ experts: 16, expertsPerToken: 2, expertSize: 14336, normalizeTopK: false, scoring: 'softmax' });
    expect(c.moe!.denseLayers).toEqual(Array.from({ length: 16 }, (_, i) => 2 * i));
    expect(c.noRopeLayers).toHaveLength(32);
    expect(c.eosTokenIds).toEqual([2, 518]);
  });

  it('defaults as JambaConfig does: mamba_dt_rank "auto" is ⌈hidden / 16⌉; one expert means a dense MLP everywhere', () => {
    expect(parseModelConfig({ ...JAMBA_MINI, mamba_dt_rank: 'auto' }).mamba1!.dtRank).toBe(256);
    const { mamba_dt_rank: _, ...noRank } = JAMBA_MINI;
    expect(parseModelConfig({ ...noRank, hidden_size: 1000, num_attention_heads: 20, num_key_value_heads: 4 }).mamba1!.dtRank).toBe(63);
    expect(parseModelConfig({ ...JAMBA_MINI, num_experts: 1, num_experts_per_tok: 1 }).moe).toBeUndefined();
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...JAMBA_MINI, attn_layer_offset: 8 }), 'INVALID_CONFIG', /attn_layer_offset must be an integer in 0…7/);
    expectKvkitError(() => parseModelConfig({ ...JAMBA_MINI, expert_layer_offset: -1 }), 'INVALID_CONFIG', /expert_layer_offset must be an integer/);
    expectKvkitError(() => parseModelConfig({ ...JAMBA_MINI, num_hidden_layers: 4 }), 'INVALID_CONFIG', /attn_layer_offset must give at least one attention layer/);
    expectKvkitError(() => parseModelConfig({ ...JAMBA_MINI, mamba_dt_rank: 'half' }), 'INVALID_CONFIG', /mamba_dt_rank must be a positive integer/);
    expectKvkitError(() => parseModelConfig({ ...JAMBA_MINI, mamba_d_conv: 1 }), 'INVALID_CONFIG', /mamba_d_conv must be at least 2/);
    expectKvkitError(() => parseModelConfig({ ...JAMBA_MINI, mamba_proj_bias: 'yes' }), 'INVALID_CONFIG', /mamba_proj_bias must be true or false/);
    expectKvkitError(() => parseModelConfig({ ...JAMBA_MINI, hidden_act: 'gelu' }), 'UNSUPPORTED_MODEL', /hidden_act = "gelu"/);
  });
});

describe('Jamba on the CPU (jamba: Mamba-1 on layers 0 and 2, attention on 1 and 3, experts on 0 and 3)', () => {
  // d_inner 64, d_state 8, 4 taps: per Mamba layer conv rows [3, 64] and scan state [64, 1, 8], f32.
  it('holds a cache layer per attention layer, and per Mamba layer its convolution rows and f32 scan state', () => expectStateAfterPrompt(FIXTURE, 2, 2 * (3 * 64 + 64 * 8) * 4));

  it('routes the layers expert_layer_period and expert_layer_offset pick, whatever mixes their tokens', async () => {
    const model = await loadModel(FIXTURE);
    try {
      expect([0, 1, 2, 3].map((layer) => model.expertWeights(layer) !== undefined)).toEqual([true, false, false, true]);
    } finally {
      model.dispose();
    }
  });

  it('continues the state across passes: a prompt fed in chunks of 2, 1 and 4 tokens gives the one-pass logits', () => expectChunkedPrefill(FIXTURE, [2, 1, 4]));

  it('keeps each request’s state in its own cache: a batched pass gives every request its solo logits', () => expectBatchMatchesSolo(FIXTURE));

  it('with biases on in_proj and out_proj, bf16 and experts everywhere (jamba-bf16): chunked prefill and batched requests', async () => {
    await expectChunkedPrefill(BF16_FIXTURE, [3, 4]);
    await expectBatchMatchesSolo(BF16_FIXTURE);
  });
});
