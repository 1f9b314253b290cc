// NVIDIA Nemotron-H: one block per layer (a Mamba-2 mixer whose gated norm runs per group of
// channels, NoPE attention, or a ReLU² MLP), its configs as released (hybrid_override_pattern, the
// bare Infinity of time_step_limit) and as transformers 5 writes them (layers_block_type), the KV
// cache holding the attention layers only, and the recurrent state continuing across passes and
// batched requests. The logits of both fixtures are checked against the PyTorch reference in
// torch-reference-parity.test.ts (CPU), webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { denseCache } from '@kvkit/tensor-core';
import { relativeError } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { loadModel, parseModelConfig } from '../src/index.js';
import { parsePythonJson } from '../src/python-json.js';
import { editedCheckpoint, referenceIdLogits, zeroing } from './helpers/edited-checkpoint.js';
import { expectKvkitError, expectKvkitErrorAsync } from './helpers/errors.js';
import { filesOf, readReference, rows, TORCH_REFERENCE } from './helpers/fixtures.js';
import { expectBatchMatchesSolo, expectChunkedPrefill, expectStateAfterPrompt } from './helpers/recurrent-continuity.js';

// A Nemotron-H-8B-sized config.json (NemotronHConfig's default sizes): 52 layers, attention on 4 of
// them, the rest alternating Mamba-2 mixers and MLPs.
const PATTERN = Array.from({ length: 52 }, (_, i) => ([7, 18, 29, 40].includes(i) ? '*' : i % 2 === 0 ? 'M' : '-')).join('');
const NEMOTRON_H_8B = {
  architectures: ['NemotronHForCausalLM'],
  model_type: 'nemotron_h',
  hidden_size: 4096,
  intermediate_size: 21504,
  num_hidden_layers: 52,
  hybrid_override_pattern: PATTERN,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 128,
  mamba_num_heads: 128,
  mamba_head_dim: 64,
  n_groups: 8,
  ssm_state_size: 128,
  conv_kernel: 4,
  use_conv_bias: true,
  use_bias: false,
  mlp_hidden_act: 'relu2',
  mamba_hidden_act: 'silu',
  layer_norm_epsilon: 1e-5,
  time_step_limit: [0, Infinity],
  max_position_embeddings: 8192,
  vocab_size: 131072,
};

// A config.json of Nemotron 3 Nano's kind (30B-A3B): 'E' layers route through 6 of 128 ReLU² experts beside a shared one.
const NANO_PATTERN = 'MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME';
const NEMOTRON_3_NANO = {
  ...NEMOTRON_H_8B,
  hidden_size: 2688,
  hybrid_override_pattern: NANO_PATTERN,
  num_hidden_layers: NANO_PATTERN.length,
  n_routed_experts: 128,
  num_experts_per_tok: 6,
  moe_intermediate_size: 1856,
  moe_shared_expert_intermediate_size: 3712,
  n_shared_experts: 1,
  routed_scaling_factor: 2.5,
  norm_topk_prob: true,
  n_group: 1,
  topk_group: 1,
  moe_latent_size: null,
};

const FIXTURE = join(TORCH_REFERENCE, 'nemotron-h');
const MOE_FIXTURE = join(TORCH_REFERENCE, 'nemotron-h-moe');

