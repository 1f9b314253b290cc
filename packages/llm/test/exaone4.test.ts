// LG EXAONE 4.0: OLMo 2's norms on the blocks' outputs, per-head q/k norms, and hybrid attention
// where the sliding layers rotate and the global ones go without position embedding (without a
// window every layer is global and rotates). Its configs as released and as its class derives the
// layer kinds; logits against the PyTorch reference are in torch-reference-parity.test.ts (CPU),
// webgpu.test.ts and cuda-emulator.test.ts (exaone4-hybrid, exaone4-bf16).
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';

// A config.json shaped like LGAI-EXAONE/EXAONE-4.0-32B's (64 layers, three local to one global).
const EXAONE_32B = {
  architectures: ['Exaone4ForCausalLM'],
  model_type: 'exaone4',
  hidden_size: 5120,
  intermediate_size: 27392,
  num_hidden_layers: 64,
  num_attention_heads: 40,
  num_key_value_heads: 8,
  head_dim: 128,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 1000000,
  rope_scaling: { factor: 16, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  sliding_window: 4096,
  sliding_window_pattern: 'LLLG',
  layer_types: Array.from({ length: 64 }, (_, i) => ((i + 1) % 4 === 0 ? 'full_attention' : 'sliding_attention')),
  vocab_size: 102400,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
};

describe('EXAONE 4.0 configs', () => {
  it('reads EXAONE-4.0-32B: norms after the blocks, per-head q/k norms, three sliding rotating layers to one global without rotation, llama3 scaling', () => {
    const c = parseModelConfig(EXAONE_32B);
    expect(c).toMatchObject({ blockNorms: 'post', qkNorm: 'head', slidingWindow: 4096, ropeScaling: { type: 'llama3' } });
    const globals = Array.from({ length: 16 }, (_, i) => 4 * i + 3);
    expect(c.noRopeLayers).toEqual(globals);
    expect(c.slidingLayers).toHaveLength(48);
    expect(c.slidingLayers!.some((i) => globals.includes(i))).toBe(false);
  });

  it('derives the layer kinds as its class does: from a number or an L/G string (the last layer global), none sliding and all rotating without a window', () => {
    const { layer_types: _, ...noTypes } = EXAONE_32B;
    expect(parseModelConfig({ ...noTypes, num_hidden_layers: 6, sliding_window_pattern: 'LLLG' }).noRopeLayers).toEqual([3, 5]);
    expect(parseModelConfig({ ...noTypes, num_hidden_layers: 6, sliding_window_pattern: 3 }).noRopeLayers).toEqual([2, 5]);
    expect(parseModelConfig({ ...noTypes, num_hidden_layers: 8, sliding_window_pattern: undefined }).noRopeLayers).toEqual([3, 7]);
    const global = parseModelConfig({ ...noTypes, sliding_window: null });
    expect([global.slidingWindow, global.noRopeLayers]).toEqual([undefined, []]);
    // A window with no layer using it: every layer is global, none rotates.
    expect(parseModelConfig({ ...noTypes, num_hidden_layers: 3, sliding_window_pattern: 1 }).noRopeLayers).toEqual([0, 1, 2]);
  });

  it('refuses a pattern it cannot read, naming the field', () => {
    const { layer_types: _, ...noTypes } = EXAONE_32B;
    expectKvkitError(() => parseModelConfig({ ...noTypes, sliding_window_pattern: 'LLXG' }), 'INVALID_CONFIG', /sliding_window_pattern must be a positive integer or a string of L and G/);
    expectKvkitError(() => parseModelConfig({ ...noTypes, sliding_window_pattern: 0 }), 'INVALID_CONFIG', /sliding_window_pattern/);
  });
});
