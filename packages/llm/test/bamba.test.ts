// IBM Bamba: Granite 4.0-H's Mamba-2 mixers beside attention layers listed by attn_layer_indices
// (half of each head rotating, as BambaConfig hard-codes), a SwiGLU MLP, tensors named as Falcon-H1's.
// Its configs as the runtime reads them, the cache holding the attention layers with each Mamba
// layer's state, and the state continuing across passes and batched requests. The logits of the
// fixture are checked against the PyTorch reference in torch-reference-parity.test.ts (CPU),
// webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';
import { expectBatchMatchesSolo, expectChunkedPrefill, expectStateAfterPrompt } from './helpers/recurrent-continuity.js';

// A config.json of Bamba-9B's kind (attention on 3 of 32 layers).
const BAMBA_9B = {
  architectures: ['BambaForCausalLM'],
  model_type: 'bamba',
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  attn_layer_indices: [9, 18, 27],
  mamba_n_heads: 128,
  mamba_d_head: 64,
  mamba_n_groups: 1,
  mamba_d_state: 128,
  mamba_d_conv: 4,
  mamba_expand: 2,
  rope_theta: 10000,
  rms_norm_eps: 1e-5,
  vocab_size: 128256,
};

const FIXTURE = join(TORCH_REFERENCE, 'bamba');

describe('Bamba configs', () => {
  it('reads the attention layers from attn_layer_indices, Mamba-2 on the others, half of each head rotating', () => {
    const c = parseModelConfig(BAMBA_9B);
    expect(c.attentionLayers).toEqual([9, 18, 27]);
    expect(c.mamba!.layers).toHaveLength(29);
    expect(c.mamba).toMatchObject({ heads: 128, headDim: 64, inner: 8192, groups: 1, dState: 128, gate: 'norm-after-gate', normGroupSize: 8192 });
    expect([c.headDim, c.rotaryDim, c.noRopeLayers]).toEqual([128, 64, []]);
    // BambaConfig rotates half of each head whatever partial_rotary_factor says.
    expect(parseModelConfig({ ...BAMBA_9B, partial_rotary_factor: 1 }).rotaryDim).toBe(64);
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...BAMBA_9B, attn_layer_indices: [9, 40] }), 'INVALID_CONFIG', /attn_layer_indices must list layer indices below 32/);
    expectKvkitError(() => parseModelConfig({ ...BAMBA_9B, attn_layer_indices: undefined }), 'INVALID_CONFIG', /attn_layer_indices must give at least one attention layer/);
    expectKvkitError(() => parseModelConfig({ ...BAMBA_9B, mamba_n_groups: 2 }), 'UNSUPPORTED_MODEL', /mamba_n_groups = 2 is not supported/);
  });
});

describe('Bamba on the CPU (bamba: Mamba-2 on layers 0 and 2, attention on 1 and 3)', () => {
  // d_inner 64 (8 heads of 8), d_state 8: per Mamba layer conv rows [3, 64 + 16] and scan state [8, 8, 8].
  it('holds a cache layer per attention layer, and per Mamba layer its convolution rows and f32 scan state', () =>
    expectStateAfterPrompt(FIXTURE, 2, 2 * (3 * 80 + 8 * 8 * 8) * 4));

  it('continues the state across passes: a prompt fed in chunks of 2, 1 and 4 tokens gives the one-pass logits', () => expectChunkedPrefill(FIXTURE, [2, 1, 4]));

  it('keeps each request’s state in its own cache: a batched pass gives every request its solo logits', () => expectBatchMatchesSolo(FIXTURE));
});
