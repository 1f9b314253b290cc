// GPT-2 (and DistilGPT2): learned absolute position embeddings instead of any rotation, Conv1D
// projections stored input-major (transposed at load), LayerNorms with biases, a tanh-GELU MLP,
// tied embeddings; checkpoints named as released (bare `h.0.…`, with the attention-mask buffers) or
// as save_pretrained writes them (`transformer.h.0.…`). Logits against the PyTorch reference:
// torch-reference-parity.test.ts (gpt2, gpt2-f16), webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { relativeError } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { generate, loadModel, parseModelConfig } from '../src/index.js';
import { editedCheckpoint, referenceIdLogits } from './helpers/edited-checkpoint.js';
import { expectKvkitError } from './helpers/errors.js';
import { readReference, rows, TORCH_REFERENCE } from './helpers/fixtures.js';

// openai-community/gpt2's config.json.
const GPT2_SMALL = {
  activation_function: 'gelu_new',
  architectures: ['GPT2LMHeadModel'],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: 'gpt2',
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: 'cls_index',
  summary_use_proj: true,
  task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};

const FIXTURE = join(TORCH_REFERENCE, 'gpt2');

describe('GPT-2 configs', () => {
  it('reads GPT-2 small under its own names: 12 heads of 64, a 4× MLP, LayerNorms, 1024 learned positions, no rotation, tied', () => {
    const c = parseModelConfig(GPT2_SMALL);
    expect(c).toMatchObject({
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      numKvHeads: 12,
      headDim: 64,
      intermediateSize: 3072,
      maxPositions: 1024,
      normKind: 'layer',
      normBias: true,
      gatedMlp: false,
      mlpActivation: 'gelu_tanh',
      mlpBias: true,
      attentionBias: { q: true, k: true, v: true, o: true },
      tieWordEmbeddings: true,
      learnedPositions: true,
      eosTokenIds: [50256],
    });
    expect(c.noRopeLayers).toHaveLength(12);
    expect(parseModelConfig({ ...GPT2_SMALL, n_inner: 1000 }).intermediateSize).toBe(1000);
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...GPT2_SMALL, scale_attn_by_inverse_layer_idx: true }), 'UNSUPPORTED_MODEL', /scale_attn_by_inverse_layer_idx = true/);
    expectKvkitError(() => parseModelConfig({ ...GPT2_SMALL, activation_function: 'relu' }), 'UNSUPPORTED_MODEL', /activation_function = "relu" is not supported; supported: gelu, gelu_new/);
  });
});

describe('GPT-2 on the CPU (gpt2: 2 layers, 64 learned positions, bare names and mask buffers as released)', () => {
  it('adds the learned position embeddings: zeroed, they change the logits', async () => {
    const ref = readReference(FIXTURE);
    const unplaced = editedCheckpoint(FIXTURE, (tensors) => tensors['wpe.weight'].data.fill(0));
    expect(relativeError(await referenceIdLogits(FIXTURE, unplaced), rows(ref.logits, 0, ref.ids.length))).toBeGreaterThan(1e-2);
  });

  it('refuses positions past its 64 learned ones, even where allowBeyondContext lets other models run on, and leaves the cache as it was', async () => {
    const model = await loadModel(FIXTURE);
    const cache = model.createCache();
    try {
      model.forward(new Int32Array(60).fill(5), cache).dispose();
      for (const allowBeyondContext of [false, true]) {
        await expect(async () => model.forward(new Int32Array(5).fill(5), cache, { allowBeyondContext })).rejects.toThrow(/position 64 is beyond the 64 learned position embeddings/);
      }
      expect(cache.layers.every((layer) => layer.length === 60)).toBe(true);
    } finally {
      cache.dispose();
      model.dispose();
    }
  });

  it('generates up to the last learned position and stops there with stopReason "context"', async () => {
    const model = await loadModel(FIXTURE);
    try {
      const result = await generate(model, new Int32Array(60).fill(7), { maxNewTokens: 10, ignoreEos: true, allowBeyondContext: true });
      expect(result.stopReason).toBe('context');
      // Tokens at positions 60 … 63 fed back, the fifth generated from the last of them.
      expect(result.generatedTokens).toBe(5);
    } finally {
      model.dispose();
    }
  });
});
