// LFM2's hybrid of gated short convolutions and attention: its configs as the runtime reads them,
// the KV cache holding the attention layers only with the convolutions' state beside them, and
// the convolution continuing across passes, chunks and batched requests. The logits of both
// fixtures are checked against the PyTorch reference in torch-reference-parity.test.ts (CPU),
// webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { createCache, denseCache, type Tensor } from '@kvkit/tensor-core';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { type LayerActivations, loadModel, parseModelConfig, parseSafetensors } from '../src/index.js';
import { editedCheckpoint } from './helpers/edited-checkpoint.js';
import { expectKvkitError } from './helpers/errors.js';
import { readReference, TORCH_REFERENCE } from './helpers/fixtures.js';
import { expectBatchMatchesSolo, expectChunkedPrefill } from './helpers/recurrent-continuity.js';

// An LFM2-350M-shaped config.json in the original names (block_ff_dim, norm_eps) beside transformers' (layer_types).
const LFM2_350M = {
  architectures: ['Lfm2ForCausalLM'],
  block_auto_adjust_ff_dim: true,
  block_ff_dim: 6656,
  block_ffn_dim_multiplier: 1.0,
  block_multiple_of: 256,
  bos_token_id: 1,
  conv_L_cache: 3,
  conv_bias: false,
  eos_token_id: 7,
  hidden_size: 1024,
  intermediate_size: 6656,
  layer_types: ['conv', 'conv', 'full_attention', 'conv', 'conv', 'full_attention', 'conv', 'conv', 'full_attention', 'conv', 'full_attention', 'conv', 'full_attention', 'conv', 'full_attention', 'conv'],
  max_position_embeddings: 128000,
  model_type: 'lfm2',
  norm_eps: 1e-5,
  num_attention_heads: 16,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  rope_theta: 1000000.0,
  torch_dtype: 'bfloat16',
  vocab_size: 65536,
};

const FIXTURE = join(TORCH_REFERENCE, 'lfm2-conv-bias');

describe('LFM2 configs', () => {
  it('reads which layers attend, the convolution and the MLP width as transformers computes them', () => {
    const config = parseModelConfig(LFM2_350M);
    expect(config.attentionLayers).toEqual([2, 5, 8, 10, 12, 14]);
    expect(config.shortConv).toEqual({ layers: [0, 1, 3, 4, 6, 7, 9, 11, 13, 15], kernel: 3, bias: false });
    // int(2 · 6656 / 3) = 4437, rounded up to a multiple of 256.
    expect(config.intermediateSize).toBe(4608);
    expect(config).toMatchObject({ numLayers: 16, headDim: 64, qkNorm: 'head', normEps: 1e-5, ropeTheta: 1e6, tieWordEmbeddings: true, maxPositions: 128000 });
    // The original configs' full_attn_idxs say the same; without either list every layer attends.
    const { layer_types: _types, ...original } = LFM2_350M;
    expect(parseModelConfig({ ...original, full_attn_idxs: [2, 5, 8, 10, 12, 14] }).attentionLayers).toEqual([2, 5, 8, 10, 12, 14]);
    expect(parseModelConfig(original).shortConv!.layers).toEqual([]);
    // Without auto-adjustment the width is taken as given; a multiplier scales it before rounding.
    expect(parseModelConfig({ ...LFM2_350M, block_auto_adjust_ff_dim: false }).intermediateSize).toBe(6656);
    // int(1.5 · 4437) = 6655, rounded up to 6656; a multiplier of null skips the rounding too.
    expect(parseModelConfig({ ...LFM2_350M, block_ffn_dim_multiplier: 1.5 }).intermediateSize).toBe(6656);
    expect(parseModelConfig({ ...LFM2_350M, block_ffn_dim_multiplier: null }).intermediateSize).toBe(4437);
  });

  it('reads transformers 5\u2019s rope_parameters nested by layer type (the attention layers\u2019 entry; the convolutions have none)', () => {
    const { rope_theta: _theta, ...v5 } = LFM2_350M;
    const config = parseModelConfig({ ...v5, rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 1000000.0 }, conv: null } });
    expect(config).toMatchObject({ ropeTheta: 1e6, ropeScaling: { type: 'default' } });
    // Flat, as transformers 4.5x writes it, the same.
    expect(parseModelConfig({ ...v5, rope_parameters: { rope_type: 'default', rope_theta: 1000000.0 } }).ropeTheta).toBe(1e6);
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...LFM2_350M, layer_types: [...LFM2_350M.layer_types.slice(0, 15), 'mamba'] }), 'UNSUPPORTED_MODEL', /layer_types = "mamba" is not supported; supported: full_attention, conv/);
    expectKvkitError(() => parseModelConfig({ ...LFM2_350M, layer_types: LFM2_350M.layer_types.slice(1) }), 'INVALID_CONFIG', /layer_types must list full_attention or conv for each of the 16 layers/);
    expectKvkitError(() => parseModelConfig({ ...LFM2_350M, layer_types: undefined, full_attn_idxs: [2, 16] }), 'INVALID_CONFIG', /full_attn_idxs must list layer indices below 16/);
    expectKvkitError(() => parseModelConfig({ ...LFM2_350M, layer_types: new Array(16).fill('conv') }), 'INVALID_CONFIG', /at least one attention layer/);
    expectKvkitError(() => parseModelConfig({ ...LFM2_350M, conv_L_cache: 1 }), 'INVALID_CONFIG', /conv_L_cache must be at least 2/);
    expectKvkitError(() => parseModelConfig({ ...LFM2_350M, conv_bias: 'yes' }), 'INVALID_CONFIG', /conv_bias must be true or false/);
    expectKvkitError(() => parseModelConfig({ ...LFM2_350M, block_ffn_dim_multiplier: -1 }), 'INVALID_CONFIG', /block_ffn_dim_multiplier must be a positive number/);
  });
});

