// Parity with an independent plain-PyTorch re-implementation of each architecture's Hugging Face
// semantics (tooling/fixtures/llm_reference.py, float64, in the passes generate makes: the prompt, then one token per pass) —
// NOT transformers; the transformers fixtures are in transformers-parity.test.ts.
import { join } from 'node:path';
import { denseCache } from '@kvkit/tensor-core';
import { assertClose, relativeError } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { readReference, rows, TORCH_REFERENCE, torchFixtures, withConfigPatch } from './helpers/fixtures.js';

const fixtures = torchFixtures();

describe('parity with the independent PyTorch reference', () => {
  it('has a fixture for every architecture variant', () => {
    expect(fixtures).toEqual(['apertus-bf16', 'apertus-xielu', 'arcee-relu2', 'bamba', 'cohere-parallel', 'cohere2-sliding-nope', 'deepseek-v2-group', 'deepseek-v2-lite', 'deepseek-v3', 'deepseek-v3-bias', 'ernie4_5-bias', 'ernie4_5-moe', 'exaone4-bf16', 'exaone4-hybrid', 'falcon-h1', 'falcon-h1-bf16', 'falcon-h1-norm', 'gemma-geglu', 'gemma2-softcap', 'gemma3-sliding', 'glm-partial-pairs', 'glm4-moe', 'glm4-moe-qknorm', 'glm4-sandwich', 'gpt-oss', 'gpt-oss-bf16', 'gpt2', 'gpt2-f16', 'granite-multipliers', 'granite4-hybrid-dense', 'granite4-hybrid-moe', 'granitemoe-shared', 'granitemoe-stacked', 'hunyuan-alpha', 'hunyuan-bf16', 'jamba', 'jamba-bf16', 'lfm2-conv-bias', 'lfm2-moe', 'lfm2-shortconv', 'llama', 'llama-dynamic-ntk', 'llama-f16', 'llama-mqa-bias', 'llama3-rope', 'llama4-chunked', 'llama4-maverick', 'llama4-scout', 'mistral-sliding', 'mixtral-experts', 'nemotron-h', 'nemotron-h-bf16', 'nemotron-h-moe', 'olmo-bf16', 'olmo-clip', 'olmo2-post-norm', 'olmo3-sliding-yarn', 'olmoe-clip', 'olmoe-experts', 'phi2-parallel', 'phi3-fused', 'phi4-longrope', 'phimoe', 'pythia-neox', 'qwen2-bf16-tied', 'qwen2-bias', 'qwen2-moe-shared', 'qwen2-sliding', 'qwen3-moe', 'qwen3-next', 'qwen3-qk-norm', 'qwen3_5-bf16', 'qwen3_5-hybrid', 'qwen3_5-moe', 'seed-oss-bias', 'smollm-tied', 'smollm3-nope', 'smollm3-yarn', 'stablelm2-layernorm', 'starcoder2']);
  });

  for (const name of fixtures) {
    for (const dtype of ['f32', 'f16'] as const) {
      // f32 compute matches the float64 reference to f32 rounding (f16/bf16 checkpoints are widened
      // exactly at load, as in the reference); f16 compute rounds every activation to f16.
      const tolerance = dtype === 'f32' ? 1e-5 : 1e-2;
      it(`${name}: prefill and ${dtype === 'f32' ? 'f32' : 'f16'}-compute decode logits within ${tolerance}`, async () => {
        const dir = join(TORCH_REFERENCE, name);
        const ref = readReference(dir);
        const model = await loadModel(dir, { dtype });
        const cache = model.createCache(denseCache({ dtype }));
        try {
          const ids = Int32Array.from(ref.ids);
          const p = ref.prompt_tokens;
          const prefill = model.forward(ids.subarray(0, p), cache, { logits: 'all' });
          expect(prefill.shape).toEqual([p, model.config.vocabSize]);
          assertClose(prefill.readFloat32Sync(), rows(ref.logits, 0, p), tolerance, `${name} prefill`);
          prefill.dispose();
          for (let t = p; t < ids.length; t++) {
            const step = model.forward(ids.subarray(t, t + 1), cache, { logits: 'last' });
            expect(step.shape).toEqual([1, model.config.vocabSize]);
            assertClose(step.readFloat32Sync(), rows(ref.logits, t, t + 1), tolerance, `${name} decode position ${t}`);
            step.dispose();
          }
          // Llama 4's chunked layers hold the last chunk's tokens only (llama4-chunked), every other layer all of them.
          const chunk = model.config.attentionChunk;
          const held = (i: number) => (chunk === undefined || model.config.noRopeLayers.includes(model.config.attentionLayers[i]) ? ids.length : ids.length - Math.floor((ids.length - 1) / chunk) * chunk);
          expect(cache.layers.map((layer) => layer.length)).toEqual(cache.layers.map((_, i) => held(i)));
        } finally {
          cache.dispose();
          model.dispose();
        }
      });
    }
  }

  // Guards against fixtures too small to tell: without the feature under test, the logits must differ.
  for (const [name, patch] of [
    ['mistral-sliding', { sliding_window: null }],
    ['llama3-rope', { rope_scaling: null }],
    ['qwen2-bias', { rope_theta: 10000 }],
    // As a Llama checkpoint the same weights run without q_norm / k_norm (their tensors left unread).
    ['qwen3-qk-norm', { model_type: 'llama', architectures: ['LlamaForCausalLM'] }],
    ['qwen2-sliding', { use_sliding_window: false }],
    ['smollm3-nope', { no_rope_layers: [1, 1] }],
    ['gemma3-sliding', { sliding_window_pattern: 1 }],
    ['gemma3-sliding', { rope_local_base_freq: 1000000 }],
    ['gemma3-sliding', { query_pre_attn_scalar: 16 }],
    ['gemma2-softcap', { attn_logit_softcapping: null }],
    ['gemma2-softcap', { final_logit_softcapping: null }],
    ['gemma2-softcap', { layer_types: ['full_attention', 'full_attention'] }],
    ['phi3-fused', { sliding_window: null }],
    // The attention factor (√2 here) and the frequencies' scaling each matter.
    ['phi4-longrope', { original_max_position_embeddings: 64 }],
    ['phi4-longrope', { rope_scaling: { type: 'longrope', short_factor: [1, 1.1, 1.3, 1.6, 2, 2.5], long_factor: [1, 2, 4, 8, 16, 32], attention_factor: 1 } }],
    ['smollm3-yarn', { rope_scaling: null }],
    ['granite-multipliers', { embedding_multiplier: 1 }],
    ['granite-multipliers', { attention_multiplier: Math.SQRT1_2 / 2 }],
    ['granite-multipliers', { residual_multiplier: 1 }],
    ['granite-multipliers', { logits_scaling: 1 }],
    ['pythia-neox', { use_parallel_residual: false }],
    ['pythia-neox', { rotary_pct: 1 }],
    ['olmo3-sliding-yarn', { layer_types: ['full_attention', 'full_attention'] }],
    ['phi2-parallel', { partial_rotary_factor: 1 }],
    ['stablelm2-layernorm', { use_qkv_bias: false }],
    ['cohere-parallel', { logit_scale: 1 }],
    ['glm-partial-pairs', { partial_rotary_factor: 1 }],
    // Both layers sliding and rotating: the global layer's missing rotation (and window) matter.
    ['cohere2-sliding-nope', { layer_types: ['sliding_attention', 'sliding_attention'] }],
    ['stablelm2-layernorm', { use_parallel_residual: true }],
    // YaRN on the global layer matters; on the sliding one it must not apply (checked by the parity itself).
    ['olmo3-sliding-yarn', { rope_scaling: null }],
    ['smollm3-yarn', { rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 256, attention_factor: 1 } }],
    // How many experts each token takes, and whether their weights are renormalized, each matter.
    ['mixtral-experts', { num_experts_per_tok: 1 }],
    ['qwen2-moe-shared', { norm_topk_prob: true }],
    ['qwen3-moe', { norm_topk_prob: false }],
    // Granite 4.0-H: RoPE where position_embedding_type says so; the multipliers around the Mamba layers.
    ['granite4-hybrid-dense', { position_embedding_type: null }],
    ['granite4-hybrid-moe', { residual_multiplier: 1 }],
    // LFM2-MoE's selection bias, its scaling and its renormalization each matter.
    ['lfm2-moe', { use_expert_bias: false }],
    ['lfm2-moe', { routed_scaling_factor: 1 }],
    ['lfm2-moe', { norm_topk_prob: false }],
    ['olmoe-experts', { norm_topk_prob: true }],
    // OLMo 1's and OLMoE's clip_qkv (OLMo's parameterless LayerNorms: the parity itself, the checkpoint has no norm tensors).
    ['olmo-clip', { clip_qkv: null }],
    ['olmoe-clip', { clip_qkv: null }],
    ['olmo-bf16', { rope_scaling: null }],
    // Hunyuan's alpha base matters (its q/k norms after RoPE: the parity itself).
    ['hunyuan-alpha', { rope_scaling: null }],
    ['olmoe-experts', { num_experts_per_tok: 3 }],
    ['granitemoe-stacked', { num_experts_per_tok: 1 }],
    ['granitemoe-shared', { residual_multiplier: 1 }],
    // Every pass reaches past max_position_embeddings (4): each rotates with a grown base.
    ['llama-dynamic-ntk', { rope_scaling: null, max_position_embeddings: 64 }],
    // As a Llama the same weights run with SiLU, norms scaling by their weight and unscaled embeddings.
    ['gemma-geglu', { model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_act: 'silu' }],
    // Nemotron-H's biases each matter: the Mamba mixer's in_proj / out_proj, the MLP's, the attention's
    // (time_step_limit's Infinity does not survive JSON.stringify: left out, as a config may).
    ['nemotron-h-bf16', { use_bias: false, time_step_limit: null }],
    ['nemotron-h-bf16', { mlp_bias: false, time_step_limit: null }],
    ['nemotron-h-bf16', { attention_bias: false, time_step_limit: null }],
    // Bamba's attention rotates (half of each head: the reference's whole-head rotation differs by 1.06).
    ['bamba', { rope_theta: 10, time_step_limit: null }],
    // Qwen3.5's attention rotates a fraction of each head (here a half, not the whole).
    ['qwen3_5-hybrid', { rope_parameters: { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 1 } }],
    // Qwen3-Next's config gives no partial_rotary_factor: its class's quarter rotates, not the whole head; its experts renormalize per norm_topk_prob.
    ['qwen3-next', { partial_rotary_factor: 1 }],
    ['qwen3-next', { norm_topk_prob: false }],
    // How many experts Jamba's tokens take matters (its renormalization, dt/B/C norms and missing rotation are checked in the reference).
    ['jamba', { num_experts_per_tok: 1 }],
    // GLM-4.5's routed scaling, half-head rotation and q/k norms each matter (its correction bias: glm4-moe.test.ts).
    ['glm4-moe', { routed_scaling_factor: 1 }],
    ['glm4-moe', { partial_rotary_factor: 1 }],
    ['glm4-moe-qknorm', { use_qk_norm: false }],
    // StarCoder2's window and biases each matter (GPT-2's position embeddings: gpt2.test.ts).
    ['starcoder2', { sliding_window: null }],
    ['starcoder2', { use_bias: false }],
    // EXAONE 4.0: the window, and which layers rotate, each matter.
    ['exaone4-hybrid', { sliding_window_pattern: 1 }],
    ['exaone4-hybrid', { sliding_window: null }],
    // ERNIE 4.5's biases matter (its neighbouring-pair rotation is checked by the parity itself).
    ['ernie4_5-bias', { use_bias: false }],
    // Arcee's YaRN and Seed-OSS's q/k/v biases each matter (Arcee's relu² MLP: the parity itself).
    ['arcee-relu2', { rope_scaling: null }],
    ['seed-oss-bias', { attention_bias: false }],
    // gpt-oss: the window, which layers slide, and YaRN untruncated each matter (sinks, biases and the clamp: gpt-oss.test.ts).
    ['gpt-oss', { sliding_window: null }],
    ['gpt-oss-bf16', { layer_types: ['sliding_attention', 'full_attention', 'full_attention'] }],
    ['gpt-oss-bf16', { rope_scaling: { rope_type: 'yarn', factor: 4, beta_fast: 32, beta_slow: 1, truncate: true, original_max_position_embeddings: 32 } }],
    // Each of Falcon-H1's μP multipliers matters, and so does how its mixer gates and normalizes.
    ...(['key_multiplier', 'attention_in_multiplier', 'attention_out_multiplier', 'ssm_in_multiplier', 'ssm_out_multiplier', 'embedding_multiplier', 'lm_head_multiplier'] as const).map(
      (field) => ['falcon-h1', { [field]: 1, time_step_limit: null }] as const,
    ),
    // Nemotron 3's experts: the routed scaling and the renormalization each matter (the selection bias is checked in nemotron-h.test.ts).
    ['nemotron-h-moe', { routed_scaling_factor: 1, time_step_limit: null }],
    ['nemotron-h-moe', { norm_topk_prob: false, time_step_limit: null }],
    // DeepSeek: YaRN's mscale² in the softmax scale, the group limit, the routed scaling, which channels pair, the attention biases.
    ['deepseek-v2-lite', { rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 8, beta_fast: 32, beta_slow: 1, mscale: 0.707, mscale_all_dim: 0 } }],
    ['deepseek-v2-group', { topk_method: 'greedy' }],
    ['deepseek-v2-group', { routed_scaling_factor: 1 }],
    ['deepseek-v3', { topk_group: 4 }],
    ['deepseek-v3', { rope_interleave: false }],
    ['deepseek-v3-bias', { attention_bias: false }],
    // Llama 4: the temperature tuning, the L2 q/k norms and which layers rotate each matter (the scaled expert inputs: the parity itself).
    ['llama4-scout', { attn_temperature_tuning: false }],
    ['llama4-scout', { use_qk_norm: false }],
    ['llama4-scout', { no_rope_layers: [1, 1, 0, 1] }],
    ['llama4-chunked', { attention_chunk_size: null }],
    ['falcon-h1', { mlp_multipliers: [1, 1], time_step_limit: null }],
    ['falcon-h1', { ssm_multipliers: [1, 1, 1, 1, 1], time_step_limit: null }],
    ['falcon-h1-norm', { mamba_rms_norm: false, time_step_limit: null }],
    ['falcon-h1-bf16', { mamba_norm_before_gate: false, time_step_limit: null }],
  ] as const) {
    it(`${name}: the fixture depends on ${Object.keys(patch)[0]}`, async () => {
      const dir = join(TORCH_REFERENCE, name);
      const ref = readReference(dir);
      const model = await loadModel({ files: withConfigPatch(dir, patch) });
      const cache = model.createCache();
      const logits = model.forward(Int32Array.from(ref.ids), cache);
      expect(relativeError(logits.readFloat32Sync(), rows(ref.logits, 0, ref.ids.length))).toBeGreaterThan(1e-2);
      cache.dispose();
      model.dispose();
    });
  }
});
