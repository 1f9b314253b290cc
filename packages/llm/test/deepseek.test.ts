// DeepSeek-V2 and V3 (and the checkpoints built on them: V2-Lite, Coder-V2, R1, V3.1, Moonlight,
// Kimi K2): multi-head latent attention (MLA), whose cache is one shared head per token — the
// rotated key, then the compressed latent — which every query head reads with its key rows taken
// into its query and its value rows applied to the attention's output; experts chosen within the
// best groups. Configs as released and what they refuse; logits against the PyTorch reference
// (which expands every head's keys and values) are checked in torch-reference-parity.test.ts (CPU),
// webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { denseCache } from '@kvkit/tensor-core';
import { relativeError } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { loadModel, parseModelConfig } from '../src/index.js';
import { preRopeDenseCache, recordingCache, type Recorded } from './helpers/cache-layers.js';
import { editedCheckpoint, referenceIdLogits, zeroing } from './helpers/edited-checkpoint.js';
import { expectKvkitError } from './helpers/errors.js';
import { filesOf, readReference, rows, TORCH_REFERENCE, withConfigPatch } from './helpers/fixtures.js';

// deepseek-ai/DeepSeek-V2-Lite's config.json (auto_map and training-only fields left out).
const DEEPSEEK_V2_LITE = {
  architectures: ['DeepseekV2ForCausalLM'],
  attention_bias: false,
  bos_token_id: 100000,
  eos_token_id: 100001,
  first_k_dense_replace: 1,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 10944,
  kv_lora_rank: 512,
  max_position_embeddings: 163840,
  model_type: 'deepseek_v2',
  moe_intermediate_size: 1408,
  moe_layer_freq: 1,
  n_group: 1,
  n_routed_experts: 64,
  n_shared_experts: 2,
  norm_topk_prob: false,
  num_attention_heads: 16,
  num_experts_per_tok: 6,
  num_hidden_layers: 27,
  num_key_value_heads: 16,
  q_lora_rank: null,
  qk_nope_head_dim: 128,
  qk_rope_head_dim: 64,
  rms_norm_eps: 1e-6,
  rope_scaling: { beta_fast: 32, beta_slow: 1, factor: 40, mscale: 0.707, mscale_all_dim: 0.707, original_max_position_embeddings: 4096, type: 'yarn' },
  rope_theta: 10000,
  routed_scaling_factor: 1.0,
  scoring_func: 'softmax',
  tie_word_embeddings: false,
  topk_group: 1,
  topk_method: 'greedy',
  torch_dtype: 'bfloat16',
  v_head_dim: 128,
  vocab_size: 102400,
};

// deepseek-ai/DeepSeek-V3's config.json, without the release's FP8 quantization_config (a bf16 conversion's).
const DEEPSEEK_V3 = {
  architectures: ['DeepseekV3ForCausalLM'],
  attention_bias: false,
  bos_token_id: 0,
  eos_token_id: 1,
  first_k_dense_replace: 3,
  hidden_act: 'silu',
  hidden_size: 7168,
  intermediate_size: 18432,
  kv_lora_rank: 512,
  max_position_embeddings: 163840,
  model_type: 'deepseek_v3',
  moe_intermediate_size: 2048,
  moe_layer_freq: 1,
  n_group: 8,
  n_routed_experts: 256,
  n_shared_experts: 1,
  norm_topk_prob: true,
  num_attention_heads: 128,
  num_experts_per_tok: 8,
  num_hidden_layers: 61,
  num_key_value_heads: 128,
  num_nextn_predict_layers: 1,
  q_lora_rank: 1536,
  qk_nope_head_dim: 128,
  qk_rope_head_dim: 64,
  rms_norm_eps: 1e-6,
  rope_scaling: { beta_fast: 32, beta_slow: 1, factor: 40, mscale: 1.0, mscale_all_dim: 1.0, original_max_position_embeddings: 4096, type: 'yarn' },
  rope_theta: 10000,
  routed_scaling_factor: 2.5,
  scoring_func: 'sigmoid',
  tie_word_embeddings: false,
  topk_group: 4,
  topk_method: 'noaux_tc',
  torch_dtype: 'bfloat16',
  v_head_dim: 128,
  vocab_size: 129280,
};

/** YaRN's attention temperature 0.1 · m · ln(s) + 1, as DeepSeek's code defines it. */
const yarnMscale = (factor: number, m: number) => 0.1 * m * Math.log(factor) + 1;

