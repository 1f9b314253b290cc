// TII Falcon-H1: a parallel hybrid, attention and a Mamba-2 mixer side by side on every layer, with
// μP multipliers around both and the MLP. Its configs as the runtime reads them, the KV cache holding
// every layer beside each layer's recurrent state, and the state continuing across passes and
// batched requests. The logits of the three fixtures (the mixer's three ways of gating its output)
// are checked against the PyTorch reference in torch-reference-parity.test.ts (CPU, with each
// multiplier shown to matter), webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';
import { expectBatchMatchesSolo, expectChunkedPrefill, expectStateAfterPrompt } from './helpers/recurrent-continuity.js';

// A config.json of Falcon-H1-0.5B's kind (sizes of that order; multipliers as such configs give them).
const FALCON_H1 = {
  architectures: ['FalconH1ForCausalLM'],
  model_type: 'falcon_h1',
  hidden_size: 1024,
  intermediate_size: 2048,
  num_hidden_layers: 36,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  head_dim: 64,
  mamba_d_ssm: 1536,
  mamba_n_heads: 24,
  mamba_d_head: 64,
  mamba_n_groups: 1,
  mamba_d_state: 128,
  mamba_d_conv: 4,
  mamba_rms_norm: false,
  mamba_norm_before_gate: false,
  time_step_limit: [0, Infinity],
  rope_theta: 1e11,
  embedding_multiplier: 5.66,
  lm_head_multiplier: 0.039,
  key_multiplier: 0.39,
  attention_in_multiplier: 1,
  attention_out_multiplier: 0.94,
  ssm_in_multiplier: 1.25,
  ssm_out_multiplier: 0.24,
  mlp_multipliers: [0.88, 0.39],
  ssm_multipliers: [0.35, 0.25, 0.51, 0.49, 0.24],
  max_position_embeddings: 16384,
  rms_norm_eps: 1e-5,
  vocab_size: 32784,
};

const FIXTURE = join(TORCH_REFERENCE, 'falcon-h1');

describe('Falcon-H1 configs', () => {
  it('reads a mixer beside the attention on every layer, the multipliers and the mixer’s gating', () => {
    const c = parseModelConfig(FALCON_H1);
    expect(c.attentionLayers).toHaveLength(36);
    expect(c.mamba!.layers).toHaveLength(36);
    expect(c.mamba).toMatchObject({ heads: 24, headDim: 64, inner: 1536, groups: 1, dState: 128, convDim: 1536 + 256, convBias: true, projBias: false, outBias: false, gate: 'no-norm' });
    expect(c.falconH1).toEqual({ attentionIn: 1, attentionOut: 0.94, ssmIn: 1.25, ssmOut: 0.24, key: 0.39, mlpGate: 0.88, mlpDown: 0.39, ssmSections: [0.35, 0.25, 0.51, 0.49, 0.24] });
    expect(c).toMatchObject({ embedScale: 5.66, logitsDivisor: 1 / 0.039, ropeTheta: 1e11, noRopeLayers: [] });
    // The gate with the norm before or after it, the norm per group; d_inner from mamba_expand where mamba_d_ssm is null.
    expect(parseModelConfig({ ...FALCON_H1, mamba_rms_norm: true }).mamba!.gate).toBe('norm-after-gate');
    const before = parseModelConfig({ ...FALCON_H1, mamba_rms_norm: true, mamba_norm_before_gate: true, mamba_n_groups: 2 });
    expect(before.mamba).toMatchObject({ gate: 'norm-before-gate', normGroupSize: 768 });
    expect(parseModelConfig({ ...FALCON_H1, mamba_d_ssm: null, mamba_expand: 2, mamba_n_heads: 32 }).mamba).toMatchObject({ inner: 2048, headDim: 64 });
    // Left out, every multiplier is 1.
    const { key_multiplier: _k, mlp_multipliers: _m, ssm_multipliers: _s, ...plain } = FALCON_H1;
    expect(parseModelConfig(plain).falconH1).toMatchObject({ key: 1, mlpGate: 1, mlpDown: 1, ssmSections: [1, 1, 1, 1, 1] });
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...FALCON_H1, mamba_d_head: 60 }), 'INVALID_CONFIG', /heads of 60 must make d_inner/);
    expectKvkitError(() => parseModelConfig({ ...FALCON_H1, mamba_n_groups: 5 }), 'INVALID_CONFIG', /mamba_n_groups \(5\) must divide/);
    expectKvkitError(() => parseModelConfig({ ...FALCON_H1, ssm_multipliers: [1, 1, 1] }), 'INVALID_CONFIG', /ssm_multipliers must list 5 positive numbers/);
    expectKvkitError(() => parseModelConfig({ ...FALCON_H1, key_multiplier: 0 }), 'INVALID_CONFIG', /key_multiplier must be a positive number/);
    expectKvkitError(() => parseModelConfig({ ...FALCON_H1, time_step_limit: [0, 0.1] }), 'UNSUPPORTED_MODEL', /time_step_limit/);
  });
});

describe('Falcon-H1 on the CPU (falcon-h1: two parallel layers, d_inner 24 in 4 heads of 6)', () => {
  // 2 groups of d_state 8: per layer conv rows [3, 24 + 32] and scan state [4, 6, 8].
  it('holds a cache layer per layer, and per layer its convolution rows and f32 scan state', () => expectStateAfterPrompt(FIXTURE, 2, 2 * (3 * 56 + 4 * 6 * 8) * 4));

  it('continues the state across passes: a prompt fed in chunks of 2, 1 and 4 tokens gives the one-pass logits', () => expectChunkedPrefill(FIXTURE, [2, 1, 4]));

  it('keeps each request’s state in its own cache: a batched pass gives every request its solo logits', () => expectBatchMatchesSolo(FIXTURE));
});
