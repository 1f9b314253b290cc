// Granite 4.0-H's hybrid of Mamba-2 mixers and attention: its configs as the runtime reads them, the
// KV cache holding the attention layers only with each Mamba layer's convolution rows and f32 scan
// state beside them, and the state continuing across passes, chunks and batched requests. The
// logits of both fixtures are checked against the PyTorch reference in
// torch-reference-parity.test.ts (CPU), webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../src/index.js';
import { expectKvkitError } from './helpers/errors.js';
import { TORCH_REFERENCE } from './helpers/fixtures.js';
import { expectBatchMatchesSolo, expectChunkedPrefill, expectStateAfterPrompt } from './helpers/recurrent-continuity.js';

// A Granite-4.0-H-Tiny-shaped config.json (sizes as its model card gives them; attention on 4 of 40 layers).
const GRANITE_4_H = {
  architectures: ['GraniteMoeHybridForCausalLM'],
  model_type: 'granitemoehybrid',
  hidden_size: 1536,
  intermediate_size: 512,
  num_hidden_layers: 40,
  num_attention_heads: 12,
  num_key_value_heads: 4,
  layer_types: Array.from({ length: 40 }, (_, i) => ([5, 15, 25, 35].includes(i) ? 'attention' : 'mamba')),
  mamba_n_heads: 48,
  mamba_d_head: 64,
  mamba_d_state: 128,
  mamba_n_groups: 1,
  mamba_d_conv: 4,
  mamba_expand: 2,
  num_local_experts: 64,
  num_experts_per_tok: 6,
  shared_intermediate_size: 1024,
  position_embedding_type: 'nope',
  embedding_multiplier: 12,
  attention_multiplier: 0.0078125,
  residual_multiplier: 0.22,
  logits_scaling: 6,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  vocab_size: 100352,
  tie_word_embeddings: true,
};

const FIXTURE = join(TORCH_REFERENCE, 'granite4-hybrid-moe');

describe('Granite 4.0-H configs', () => {
  it('reads the Mamba layers, the attention layers (NoPE), the experts beside the shared MLP, and the multipliers', () => {
    const { position_embedding_type: _nope, ...noneGiven } = GRANITE_4_H;
    // "nope", as the released configs say, or nothing: no rotary embedding.
    for (const raw of [GRANITE_4_H, noneGiven]) {
      const c = parseModelConfig(raw);
      expect(c.attentionLayers).toEqual([5, 15, 25, 35]);
      expect(c.mamba).toMatchObject({ heads: 48, headDim: 64, dState: 128, groups: 1, convKernel: 4, convBias: true, projBias: false, inner: 3072, convDim: 3072 + 256 });
      expect(c.mamba!.layers).toHaveLength(36);
      expect(c.noRopeLayers).toHaveLength(40);
      expect(c.moe).toMatchObject({ experts: 64, expertsPerToken: 6, expertSize: 512, sharedExpert: { size: 1024, gated: false } });
      expect(c).toMatchObject({ embedScale: 12, attentionScale: 0.0078125, residualScale: 0.22, logitsDivisor: 6, tieWordEmbeddings: true });
    }
    // Every layer attending: no Mamba mixer, so no recurrent state for the cache to keep.
    expect(parseModelConfig({ ...noneGiven, layer_types: noneGiven.layer_types.map(() => 'attention') }).mamba).toBeUndefined();
    // RoPE where position_embedding_type asks for it; no experts: the shared MLP is the layer's MLP.
    expect(parseModelConfig({ ...noneGiven, position_embedding_type: 'rope' }).noRopeLayers).toEqual([]);
    const dense = parseModelConfig({ ...noneGiven, num_local_experts: 0 });
    expect([dense.moe, dense.intermediateSize]).toEqual([undefined, 1024]);
    // mamba_d_head "auto" (the default) is d_inner / heads.
    const { mamba_d_head: _head, ...auto } = noneGiven;
    expect(parseModelConfig(auto).mamba!.headDim).toBe(64);
  });

  it('refuses what it cannot run with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...GRANITE_4_H, mamba_n_groups: 2 }), 'UNSUPPORTED_MODEL', /mamba_n_groups = 2 is not supported/);
    expectKvkitError(() => parseModelConfig({ ...GRANITE_4_H, layer_types: [...GRANITE_4_H.layer_types.slice(1), 'linear_attention'] }), 'UNSUPPORTED_MODEL', /layer_types = "linear_attention"/);
    expectKvkitError(() => parseModelConfig({ ...GRANITE_4_H, layer_types: new Array(40).fill('mamba') }), 'INVALID_CONFIG', /at least one attention layer/);
    expectKvkitError(() => parseModelConfig({ ...GRANITE_4_H, mamba_d_head: 60 }), 'INVALID_CONFIG', /heads of 60 must make d_inner/);
    expectKvkitError(() => parseModelConfig({ ...GRANITE_4_H, position_embedding_type: 'alibi' }), 'UNSUPPORTED_MODEL', /position_embedding_type = "alibi"/);
    expectKvkitError(() => parseModelConfig({ ...GRANITE_4_H, layer_types: undefined }), 'INVALID_CONFIG', /layer_types must list mamba or attention/);
  });
});

describe('Granite 4.0-H on the CPU (granite4-hybrid-moe: Mamba on layers 0, 2, 3; NoPE attention on 1)', () => {
  // d_inner 64 (4 heads of 16), d_state 8: per Mamba layer conv rows [3, 64 + 16] and scan state [4, 16, 8].
  it('holds one cache layer, and per Mamba layer its convolution rows and f32 scan state as the part "recurrent"', () =>
    expectStateAfterPrompt(FIXTURE, 1, 3 * (3 * 80 + 4 * 16 * 8) * 4));

  it('continues the state across passes: a prompt fed in chunks of 2, 1 and 4 tokens gives the one-pass logits', () => expectChunkedPrefill(FIXTURE, [2, 1, 4]));

  it('keeps each request’s state in its own cache: a batched pass gives every request its solo logits', () => expectBatchMatchesSolo(FIXTURE));

});