describe('DeepSeek configs', () => {
  it('reads DeepSeek-V2-Lite: one cached head of 64 rotated + 512 latent channels, YaRN’s mscale² in the softmax scale, 6 of 64 softmax-routed experts beside two shared', () => {
    const c = parseModelConfig(DEEPSEEK_V2_LITE);
    expect(c.latentAttention).toEqual({ rank: 512, nopeDim: 128, ropeDim: 64, valueDim: 128 });
    expect(c).toMatchObject({ numHeads: 16, numKvHeads: 1, headDim: 576, rotaryDim: 64, ropeLayout: 'interleaved', maxPositions: 163840 });
    expect(c.attentionBias).toEqual({ q: false, k: false, v: false, o: false });
    expect(c.attentionScale).toBeCloseTo(yarnMscale(40, 0.707) ** 2 / Math.sqrt(192), 12);
    expect(c.ropeScaling).toMatchObject({ type: 'yarn', factor: 40, originalMaxPositionEmbeddings: 4096, attentionFactor: 1 });
    expect(c.moe).toMatchObject({ experts: 64, expertsPerToken: 6, expertSize: 1408, normalizeTopK: false, denseLayers: [0], scoring: 'softmax', selectionBias: false, routedScale: 1, sharedExpert: { size: 2816, gated: false } });
    expect(c.moe!.routingGroups).toBeUndefined();
  });

  it('reads DeepSeek-V3: queries through q_lora_rank, 8 of 256 sigmoid-routed experts within 4 of 8 groups, scaled by 2.5, after three dense layers', () => {
    const c = parseModelConfig(DEEPSEEK_V3);
    expect(c.latentAttention).toEqual({ queryRank: 1536, rank: 512, nopeDim: 128, ropeDim: 64, valueDim: 128 });
    expect(c).toMatchObject({ numHeads: 128, numKvHeads: 1, headDim: 576, rotaryDim: 64, ropeLayout: 'interleaved' });
    expect(c.attentionScale).toBeCloseTo(yarnMscale(40, 1) ** 2 / Math.sqrt(192), 12);
    expect(c.moe).toMatchObject({
      experts: 256,
      expertsPerToken: 8,
      denseLayers: [0, 1, 2],
      scoring: 'sigmoid',
      selectionBias: true,
      normalizeTopK: true,
      normalizeEpsilon: 1e-20,
      routedScale: 2.5,
      sharedExpert: { size: 2048, gated: false },
      routingGroups: { count: 8, kept: 4, score: 'top-two-sum' },
    });
    // The release's FP8 quantization: dequantized at load, block by block (fp8.test.ts).
    const released = { ...DEEPSEEK_V3, quantization_config: { activation_scheme: 'dynamic', fmt: 'e4m3', quant_method: 'fp8', weight_block_size: [128, 128] } };
    expect(parseModelConfig(released).fp8WeightBlocks).toEqual([128, 128]);
    // rope_interleave false rotates as rotate_half; a plain rope leaves the scale at 1/√192.
    expect(parseModelConfig({ ...DEEPSEEK_V3, rope_interleave: false }).ropeLayout).toBe('half');
    expect(parseModelConfig({ ...DEEPSEEK_V3, rope_scaling: null }).attentionScale).toBeCloseTo(1 / Math.sqrt(192), 14);
    // attention_bias: biases on q_a_proj, kv_a_proj_with_mqa and o_proj (q_proj has none).
    expect(parseModelConfig({ ...DEEPSEEK_V3, attention_bias: true }).attentionBias).toEqual({ q: true, k: true, v: false, o: true });
    expect(parseModelConfig({ ...DEEPSEEK_V3, attention_bias: true, q_lora_rank: null }).attentionBias).toEqual({ q: false, k: true, v: false, o: true });
  });

  it('reads DeepSeek-V2’s group-limited routing (a group scored by its best probability) and DeepSeek-V3’s defaults', () => {
    const v2 = parseModelConfig({ ...DEEPSEEK_V2_LITE, topk_method: 'group_limited_greedy', n_group: 8, topk_group: 3 });
    expect(v2.moe!.routingGroups).toEqual({ count: 8, kept: 3, score: 'max' });
    // Every group kept is no limit at all.
    expect(parseModelConfig({ ...DEEPSEEK_V3, topk_group: 8 }).moe!.routingGroups).toBeUndefined();
    const { n_group: _g, topk_group: _k, n_routed_experts: _e, ...unstated } = DEEPSEEK_V3;
    expect(parseModelConfig(unstated).moe).toMatchObject({ experts: 256, routingGroups: { count: 8, kept: 4 } });
  });

  it('reads Kimi K2, whose config names model_type kimi_k2: DeepSeek-V3 with 384 experts in one group and its FP8 release', () => {
    const kimi = parseModelConfig({
      ...DEEPSEEK_V3,
      model_type: 'kimi_k2',
      num_attention_heads: 64,
      num_key_value_heads: 64,
      n_routed_experts: 384,
      n_group: 1,
      topk_group: 1,
      first_k_dense_replace: 1,
      routed_scaling_factor: 2.827,
      rope_theta: 50000,
      rope_scaling: { beta_fast: 1, beta_slow: 1, factor: 32, mscale: 1, mscale_all_dim: 1, original_max_position_embeddings: 4096, type: 'yarn' },
      vocab_size: 163840,
      quantization_config: { activation_scheme: 'dynamic', fmt: 'e4m3', quant_method: 'fp8', weight_block_size: [128, 128] },
    });
    expect(kimi).toMatchObject({ modelType: 'kimi_k2', numHeads: 64, numKvHeads: 1, headDim: 576, ropeLayout: 'interleaved', fp8WeightBlocks: [128, 128] });
    expect(kimi.moe).toMatchObject({ experts: 384, expertsPerToken: 8, denseLayers: [0], routedScale: 2.827, scoring: 'sigmoid', selectionBias: true });
    expect(kimi.moe!.routingGroups).toBeUndefined();
    expect(kimi.attentionScale).toBeCloseTo(yarnMscale(32, 1) ** 2 / Math.sqrt(192), 12);
    expect(parseModelConfig({ ...DEEPSEEK_V3, model_type: 'kimi_k2', rope_interleave: false }).ropeLayout).toBe('half');
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...DEEPSEEK_V2_LITE, norm_topk_prob: true }), 'UNSUPPORTED_MODEL', /norm_topk_prob = true/);
    expectKvkitError(() => parseModelConfig({ ...DEEPSEEK_V2_LITE, topk_method: 'noaux_tc' }), 'UNSUPPORTED_MODEL', /topk_method = "noaux_tc"/);
    expectKvkitError(() => parseModelConfig({ ...DEEPSEEK_V3, scoring_func: 'softmax' }), 'UNSUPPORTED_MODEL', /scoring_func = "softmax"/);
    expectKvkitError(() => parseModelConfig({ ...DEEPSEEK_V3, moe_layer_freq: 2 }), 'UNSUPPORTED_MODEL', /moe_layer_freq = 2/);
    expectKvkitError(() => parseModelConfig({ ...DEEPSEEK_V3, n_group: 6 }), 'INVALID_CONFIG', /n_group \(6\) must divide the number of experts \(256\)/);
    expectKvkitError(() => parseModelConfig({ ...DEEPSEEK_V3, n_group: 256, topk_group: 128 }), 'INVALID_CONFIG', /n_group \(256\) must leave at least two experts a group/);
    expectKvkitError(() => parseModelConfig({ ...DEEPSEEK_V3, topk_group: 1, num_experts_per_tok: 40 }), 'INVALID_CONFIG', /num_experts_per_tok \(40\) must not exceed the 32 experts/);
    expectKvkitError(() => parseModelConfig({ ...DEEPSEEK_V3, kv_lora_rank: 0 }), 'INVALID_CONFIG', /kv_lora_rank must be a positive integer/);
    expectKvkitError(() => parseModelConfig({ ...DEEPSEEK_V2_LITE, qk_rope_head_dim: 63 }), 'INVALID_CONFIG', /qk_rope_head_dim must be even/);
  });
});