describe('Nemotron-H configs', () => {
  it('reads the blocks from hybrid_override_pattern: Mamba layers, NoPE attention layers, ReLU² MLP layers', () => {
    const c = parseModelConfig(NEMOTRON_H_8B);
    expect(c.attentionLayers).toEqual([7, 18, 29, 40]);
    expect(c.mamba!.layers).toHaveLength(24);
    expect(c.singleBlocks!.mlpLayers).toHaveLength(24);
    // d_inner = heads · head dim (not expand · hidden); the gated norm over each of the 8 groups.
    expect(c.mamba).toMatchObject({ heads: 128, headDim: 64, dState: 128, groups: 8, convKernel: 4, convBias: true, projBias: false, inner: 8192, convDim: 8192 + 2048, normGroupSize: 1024 });
    expect(c.noRopeLayers).toHaveLength(52);
    expect(c).toMatchObject({ mlpActivation: 'relu2', gatedMlp: false, normEps: 1e-5, headDim: 128 });
  });

  it('reads Nemotron 3’s mixture-of-experts layers: sigmoid scores chosen with the correction bias, renormalized, scaled, ReLU² experts beside a shared one', () => {
    const c = parseModelConfig(NEMOTRON_3_NANO);
    const routed = [...NANO_PATTERN].flatMap((letter, i) => (letter === 'E' ? [i] : []));
    expect(c.moe).toMatchObject({ experts: 128, expertsPerToken: 6, expertSize: 1856, normalizeTopK: true, scoring: 'sigmoid', selectionBias: true, normalizeEpsilon: 1e-20, routedScale: 2.5, gatedExperts: false, sharedExpert: { size: 3712, gated: false } });
    expect(c.moe!.denseLayers.filter((i) => routed.includes(i))).toEqual([]);
    expect(c.moe!.denseLayers).toHaveLength(NANO_PATTERN.length - routed.length);
    expect(c.singleBlocks!.mlpLayers).toEqual(routed);
    expect(c.attentionLayers).toHaveLength(6);
    // Without 'E' layers there is no mixture; without 'M' layers no Mamba mixers (and no recurrent state).
    expect(parseModelConfig(NEMOTRON_H_8B).moe).toBeUndefined();
    const noMamba = parseModelConfig({ ...NEMOTRON_H_8B, hybrid_override_pattern: PATTERN.replaceAll('M', '*') });
    expect([noMamba.mamba, noMamba.attentionLayers.length]).toEqual([undefined, 28]);
  });

  it('reads transformers 5’s layers_block_type, the older mamba_* names, and counts the layers when num_hidden_layers is left out', () => {
    const { hybrid_override_pattern: _pattern, num_hidden_layers: _count, n_groups: _groups, conv_kernel: _taps, ...rest } = NEMOTRON_H_8B;
    const names = { M: 'linear_attention', '*': 'full_attention', '-': 'mlp' } as const;
    const c = parseModelConfig({ ...rest, layers_block_type: [...PATTERN].map((letter) => names[letter as keyof typeof names]), mamba_n_groups: 4, mamba_d_conv: 3 });
    expect(c.numLayers).toBe(52);
    expect(c.attentionLayers).toEqual([7, 18, 29, 40]);
    expect(c.mamba).toMatchObject({ groups: 4, convKernel: 3, normGroupSize: 2048 });
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    const patterned = (pattern: string) => ({ ...NEMOTRON_H_8B, hybrid_override_pattern: pattern, num_hidden_layers: pattern.length });
    expectKvkitError(() => parseModelConfig(patterned('M-*X')), 'UNSUPPORTED_MODEL', /hybrid_override_pattern = "X" is not supported/);
    expectKvkitError(() => parseModelConfig({ ...NEMOTRON_H_8B, hybrid_override_pattern: undefined, layers_block_type: ['mamba', 'attention', 'hybrid'] }), 'UNSUPPORTED_MODEL', /layers_block_type = "hybrid"/);
    // Nemotron 3's experts with a latent projection (DeepSeek-V3's group-limited routing runs: deepseek.test.ts).
    expect(parseModelConfig({ ...NEMOTRON_3_NANO, n_group: 8, topk_group: 4 }).moe!.routingGroups).toEqual({ count: 8, kept: 4, score: 'top-two-sum' });
    expectKvkitError(() => parseModelConfig({ ...NEMOTRON_3_NANO, moe_latent_size: 1024 }), 'UNSUPPORTED_MODEL', /moe_latent_size = 1024/);
    expectKvkitError(() => parseModelConfig(patterned('M-M-')), 'INVALID_CONFIG', /at least one attention layer/);
    expectKvkitError(() => parseModelConfig({ ...NEMOTRON_H_8B, num_hidden_layers: 50 }), 'INVALID_CONFIG', /num_hidden_layers \(50\) must equal the 52 layers/);
    expectKvkitError(() => parseModelConfig({ ...NEMOTRON_H_8B, hybrid_override_pattern: undefined }), 'INVALID_CONFIG', /hybrid_override_pattern must give each layer/);
    expectKvkitError(() => parseModelConfig({ ...NEMOTRON_H_8B, time_step_limit: [0.001, 0.1] }), 'UNSUPPORTED_MODEL', /time_step_limit = \[0.001,0.1\]/);
    expectKvkitError(() => parseModelConfig({ ...NEMOTRON_H_8B, mlp_hidden_act: 'silu' }), 'UNSUPPORTED_MODEL', /mlp_hidden_act = "silu"/);
    expectKvkitError(() => parseModelConfig({ ...NEMOTRON_H_8B, mamba_hidden_act: 'relu' }), 'UNSUPPORTED_MODEL', /mamba_hidden_act = "relu"/);
    expectKvkitError(() => parseModelConfig({ ...NEMOTRON_H_8B, n_groups: 3 }), 'INVALID_CONFIG', /n_groups \(3\) must divide mamba_num_heads/);
  });

  it('reads Python’s JSON: bare NaN and ±Infinity outside strings are numbers, strings stay as written, other errors still throw', () => {
    expect(parsePythonJson('{"limit": [0.0, Infinity], "low": -Infinity, "x": NaN, "s": "Infinity \\" NaN", "t": "-Infinity"}')).toEqual({
      limit: [0, Infinity],
      low: -Infinity,
      x: NaN,
      s: 'Infinity " NaN',
      t: '-Infinity',
    });
    expect(() => parsePythonJson('{"limit": [0.0, Infinity')).toThrow(SyntaxError);
    expect(() => parsePythonJson('{"a": Inf}')).toThrow(SyntaxError);
  });
});

