// Meta Llama 4 (Scout, Maverick): three of every four layers rotate neighbouring pairs and
// L2-normalize each head's queries and keys after RoPE; every fourth layer has no rotation and
// tunes its queries' temperature to their position; experts chosen by the sigmoid of their top-k
// logits, which scales each expert's input, beside a shared expert. The rotating layers attend
// within chunks of attention_chunk_size. Configs as released and what they refuse;
// logits against the PyTorch reference are checked in torch-reference-parity.test.ts (CPU),
// webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { denseCache } from '@kvkit/tensor-core';
import { relativeError } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { loadModel, parseModelConfig } from '../src/index.js';
import { type Recorded, recordingCache } from './helpers/cache-layers.js';
import { expectKvkitError } from './helpers/errors.js';
import { readReference, TORCH_REFERENCE } from './helpers/fixtures.js';

// meta-llama/Llama-4-Scout-17B-16E-Instruct's config.json (its text_config; the vision_config abridged).
const SCOUT_TEXT = {
  attention_bias: false,
  attention_chunk_size: 8192,
  attn_scale: 0.1,
  attn_temperature_tuning: true,
  bos_token_id: 200000,
  eos_token_id: [200001, 200007, 200008],
  floor_scale: 8192,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 5120,
  interleave_moe_layer_step: 1,
  intermediate_size: 8192,
  intermediate_size_mlp: 16384,
  max_position_embeddings: 10485760,
  model_type: 'llama4_text',
  no_rope_layers: [],
  num_attention_heads: 40,
  num_experts_per_tok: 1,
  num_hidden_layers: 48,
  num_key_value_heads: 8,
  num_local_experts: 16,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 16.0, high_freq_factor: 1.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  router_jitter_noise: 0.0,
  torch_dtype: 'bfloat16',
  use_qk_norm: true,
  vocab_size: 202048,
};
const SCOUT = {
  architectures: ['Llama4ForConditionalGeneration'],
  model_type: 'llama4',
  text_config: SCOUT_TEXT,
  vision_config: { model_type: 'llama4_vision_model', hidden_size: 1408, num_hidden_layers: 34 },
  tie_word_embeddings: false,
};

describe('Llama 4 configs', () => {
  it('reads Llama 4 Scout as released: its text model, every fourth layer without rotation, 1 of 16 experts on every layer beside a shared one, one chunk of context', () => {
    const c = parseModelConfig(SCOUT);
    expect(c).toMatchObject({ modelType: 'llama4_text', numHeads: 40, numKvHeads: 8, headDim: 128, intermediateSize: 16384, ropeLayout: 'interleaved', qkNorm: 'head', qkNormAfterRope: true, l2QkNorm: true });
    expect(c.noRopeLayers).toEqual(Array.from({ length: 12 }, (_, i) => 4 * i + 3));
    expect(c).toMatchObject({ maxPositions: 10485760, attentionChunk: 8192 });
    expect(c.queryTemperature).toEqual({ floorScale: 8192, scale: 0.1 });
    expect(c.ropeScaling).toMatchObject({ type: 'llama3', factor: 16, originalMaxPositionEmbeddings: 8192 });
    expect(c.moe).toMatchObject({ experts: 16, expertsPerToken: 1, expertSize: 8192, denseLayers: [], scoring: 'sigmoid', selectionBias: false, normalizeTopK: false, weighsInputs: true, sharedExpert: { size: 8192, gated: false } });
    expect(c.eosTokenIds).toEqual([200001, 200007, 200008]);
  });

  it('reads Maverick’s interleaved experts, a no_rope_layers list, and the switches', () => {
    const maverick = parseModelConfig({ ...SCOUT_TEXT, interleave_moe_layer_step: 2, num_local_experts: 128, use_qk_norm: false, attn_temperature_tuning: false, rope_scaling: null });
    expect(maverick.moe!.denseLayers).toEqual(Array.from({ length: 24 }, (_, i) => 2 * i));
    expect(maverick).toMatchObject({ qkNorm: 'none' });
    expect(maverick.l2QkNorm).toBeUndefined();
    expect(maverick.queryTemperature).toBeUndefined();
    const listed = parseModelConfig({ ...SCOUT_TEXT, num_hidden_layers: 4, no_rope_layers: [1, 0, 1, 1], moe_layers: [3, 1] });
    expect(listed.noRopeLayers).toEqual([1]);
    expect(listed.moe!.denseLayers).toEqual([0, 2]);
    // No chunking at all.
    expect(parseModelConfig({ ...SCOUT_TEXT, attention_chunk_size: null }).attentionChunk).toBeUndefined();
  });

  it('refuses what it cannot read with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...SCOUT_TEXT, no_rope_layers: [1, 0] }), 'INVALID_CONFIG', /no_rope_layers must list one 0\/1 flag per layer \(48\)/);
    expectKvkitError(() => parseModelConfig({ ...SCOUT_TEXT, moe_layers: [48] }), 'INVALID_CONFIG', /moe_layers must list layer indices below 48/);
    expectKvkitError(() => parseModelConfig({ ...SCOUT_TEXT, attention_chunk_size: 0 }), 'INVALID_CONFIG', /attention_chunk_size must be a positive integer/);
    expectKvkitError(() => parseModelConfig({ ...SCOUT_TEXT, floor_scale: -1 }), 'INVALID_CONFIG', /floor_scale must be a positive number/);
    expectKvkitError(() => parseModelConfig({ ...SCOUT, architectures: ['Llama4ForCausalLM'] }), 'UNSUPPORTED_MODEL', /Llama4ForConditionalGeneration for model_type llama4/);
  });
});