describe('LFM2 with attention on every layer', () => {
  it('runs as a transformer: its cache keeps K/V for every layer and no convolution state', async () => {
    const dir = join(TORCH_REFERENCE, 'lfm2-shortconv');
    // Layer 1's attention put on layers 0 and 2 too.
    const files = editedCheckpoint(dir, (tensors) => {
      for (const [name, t] of Object.entries(tensors)) {
        if (name.startsWith('model.layers.1.self_attn.')) for (const layer of [0, 2]) tensors[name.replace('layers.1.', `layers.${layer}.`)] = t;
      }
    });
    const config = JSON.parse(new TextDecoder().decode(files['config.json']));
    files['config.json'] = new TextEncoder().encode(JSON.stringify({ ...config, full_attn_idxs: [0, 1, 2] }));
    const model = await loadModel({ files });
    const cache = model.createCache();
    try {
      const logits = model.forward(Int32Array.from(readReference(dir).ids), cache).readFloat32Sync();
      expect(logits.every(Number.isFinite)).toBe(true);
      expect(cache.layers).toHaveLength(3);
      expect(cache.recurrentState).toBeUndefined();
    } finally {
      cache.dispose();
      model.dispose();
    }
  });
});

describe('LFM2 on the CPU (lfm2-conv-bias: attention on layers 0 and 3, convolutions of 4 taps on 1 and 2)', () => {
  const ref = readReference(FIXTURE);
  const ids = Int32Array.from(ref.ids);
  const p = ref.prompt_tokens;

  it('holds two cache layers and the convolutions\u2019 last 3 inputs, counted as the part "recurrent"', async () => {
    const model = await loadModel(FIXTURE, { dtype: 'f32' });
    const cache = model.createCache(denseCache({ dtype: 'f32' }));
    try {
      const slot = { shape: [3, 32], dtype: 'f32' };
      expect(model.cacheSpec()).toMatchObject({ numLayers: 2, recurrentState: { slots: [slot, slot] } });
      model.forward(ids.subarray(0, p), cache).dispose();
      const report = cache.memory();
      expect(report.parts.recurrent).toBe(2 * 3 * 32 * 4);
      expect(report.layers).toHaveLength(2);
      expect(report.bytes).toBe(report.layers.reduce((sum, layer) => sum + layer.bytes, 0) + 2 * 3 * 32 * 4);
    } finally {
      cache.dispose();
      model.dispose();
    }
  });

  it('continues the convolution across passes: a prompt fed in chunks of 3, 1 and 3 tokens gives the one-pass logits', () => expectChunkedPrefill(FIXTURE, [3, 1, 3]));

  it('keeps each request\u2019s convolution state in its own cache: a batched pass gives every request its solo logits', () => expectBatchMatchesSolo(FIXTURE));

  it('numbers layer events, attention weights and cache layers alike: by the layers that attend', async () => {
    const model = await loadModel(FIXTURE, { dtype: 'f32' });
    const cache = model.createCache(denseCache({ dtype: 'f32' }));
    try {
      const events: Pick<LayerActivations, 'layerIndex' | 'decoderLayer'>[] = [];
      const keys: number[][] = [];
      model.forward(ids.subarray(0, p), cache, { onLayer: (e) => {
        events.push({ layerIndex: e.layerIndex, decoderLayer: e.decoderLayer });
        keys.push(Array.from(e.key.readFloat32Sync()));
      } }).dispose();
      expect(events).toEqual([{ layerIndex: 0, decoderLayer: 0 }, { layerIndex: 1, decoderLayer: 3 }]);
      // Cache layer 1 holds decoder layer 3's keys.
      expect(cache.layers[1].length).toBe(p);
      expect(model.attentionWeights(1).q.shape).toEqual([32, 32]);
      expectKvkitError(() => model.attentionWeights(2), 'INDEX_OUT_OF_RANGE', /layer 2 is outside 0…1 \(the layers that attend, as the KV cache counts them\)/);
      expect(keys).toHaveLength(2);
    } finally {
      cache.dispose();
      model.dispose();
    }
  });

  it('refuses a cache without the convolution state before writing anything', async () => {
    const model = await loadModel(FIXTURE, { dtype: 'f32' });
    const { recurrentState: _state, ...attentionOnly } = model.cacheSpec();
    const cache = createCache(attentionOnly, denseCache({ dtype: 'f32' }));
    const f16Slot = { shape: [3, 32], dtype: 'f16' } as const;
    const f16State = createCache({ ...model.cacheSpec(), recurrentState: { slots: [f16Slot, f16Slot] } }, denseCache({ dtype: 'f32' }));
    try {
      for (const c of [cache, f16State]) {
        expectKvkitError(() => model.forward(ids.subarray(0, 3), c), 'SHAPE_MISMATCH', /the convolution state of 2 layers\); make it with model.createCache\(\)/);
        expect(c.layers.map((layer) => layer.length)).toEqual([0, 0]);
      }
      const state: Tensor = f16State.recurrentState!.read(0);
      expect(state.isDisposed).toBe(false);
    } finally {
      cache.dispose();
      f16State.dispose();
      model.dispose();
    }
  });

  it('keeps a bf16 LFM2 checkpoint\u2019s matrices as stored with halfWeights (the convolution kernels widened): the same logits bit for bit', async () => {
    const dir = join(TORCH_REFERENCE, 'lfm2-shortconv');
    const [half, widened] = [await loadModel(dir, { halfWeights: true }), await loadModel(dir)];
    try {
      expect([half.matrixDtype, widened.matrixDtype]).toEqual(['bf16', 'f32']);
      // Every 2-D tensor (in_proj and out_proj included) is kept at 2 bytes; the [hidden, 1, taps] kernels are not matrices.
      const matrices = [...parseSafetensors(new Uint8Array(readFileSync(join(dir, 'model.safetensors'))), 'model.safetensors').tensors.values()].filter((e) => e.shape.length === 2);
      expect(matrices.some((e) => e.name.endsWith('conv.in_proj.weight'))).toBe(true);
      expect(widened.weightBytes - half.weightBytes).toBe(2 * matrices.reduce((n, e) => n + e.shape[0] * e.shape[1], 0));
      const tokens = Int32Array.from(readReference(dir).ids);
      const [c1, c2] = [half.createCache(), widened.createCache()];
      for (const chunk of [tokens.subarray(0, 7), tokens.subarray(7, 8), tokens.subarray(8, 9)]) {
        const [a, b] = [half.forward(chunk, c1), widened.forward(chunk, c2)];
        expect(Array.from(a.readFloat32Sync()), `${chunk.length} token(s)`).toEqual(Array.from(b.readFloat32Sync()));
        a.dispose();
        b.dispose();
      }
      c1.dispose();
      c2.dispose();
    } finally {
      half.dispose();
      widened.dispose();
    }
  });
});
