// Qwen3.5's text model: Gated DeltaNet linear attention (tensor-core's gatedDeltaRule) on most
// layers, gated full attention with partial rotary on the others, zero-centred norms. Its configs
// as released (the multimodal wrapper's text_config, transformers 5's rope_parameters), the KV cache
// holding the full-attention layers with each linear layer's convolution rows and delta-rule state
// beside them, and the state continuing across passes and batched requests. The logits of both
// fixtures are checked against the PyTorch reference in torch-reference-parity.test.ts (CPU),
// webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, parseModelConfig, parseSafetensors, readFloat32 } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { filesOf, TORCH_REFERENCE } from './helpers/fixtures.js';
import { expectBatchMatchesSolo, expectChunkedPrefill, expectStateAfterPrompt } from './helpers/recurrent-continuity.js';

// The text_config of a Qwen3.5-9B-like release (full attention on every fourth layer).
const TEXT_CONFIG = {
  model_type: 'qwen3_5_text',
  hidden_size: 4096,
  intermediate_size: 12288,
  num_hidden_layers: 32,
  num_attention_heads: 16,
  num_key_value_heads: 4,
  head_dim: 256,
  layer_types: Array.from({ length: 32 }, (_, i) => (i % 4 === 3 ? 'full_attention' : 'linear_attention')),
  linear_conv_kernel_dim: 4,
  linear_key_head_dim: 128,
  linear_value_head_dim: 128,
  linear_num_key_heads: 16,
  linear_num_value_heads: 32,
  rms_norm_eps: 1e-6,
  rope_parameters: { rope_type: 'default', rope_theta: 10000000, partial_rotary_factor: 0.25, mrope_section: [11, 11, 10], mrope_interleaved: true },
  vocab_size: 248320,
  tie_word_embeddings: false,
};
const QWEN3_5 = { architectures: ['Qwen3_5ForConditionalGeneration'], model_type: 'qwen3_5', text_config: TEXT_CONFIG, eos_token_id: 248044 };

const FIXTURE = join(TORCH_REFERENCE, 'qwen3_5-hybrid');

describe('Qwen3.5 configs', () => {
  it('reads the multimodal release’s text model: linear attention on three of four layers, gated full attention rotating a quarter of each head', () => {
    const c = parseModelConfig(QWEN3_5);
    expect(c.modelType).toBe('qwen3_5_text');
    expect(c.attentionLayers).toEqual(Array.from({ length: 8 }, (_, i) => 4 * i + 3));
    expect(c.deltaNet).toMatchObject({ keyHeads: 16, valueHeads: 32, keyDim: 128, valueDim: 128, convKernel: 4, convDim: 2 * 16 * 128 + 32 * 128 });
    expect(c.deltaNet!.layers).toHaveLength(24);
    expect(c).toMatchObject({ headDim: 256, rotaryDim: 64, ropeTheta: 10000000, qkNorm: 'head', normWeightOffset: 1, attentionOutputGate: true, eosTokenIds: [248044] });
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...TEXT_CONFIG, linear_num_key_heads: 5 }), 'INVALID_CONFIG', /linear_num_key_heads \(5\) must divide/);
    expectKvkitError(() => parseModelConfig({ ...TEXT_CONFIG, layer_types: new Array(32).fill('linear_attention') }), 'INVALID_CONFIG', /at least one attention layer/);
    expectKvkitError(() => parseModelConfig({ ...TEXT_CONFIG, layer_types: [...TEXT_CONFIG.layer_types.slice(1), 'sliding_attention'] }), 'UNSUPPORTED_MODEL', /layer_types = "sliding_attention"/);
    expectKvkitError(() => parseModelConfig({ ...TEXT_CONFIG, linear_conv_kernel_dim: 1 }), 'INVALID_CONFIG', /linear_conv_kernel_dim must be at least 2/);
  });
});

describe('Qwen3.5 on the CPU (qwen3_5-hybrid: Gated DeltaNet on layers 0–2, full attention on 3)', () => {
  // 2 key heads of 8, 4 value heads of 6: per linear layer conv rows [3, 2·16 + 24] and delta-rule state [4, 8, 6].
  it('holds a cache layer for the full-attention layer, and per linear layer its convolution rows and f32 state', () =>
    expectStateAfterPrompt(FIXTURE, 1, 3 * (3 * 56 + 4 * 8 * 6) * 4));

  it('loads q_proj as the queries and the output gates, each head’s rows in turn: attentionWeights gives the queries alone', async () => {
    const model = await loadModel(FIXTURE);
    try {
      const { q } = model.attentionWeights(0);
      expect(q.shape).toEqual([4 * 8, 32]);
      const file = parseSafetensors(filesOf(FIXTURE)['model.safetensors'], 'model.safetensors');
      const stored = readFloat32(file, file.tensors.get('model.layers.3.self_attn.q_proj.weight')!);
      // Head 1's query rows are stored rows 16–23 (after head 0's query and gate rows).
      expect(q.readFloat32Sync().subarray(8 * 32, 16 * 32)).toEqual(stored.subarray(16 * 32, 24 * 32));
    } finally {
      model.dispose();
    }
  });

  it('continues the state across passes: a prompt fed in chunks of 2, 1 and 4 tokens gives the one-pass logits', () => expectChunkedPrefill(FIXTURE, [2, 1, 4]));

  it('keeps each request’s state in its own cache: a batched pass gives every request its solo logits', () => expectBatchMatchesSolo(FIXTURE));
});