describe('Nemotron-H on the CPU (nemotron-h: Mamba on layers 0 and 3, attention on 2, MLPs on 1 and 4)', () => {
  const ref = readReference(FIXTURE);
  const ids = Int32Array.from(ref.ids);

  // d_inner 32 (4 heads of 8), 2 groups of d_state 8: per Mamba layer conv rows [3, 32 + 32] and scan state [4, 8, 8].
  it('reads the released checkpoint’s backbone.* names, holds one cache layer, and per Mamba layer its convolution rows and f32 scan state', () =>
    expectStateAfterPrompt(FIXTURE, 1, 2 * (3 * 64 + 4 * 8 * 8) * 4));

  it('normalizes the gated output per group of channels: one norm over all of d_inner gives other logits', async () => {
    const model = await loadModel(FIXTURE, { dtype: 'f32' });
    const cache = model.createCache(denseCache({ dtype: 'f32' }));
    try {
      const mamba = model.config.mamba!;
      mamba.normGroupSize = mamba.inner;
      const logits = model.forward(ids, cache);
      expect(relativeError(logits.readFloat32Sync(), rows(ref.logits, 0, ids.length))).toBeGreaterThan(1e-2);
      logits.dispose();
    } finally {
      cache.dispose();
      model.dispose();
    }
  });

  it('routes the experts with the correction bias: zeroed, it changes the choices and the logits (nemotron-h-moe)', async () => {
    const moeRef = readReference(MOE_FIXTURE);
    const unbiased = editedCheckpoint(MOE_FIXTURE, zeroing('e_score_correction_bias'));
    expect(relativeError(await referenceIdLogits(MOE_FIXTURE, unbiased), rows(moeRef.logits, 0, moeRef.ids.length))).toBeGreaterThan(1e-2);
  });

  it('refuses a corrupt config.json with a typed error naming the file', async () => {
    const files = filesOf(FIXTURE);
    files['config.json'] = new TextEncoder().encode('{"model_type": "nemotron_h", "time_step_limit": [0.0, Inf]}');
    await expectKvkitErrorAsync(loadModel({ files }), 'CORRUPT_MODEL_FILE', /config\.json.*is not valid JSON/);
  });

  it('continues the state across passes: a prompt fed in chunks of 2, 1 and 4 tokens gives the one-pass logits', () => expectChunkedPrefill(FIXTURE, [2, 1, 4]));

  it('keeps each request’s state in its own cache: a batched pass gives every request its solo logits', () => expectBatchMatchesSolo(FIXTURE));

  it('with experts too (nemotron-h-moe): chunked prefill and batched requests give the one-pass and solo logits', async () => {
    await expectChunkedPrefill(MOE_FIXTURE, [3, 4]);
    await expectBatchMatchesSolo(MOE_FIXTURE);
  });
});
