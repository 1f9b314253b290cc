// Microsoft Phi-3.5-MoE: SparseMixer's routing, LayerNorms with biases, biases on q/k/v/o and the LM
// head, LongRoPE with attention factors of its own per pass. Its configs, the routing against the
// source's definition, and what each part changes; logits against the PyTorch reference are
// checked in torch-reference-parity.test.ts (CPU), webgpu.test.ts and cuda-emulator.test.ts.
import { join } from 'node:path';
import { cpuBackend, denseCache, tensor, TensorScope } from '@kvkit/tensor-core';
import { assertClose, relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { loadModel, parseModelConfig } from '../src/index.js';
import { sparseMixerRoute } from '../src/sparse-mixer.js';
import { editedCheckpoint, zeroing } from './helpers/edited-checkpoint.js';
import { expectKvkitError } from './helpers/errors.js';
import { filesOf, readReference, rows, TORCH_REFERENCE, withConfigPatch } from './helpers/fixtures.js';

// The fields of microsoft/Phi-3.5-MoE-instruct's config.json (rope_scaling's factor lists shortened to their first and last entries).
const PHI_35_MOE = {
  architectures: ['PhiMoEForCausalLM'],
  attention_bias: true,
  attention_dropout: 0.0,
  bos_token_id: 1,
  eos_token_id: 32000,
  hidden_act: 'silu',
  hidden_dropout: 0.0,
  hidden_size: 4096,
  initializer_range: 0.02,
  input_jitter_noise: 0.01,
  intermediate_size: 6400,
  lm_head_bias: true,
  max_position_embeddings: 131072,
  model_type: 'phimoe',
  num_attention_heads: 32,
  num_experts_per_tok: 2,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  num_local_experts: 16,
  original_max_position_embeddings: 4096,
  output_router_logits: false,
  rms_norm_eps: 1e-5,
  rope_scaling: {
    long_factor: Array.from({ length: 64 }, (_, i) => 1 + i),
    long_mscale: 1.243163121016122,
    original_max_position_embeddings: 4096,
    short_factor: Array.from({ length: 64 }, (_, i) => 1 + i / 64),
    short_mscale: 1.243163121016122,
    type: 'longrope',
  },
  rope_theta: 10000.0,
  router_aux_loss_coef: 0.0,
  router_jitter_noise: 0.01,
  sliding_window: 131072,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 32064,
};

/**
 * transformers' `sparsemixer` at inference, written from its source in float64: per row the
 * argmax, its softmax over the logits not masked by (max − s) / max(|s|, max) > 2ε; then the same
 * against the second max with the first expert masked out.
 */
function sourceSparseMixer(logits: Float32Array, experts: number, jitter: number): { experts: number[]; weights: number[] } {
  const out = { experts: [] as number[], weights: [] as number[] };
  for (let r = 0; r < logits.length / experts; r++) {
    const scores = Array.from(logits.subarray(r * experts, (r + 1) * experts));
    let masked = scores.slice();
    for (let pick = 0; pick < 2; pick++) {
      const top = Math.max(...masked);
      const expert = masked.indexOf(top);
      const gates = masked.map((s, j) => ((top - scores[j]) / Math.max(Math.abs(scores[j]), top) > 2 * jitter ? -Infinity : s));
      const total = gates.reduce((sum, g) => sum + Math.exp(g - top), 0);
      out.experts.push(expert);
      out.weights.push(Math.exp(gates[expert] - top) / total);
      masked = masked.map((s, j) => (j === expert ? -Infinity : s));
    }
  }
  return out;
}

describe('Phi-3.5-MoE configs', () => {
  it('reads Phi-3.5-MoE-instruct: LayerNorms with biases, biases on q/k/v/o and the LM head, 2 of 16 experts by SparseMixer, LongRoPE with its mscales', () => {
    const c = parseModelConfig(PHI_35_MOE);
    expect(c).toMatchObject({ normKind: 'layer', normBias: true, normEps: 1e-5, lmHeadBias: true, attentionBias: { q: true, k: true, v: true, o: true }, headDim: 128, slidingWindow: 131072 });
    expect(c.moe).toMatchObject({ experts: 16, expertsPerToken: 2, expertSize: 6400, sparseMixer: { jitter: 0.01 } });
    expect(c.ropeScaling).toMatchObject({ type: 'longrope', originalMaxPositionEmbeddings: 4096, attentionFactor: 1.243163121016122, longAttentionFactor: 1.243163121016122 });
    // Without mscales, LongRoPE's own factor stands in: √(1 + ln 32 / ln 4096).
    const { short_mscale: _s, long_mscale: _l, ...plain } = PHI_35_MOE.rope_scaling;
    const scaling = parseModelConfig({ ...PHI_35_MOE, rope_scaling: plain }).ropeScaling;
    expect(scaling).toMatchObject({ attentionFactor: Math.sqrt(1 + Math.log(32) / Math.log(4096)), longAttentionFactor: Math.sqrt(1 + Math.log(32) / Math.log(4096)) });
  });

  it('refuses what SparseMixer cannot do with a typed error naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...PHI_35_MOE, num_experts_per_tok: 4 }), 'UNSUPPORTED_MODEL', /num_experts_per_tok = 4 is not supported; supported: 2/);
    expectKvkitError(() => parseModelConfig({ ...PHI_35_MOE, router_jitter_noise: 0.5 }), 'UNSUPPORTED_MODEL', /router_jitter_noise = 0.5/);
    expectKvkitError(() => parseModelConfig({ ...PHI_35_MOE, router_jitter_noise: -1 }), 'INVALID_CONFIG', /router_jitter_noise must be a number >= 0/);
  });
});