describe('Llama 4 on the CPU: chunked attention (llama4-maverick, chunks of 16)', () => {
  it('passes chunk boundaries with the dense cache, emptying the rotating layers’ caches: ids spanning chunks in one forward give the logits of token-by-token passes', async () => {
    const dir = join(TORCH_REFERENCE, 'llama4-maverick');
    const model = await loadModel(dir);
    expect(model.config).toMatchObject({ maxPositions: 64, attentionChunk: 16 });
    const ids = Int32Array.from({ length: 20 }, (_, i) => readReference(dir).ids[i % 12]);
    // One forward over 20 ids runs as two passes (0…15, 16…19); token by token gives the same logits.
    const whole = model.createCache(denseCache({ dtype: 'f32' }));
    const split = model.forward(ids, whole, { logits: 'all' });
    expect(split.shape).toEqual([20, model.config.vocabSize]);
    const stepwise = model.createCache(denseCache({ dtype: 'f32' }));
    const rows: number[] = [];
    for (let t = 0; t < 20; t++) {
      const logits = model.forward(ids.subarray(t, t + 1), stepwise);
      rows.push(...logits.readFloat32Sync());
      logits.dispose();
    }
    expect(relativeError(split.readFloat32Sync(), Float32Array.from(rows))).toBeLessThan(1e-5);
    // The rotating layers hold the current chunk's 4 tokens, the NoPE layer (3) all 20.
    expect(whole.layers.map((layer) => layer.length)).toEqual([4, 4, 4, 20]);
    for (const t of [split, whole, stepwise]) t.dispose();
    model.dispose();
  });

  it('refuses, before writing, a cache whose rotating layers cannot be emptied at a chunk boundary, and a batch pass spanning two chunks', async () => {
    const dir = join(TORCH_REFERENCE, 'llama4-maverick');
    const model = await loadModel(dir);
    const ids = Int32Array.from({ length: 16 }, (_, i) => readReference(dir).ids[i % 12]);
    const log: Recorded[] = [];
    const recording = model.createCache(recordingCache(log));
    model.forward(ids, recording).dispose();
    expectKvkitError(() => model.forward(ids.subarray(0, 1), recording), 'UNSUPPORTED_MODEL', /position 16 begins a new attention chunk .* cannot \(KVCacheLayer.clear\)/);
    expect(recording.layers.map((layer) => layer.length)).toEqual([16, 16, 16, 16]);
    const dense = model.createCache(denseCache({ dtype: 'f32' }));
    model.forward(ids.subarray(0, 14), dense).dispose();
    expectKvkitError(() => model.forwardBatch([{ ids: ids.subarray(0, 4), cache: dense }]), 'INDEX_OUT_OF_RANGE', /positions 14…16 span two attention chunks/);
    expect(dense.layers[0].length).toBe(14);
    for (const t of [recording, dense]) t.dispose();
    model.dispose();
  });
});
