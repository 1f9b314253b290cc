import { join } from 'node:path';
import { type Backend, denseCache } from '@kvkit/tensor-core';
import { relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { expect } from 'vitest';
import { loadModel, serializeSafetensors } from '../../src/index.js';
import { filesOf, TORCH_REFERENCE } from './fixtures.js';

/**
 * A two-layer DeepSeek-V3 (queries through q_lora_rank, a dense layer then 3 of 8 experts within 2
 * of 4 groups) whose latent head has the released models' width — kv_lora_rank 512 and a rotated
 * key of 64: 576 channels a cached token — on a small hidden size, random weights from `seed`, the
 * tokenizer of a fixture. For the kernels' paths at that width, which the tiny reference fixtures
 * (24 channels) do not reach.
 */
export function releasedWidthLatentModel(seed: number): Record<string, Uint8Array> {
  const base = filesOf(join(TORCH_REFERENCE, 'glm4-moe'));
  const vocab = JSON.parse(new TextDecoder().decode(base['config.json'])).vocab_size as number;
  const [hidden, heads, rank, rope, nope, value, experts, size] = [32, 4, 512, 64, 8, 12, 8, 16];
  const config = {
    model_type: 'deepseek_v3',
    architectures: ['DeepseekV3ForCausalLM'],
    num_hidden_layers: 2,
    hidden_size: hidden,
    intermediate_size: 40,
    num_attention_heads: heads,
    num_key_value_heads: heads,
    q_lora_rank: 12,
    kv_lora_rank: rank,
    qk_nope_head_dim: nope,
    qk_rope_head_dim: rope,
    v_head_dim: value,
    n_routed_experts: experts,
    n_group: 4,
    topk_group: 2,
    num_experts_per_tok: 3,
    moe_intermediate_size: size,
    n_shared_experts: 1,
    first_k_dense_replace: 1,
    vocab_size: vocab,
    max_position_embeddings: 64,
    rope_scaling: { type: 'yarn', factor: 4, original_max_position_embeddings: 8, mscale: 0.9, mscale_all_dim: 0.7 },
  };
  // A Lehmer generator: the same weights for a seed on every machine.
  let state = seed % 2147483646 || 1;
  const random = (count: number) => Float32Array.from({ length: count }, () => ((state = (state * 16807) % 2147483647) / 2147483647 - 0.5) * 0.4);
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  const put = (name: string, shape: number[], ones = false) => {
    const count = shape.reduce((a, b) => a * b);
    tensors[name] = { dtype: 'F32', shape, data: ones ? new Float32Array(count).fill(1) : random(count) };
  };
  put('model.embed_tokens.weight', [vocab, hidden]);
  put('model.norm.weight', [hidden], true);
  put('lm_head.weight', [vocab, hidden]);
  for (let i = 0; i < 2; i++) {
    const p = `model.layers.${i}`;
    put(`${p}.input_layernorm.weight`, [hidden], true);
    put(`${p}.post_attention_layernorm.weight`, [hidden], true);
    put(`${p}.self_attn.q_a_proj.weight`, [12, hidden]);
    put(`${p}.self_attn.q_a_layernorm.weight`, [12], true);
    put(`${p}.self_attn.q_b_proj.weight`, [heads * (nope + rope), 12]);
    put(`${p}.self_attn.kv_a_proj_with_mqa.weight`, [rank + rope, hidden]);
    put(`${p}.self_attn.kv_a_layernorm.weight`, [rank], true);
    put(`${p}.self_attn.kv_b_proj.weight`, [heads * (nope + value), rank]);
    put(`${p}.self_attn.o_proj.weight`, [hidden, heads * value]);
    const mlp = (prefix: string, width: number) => {
      put(`${prefix}.gate_proj.weight`, [width, hidden]);
      put(`${prefix}.up_proj.weight`, [width, hidden]);
      put(`${prefix}.down_proj.weight`, [hidden, width]);
    };
    if (i === 0) {
      mlp(`${p}.mlp`, 40);
      continue;
    }
    put(`${p}.mlp.gate.weight`, [experts, hidden]);
    put(`${p}.mlp.gate.e_score_correction_bias`, [experts]);
    for (let e = 0; e < experts; e++) mlp(`${p}.mlp.experts.${e}`, size);
    mlp(`${p}.mlp.shared_experts`, size);
  }
  return { ...base, 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'model.safetensors': serializeSafetensors(tensors) };
}

/**
 * `releasedWidthLatentModel` with fresh weights on `backend` and on the CPU (the float64-summed
 * reference path, dense f32 cache): the prompt in one pass, then a token per pass through the
 * backend's default (paged) cache, the logits within `tolerance` (relative) of the CPU's.
 */
export async function expectReleasedWidthLatentOn(backend: Backend, tolerance: number): Promise<void> {
  await withSeed(async (_rng, seed) => {
    const files = releasedWidthLatentModel(seed);
    const [onBackend, onCpu] = [await loadModel({ files }, { backend, dtype: 'f32' }), await loadModel({ files })];
    const [cache, reference] = [onBackend.createCache(), onCpu.createCache(denseCache({ dtype: 'f32' }))];
    try {
      const ids = Int32Array.from([1, 5, 9, 2, 7, 3, 8, 4, 6, 10]);
      for (const [from, to] of [[0, 7], [7, 8], [8, 9], [9, 10]]) {
        const [got, want] = [onBackend.forward(ids.subarray(from, to), cache), onCpu.forward(ids.subarray(from, to), reference)];
        expect(relativeError(await got.readFloat32(), want.readFloat32Sync()), `tokens ${from}…${to}`).toBeLessThan(tolerance);
        got.dispose();
        want.dispose();
      }
    } finally {
      for (const t of [cache, reference, onBackend, onCpu]) t.dispose();
    }
  });
}