const FIXTURE = join(TORCH_REFERENCE, 'phimoe');

describe('Phi-3.5-MoE on the CPU (phimoe: 2 of 6 experts, a 7-token original context with the decode passes beyond it)', () => {
  const ref = readReference(FIXTURE);
  // In the reference's passes (the prompt, then one token a pass): the passes past the original context rotate long.
  const passLogits = async (files: Record<string, Uint8Array>): Promise<Float32Array> => {
    const model = await loadModel({ files });
    const cache = model.createCache(denseCache({ dtype: 'f32' }));
    const ids = Int32Array.from(ref.ids);
    const out = new Float32Array(ids.length * model.config.vocabSize);
    try {
      out.set(model.forward(ids.subarray(0, ref.prompt_tokens), cache, { logits: 'all' }).readFloat32Sync());
      for (let t = ref.prompt_tokens; t < ids.length; t++) out.set(model.forward(ids.subarray(t, t + 1), cache).readFloat32Sync(), t * model.config.vocabSize);
      return out;
    } finally {
      cache.dispose();
      model.dispose();
    }
  };
  const differs = async (files: Record<string, Uint8Array>) => relativeError(await passLogits(files), rows(ref.logits, 0, ref.ids.length));
  const withConfig = (patch: Record<string, unknown>) => withConfigPatch(FIXTURE, patch);

  it('each part matters: the norms\' and the LM head\'s biases, the mask width, each mscale', async () => {
    expect(await differs(filesOf(FIXTURE)), 'as it is').toBeLessThan(1e-5);
    for (const suffix of ['layernorm.bias', 'lm_head.bias']) expect(await differs(editedCheckpoint(FIXTURE, zeroing(suffix))), suffix).toBeGreaterThan(1e-2);
    expect(await differs(withConfig({ router_jitter_noise: 0.01 })), 'jitter').toBeGreaterThan(1e-2);
    const rope = JSON.parse(new TextDecoder().decode(filesOf(FIXTURE)['config.json'])).rope_scaling;
    for (const mscales of [{ short_mscale: rope.long_mscale }, { long_mscale: rope.short_mscale }]) {
      expect(await differs(withConfig({ rope_scaling: { ...rope, ...mscales } })), JSON.stringify(mscales)).toBeGreaterThan(1e-2);
    }
  });

  it("reads the config under the remote-code class's name as published, the same model", async () => {
    expect(await differs(withConfig({ architectures: ['PhiMoEForCausalLM'] }))).toBeLessThan(1e-5);
    expectKvkitError(() => parseModelConfig({ ...PHI_35_MOE, architectures: ['MixtralForCausalLM'] }), 'UNSUPPORTED_MODEL', /PhimoeForCausalLM or PhiMoEForCausalLM/);
  });
});

describe('SparseMixer routing', () => {
  it('chooses and weighs the experts as the source defines it (positive and negative maxima, masks that bite, ε = 0 and 0.45)', () =>
    withSeed((rng) => {
      for (const jitter of [0.01, 0.1, 0.45, 0]) {
        const [n, experts] = [40, 7];
        // Spread rows: some around 0 (negative maxima), some large (the mask drops most logits).
        const logits = Float32Array.from({ length: n * experts }, (_, i) => (Math.floor(i / experts) % 3 === 0 ? -3 : 0) + (1 + (Math.floor(i / experts) % 4)) * rng.normal());
        const expected = sourceSparseMixer(logits, experts, jitter);
        const scope = new TensorScope();
        try {
          const { chosen, experts: picked } = sparseMixerRoute(tensor(logits, [n, experts], { backend: cpuBackend() }), jitter, scope);
          expect(Array.from(picked.readSync()), `ε ${jitter}`).toEqual(expected.experts);
          assertClose(chosen.readFloat32Sync(), expected.weights, 1e-6, `weights, ε ${jitter}`);
        } finally {
          scope.dispose();
        }
        if (jitter === 0.1) expect(expected.weights.some((w) => w > 0.999), 'some rows keep the top logit alone').toBe(true);
      }
    }));
});
