// Tencent Hunyuan dense models: Llama with per-head q/k norms after RoPE (query_layernorm,
// key_layernorm) and NTK-alpha RoPE. Its configs and what it refuses; logits against the PyTorch
// reference are checked in torch-reference-parity.test.ts (CPU), webgpu.test.ts and
// cuda-emulator.test.ts.
import { join } from 'node:path';
import { denseCache, type KVCacheLayer } from '@kvkit/tensor-core';
import { describe, expect, it } from 'vitest';
import { loadModel, parseModelConfig } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';

// The fields of tencent/Hunyuan-7B-Instruct's config.json that the runtime reads.
const HUNYUAN_7B = {
  architectures: ['HunYuanDenseV1ForCausalLM'],
  attention_bias: false,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 4096,
  intermediate_size: 14336,
  max_position_embeddings: 262144,
  model_type: 'hunyuan_v1_dense',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: { alpha: 1000.0, beta_fast: 32, beta_slow: 1, factor: 1.0, mscale: 1.0, mscale_all_dim: 1.0, type: 'dynamic' },
  rope_theta: 10000.0,
  tie_word_embeddings: true,
  use_qk_norm: true,
  vocab_size: 128167,
};

describe('Hunyuan dense configs', () => {
  it('reads Hunyuan-7B: per-head q/k norms after RoPE, NTK-alpha RoPE as one base, θ·α^(d/(d−2))', () => {
    const c = parseModelConfig(HUNYUAN_7B);
    expect(c).toMatchObject({ qkNorm: 'head', qkNormAfterRope: true, headDim: 128, numKvHeads: 8, ropeScaling: { type: 'default' }, maxPositions: 262144 });
    expect(c.ropeTheta).toBeCloseTo(10000 * 1000 ** (128 / 126), 6);
    // Without alpha its rope is the config's own (here none).
    expect(parseModelConfig({ ...HUNYUAN_7B, rope_scaling: null })).toMatchObject({ ropeTheta: 10000, ropeScaling: { type: 'default' } });
  });

  it('refuses a non-positive alpha with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...HUNYUAN_7B, rope_scaling: { type: 'dynamic', alpha: 0 } }), 'INVALID_CONFIG', /rope_scaling.alpha must be a positive number/);
  });
});

describe('Hunyuan on the CPU (hunyuan-alpha)', () => {
  it('refuses a cache that keeps keys before RoPE (it cannot normalize them after), before writing anything', async () => {
    const model = await loadModel(join(TORCH_REFERENCE, 'hunyuan-alpha'));
    const dense = denseCache({ dtype: 'f32' });
    // A dense layer that says it takes keys before RoPE, as KVQuant's and Palu's do.
    const preRope = (spec: Parameters<typeof dense>[0]): KVCacheLayer => Object.defineProperty(dense(spec), 'keyInput', { value: 'pre-rope' });
    const cache = model.createCache(preRope);
    expectKvkitError(() => model.forward(Int32Array.of(1, 2, 3), cache), 'UNSUPPORTED_MODEL', /normalizes each head's keys after RoPE/);
    expect(cache.layers.every((layer) => layer.length === 0)).toBe(true);
    cache.dispose();
    model.dispose();
  });
});