const V3 = join(TORCH_REFERENCE, 'deepseek-v3');
const V2_LITE = join(TORCH_REFERENCE, 'deepseek-v2-lite');

describe('DeepSeek on the CPU (deepseek-v3: queries through q_lora_rank, 3 of 8 experts within 2 of 4 groups; deepseek-v2-lite: q_proj, softmax routing)', () => {
  it('caches one shared head per token — the rotated key, then the normalized latent — which every query head reads, keys and values alike', async () => {
    const ref = readReference(V3);
    const model = await loadModel({ files: filesOf(V3) });
    const { ropeDim, rank } = model.config.latentAttention!;
    const log: Recorded[] = [];
    const cache = model.createCache(recordingCache(log));
    const ids = Int32Array.from(ref.ids);
    model.forward(ids.subarray(0, 7), cache).dispose();
    const appended = log[0].appended[0];
    expect(appended.kShape).toEqual([1, 7, ropeDim + rank]);
    expect(appended.vShape).toEqual([1, 7, ropeDim + rank]);
    expect(log[0].attended[0].qShape).toEqual([model.config.numHeads, 7, ropeDim + rank]);
    expect(log[0].attended[0].options.scale).toBeCloseTo(model.config.attentionScale!, 14);
    // Resident bytes: one head of ropeDim + rank per token, kept once (the spec says the values are the keys), not every
    // head's expanded keys and values.
    expect(model.cacheSpec().valuesAreKeys).toBe(true);
    const { nopeDim, valueDim } = model.config.latentAttention!;
    const { keys, values } = cache.memory().layers[0].parts;
    expect(keys).toBe(7 * (ropeDim + rank) * 4);
    expect(values).toBeUndefined();
    expect(keys).toBeLessThan((7 * model.config.numHeads * (nopeDim + ropeDim + valueDim) * 4) / 4);
    // So does the default (paged) cache.
    const paged = model.createCache();
    model.forward(ids.subarray(0, 7), paged).dispose();
    expect(paged.memory().parts.values).toBeUndefined();
    expect(paged.memory().parts.keys).toBe(model.config.numLayers * 7 * (ropeDim + rank) * 4);
    paged.dispose();
    cache.dispose();
    model.dispose();
  });

  it('rotates the cached keys a pre-RoPE cache holds as the model would (partial, neighbouring pairs): the logits hold', async () => {
    for (const fixture of [V3, V2_LITE]) {
      const ref = readReference(fixture);
      const model = await loadModel({ files: filesOf(fixture) });
      const cache = model.createCache(preRopeDenseCache());
      const ids = Int32Array.from(ref.ids);
      const prefill = model.forward(ids.subarray(0, 7), cache);
      expect(relativeError(prefill.readFloat32Sync(), rows(ref.logits, 0, 7)), fixture).toBeLessThan(1e-5);
      prefill.dispose();
      for (let t = 7; t < ids.length; t++) {
        const step = model.forward(ids.subarray(t, t + 1), cache);
        expect(relativeError(step.readFloat32Sync(), rows(ref.logits, t, t + 1)), `${fixture} decode ${t}`).toBeLessThan(1e-5);
        step.dispose();
      }
      cache.dispose();
      model.dispose();
    }
  });

  it('chooses experts by score + e_score_correction_bias within the best groups: zeroing the bias or keeping every group changes the logits', async () => {
    const ref = readReference(V3);
    const expected = rows(ref.logits, 0, ref.ids.length);
    expect(relativeError(await referenceIdLogits(V3, editedCheckpoint(V3, zeroing('e_score_correction_bias'))), expected)).toBeGreaterThan(1e-2);
    expect(relativeError(await referenceIdLogits(V3, withConfigPatch(V3, { topk_group: 4 })), expected)).toBeGreaterThan(1e-2);
  });

  it('runs a checkpoint whose config names it kimi_k2 as DeepSeek-V3: the same logits', async () => {
    const ref = readReference(V3);
    expect(relativeError(await referenceIdLogits(V3, withConfigPatch(V3, { model_type: 'kimi_k2' })), rows(ref.logits, 0, ref.ids.length))).toBeLessThan(1e-5);
  });

  it('refuses the per-head projections calibrations ask for (there are none), with a typed error', async () => {
    const model = await loadModel({ files: filesOf(V2_LITE) });
    expectKvkitError(() => model.attentionWeights(0), 'UNSUPPORTED_MODEL', /latent attention \(MLA\) has no per-head key and value projections/);
    model.dispose();
  });

  it('runs the dense cache in f16 on the same logits as the f32 reference within f16 rounding', async () => {
    const ref = readReference(V2_LITE);
    const model = await loadModel({ files: filesOf(V2_LITE) });
    const cache = model.createCache(denseCache({ dtype: 'f16' }));
    const logits = model.forward(Int32Array.from(ref.ids), cache, { logits: 'all' });
    expect(relativeError(logits.readFloat32Sync(), rows(ref.logits, 0, ref.ids.length))).toBeLessThan(3e-3);
    logits.dispose();
    cache.dispose();
    model.dispose();
  });
});
