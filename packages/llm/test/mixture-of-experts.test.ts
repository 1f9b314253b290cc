// Mixture-of-experts families (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, Granite MoE): their released configs as the runtime reads them, the experts'
// matrices stacked at load (sharded, by part, in the checkpoint's dtype, counted in the weights'
// bytes), and the typed errors of configs and checkpoints it cannot run. Their logits are checked
// against the PyTorch reference in torch-reference-parity.test.ts (CPU), webgpu.test.ts and
// cuda-emulator.test.ts.
import { join } from 'node:path';
import { assertClose } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { loadModel, parseModelConfig, parseSafetensors, readFloat32, serializeSafetensors } from '../src/index.js';
import { expectKvkitError, expectKvkitErrorAsync } from './helpers/errors.js';
import { filesOf, readReference, rows, TORCH_REFERENCE } from './helpers/fixtures.js';
import { fuseExperts } from './helpers/fused-experts.js';

// mistralai/Mixtral-8x7B-v0.1's config.json.
const MIXTRAL_8X7B = {
  architectures: ['MixtralForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mixtral',
  num_attention_heads: 32,
  num_experts_per_tok: 2,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  num_local_experts: 8,
  output_router_logits: false,
  rms_norm_eps: 1e-5,
  rope_theta: 1e6,
  router_aux_loss_coef: 0.02,
  sliding_window: null,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 32000,
};

// Qwen/Qwen1.5-MoE-A2.7B's config.json.
const QWEN15_MOE = {
  architectures: ['Qwen2MoeForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  decoder_sparse_step: 1,
  eos_token_id: 151643,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 5632,
  max_position_embeddings: 8192,
  max_window_layers: 21,
  model_type: 'qwen2_moe',
  moe_intermediate_size: 1408,
  norm_topk_prob: false,
  num_attention_heads: 16,
  num_experts: 60,
  num_experts_per_tok: 4,
  num_hidden_layers: 24,
  num_key_value_heads: 16,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  router_aux_loss_coef: 0.001,
  shared_expert_intermediate_size: 5632,
  sliding_window: 32768,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

// Qwen/Qwen3-30B-A3B's config.json.
const QWEN3_30B_A3B = {
  architectures: ['Qwen3MoeForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  decoder_sparse_step: 1,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 6144,
  max_position_embeddings: 40960,
  max_window_layers: 48,
  mlp_only_layers: [],
  model_type: 'qwen3_moe',
  moe_intermediate_size: 768,
  norm_topk_prob: true,
  num_attention_heads: 32,
  num_experts: 128,
  num_experts_per_tok: 8,
  num_hidden_layers: 48,
  num_key_value_heads: 4,
  output_router_logits: false,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000.0,
  router_aux_loss_coef: 0.001,
  sliding_window: null,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

// allenai/OLMoE-1B-7B-0924's config.json.
const OLMOE_1B_7B = {
  architectures: ['OlmoeForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  clip_qkv: null,
  eos_token_id: 50279,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 1024,
  max_position_embeddings: 4096,
  model_type: 'olmoe',
  norm_topk_prob: false,
  num_attention_heads: 16,
  num_experts: 64,
  num_experts_per_tok: 8,
  num_hidden_layers: 16,
  num_key_value_heads: 16,
  output_router_logits: false,
  pad_token_id: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000,
  router_aux_loss_coef: 0.01,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  use_cache: true,
  vocab_size: 50304,
};

// A config of the shape of ibm-granite/granite-3.0-1b-a400m-base's (GraniteMoeForCausalLM).
const GRANITE_MOE_1B = {
  architectures: ['GraniteMoeForCausalLM'],
  attention_bias: false,
  attention_multiplier: 0.015625,
  bos_token_id: 0,
  embedding_multiplier: 12.0,
  eos_token_id: 0,
  hidden_act: 'silu',
  hidden_size: 1024,
  intermediate_size: 512,
  logits_scaling: 6.0,
  max_position_embeddings: 4096,
  model_type: 'granitemoe',
  num_attention_heads: 16,
  num_experts_per_tok: 8,
  num_hidden_layers: 24,
  num_key_value_heads: 8,
  num_local_experts: 32,
  residual_multiplier: 0.22,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  vocab_size: 49155,
};

// How every family but LFM2-MoE routes: a softmax over the experts, no selection bias or scaling.
const SOFTMAX_ROUTER = { scoring: 'softmax', selectionBias: false, normalizeEpsilon: 0, routedScale: 1, gatedExperts: true } as const;

// An LFM2-MoE config as LFM2-8B-A1B's names it, its sizes left to Lfm2MoeConfig's defaults (hidden 2048, 32 of
// 4 experts of 1792, the first 2 layers dense), attention on every fourth of 32 layers.
const LFM2_MOE = {
  architectures: ['Lfm2MoeForCausalLM'],
  model_type: 'lfm2_moe',
  layer_types: Array.from({ length: 32 }, (_, i) => (i % 4 === 2 ? 'full_attention' : 'conv')),
  norm_eps: 1e-5,
  tie_embedding: true,
  torch_dtype: 'bfloat16',
};

describe('mixture-of-experts configs', () => {
  it('reads Mixtral 8x7B: 2 of 8 experts of intermediate_size, renormalized; no window', () => {
    const c = parseModelConfig(MIXTRAL_8X7B);
    expect(c.moe).toEqual({ experts: 8, expertsPerToken: 2, expertSize: 14336, normalizeTopK: true, denseLayers: [], ...SOFTMAX_ROUTER });
    expect(c.slidingWindow).toBeUndefined();
    expect(c.attentionBias).toEqual({ q: false, k: false, v: false, o: false });
    expect(parseModelConfig({ ...MIXTRAL_8X7B, sliding_window: 4096 }).slidingWindow).toBe(4096);
  });

  it('reads Qwen1.5-MoE-A2.7B: 4 of 60 experts not renormalized, a shared expert, q/k/v biases', () => {
    const c = parseModelConfig(QWEN15_MOE);
    expect(c.moe).toEqual({ experts: 60, expertsPerToken: 4, expertSize: 1408, normalizeTopK: false, denseLayers: [], sharedExpert: { size: 5632, gated: true }, ...SOFTMAX_ROUTER });
    expect(c.attentionBias).toEqual({ q: true, k: true, v: true, o: false });
    expect(c.slidingWindow).toBeUndefined();
    // Dense MLPs where Qwen2MoeDecoderLayer keeps them: mlp_only_layers, and off the sparse step.
    expect(parseModelConfig({ ...QWEN15_MOE, mlp_only_layers: [0, 5] }).moe?.denseLayers).toEqual([0, 5]);
    expect(parseModelConfig({ ...QWEN15_MOE, decoder_sparse_step: 4 }).moe?.denseLayers).toEqual([0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 18, 20, 21, 22]);
  });

  it('reads Qwen3-30B-A3B: 8 of 128 experts renormalized, per-head q/k norms, no biases', () => {
    const c = parseModelConfig(QWEN3_30B_A3B);
    expect(c.moe).toEqual({ experts: 128, expertsPerToken: 8, expertSize: 768, normalizeTopK: true, denseLayers: [], ...SOFTMAX_ROUTER });
    expect(c.qkNorm).toBe('head');
    expect(c.headDim).toBe(128);
    expect(c.attentionBias.q).toBe(false);
  });

  it('reads OLMoE-1B-7B: 8 of 64 experts not renormalized, q/k norms over the whole projections before the blocks', () => {
    const c = parseModelConfig(OLMOE_1B_7B);
    expect(c.moe).toEqual({ experts: 64, expertsPerToken: 8, expertSize: 1024, normalizeTopK: false, denseLayers: [], ...SOFTMAX_ROUTER });
    expect(c.qkNorm).toBe('projection');
    expect(c.blockNorms).toBe('pre');
    expect(c.normEps).toBe(1e-5);
  });

  it("reads Granite MoE: Granite's multipliers around 8 of 32 experts (the softmax over the top-k logits is the renormalized one); GraniteMoeShared's shared MLP", () => {
    const c = parseModelConfig(GRANITE_MOE_1B);
    expect(c.moe).toEqual({ experts: 32, expertsPerToken: 8, expertSize: 512, normalizeTopK: true, denseLayers: [], ...SOFTMAX_ROUTER });
    expect(c).toMatchObject({ embedScale: 12, attentionScale: 0.015625, residualScale: 0.22, logitsDivisor: 6, tieWordEmbeddings: true });
    const shared = { ...GRANITE_MOE_1B, model_type: 'granitemoeshared', architectures: ['GraniteMoeSharedForCausalLM'] };
    expect(parseModelConfig({ ...shared, shared_intermediate_size: 1024 }).moe?.sharedExpert).toEqual({ size: 1024, gated: false });
    // GraniteMoeSharedConfig's default, 0, means no shared MLP.
    expect(parseModelConfig(shared).moe?.sharedExpert).toBeUndefined();
    expect(parseModelConfig({ ...shared, shared_intermediate_size: 0 }).moe?.sharedExpert).toBeUndefined();
  });

  it('reads LFM2-MoE: sigmoid scores, 4 of 32 experts chosen with expert_bias, renormalized over the sum + 1e-6, after 2 dense layers; short convolutions between the attention layers', () => {
    const c = parseModelConfig(LFM2_MOE);
    expect(c.moe).toEqual({
      experts: 32,
      expertsPerToken: 4,
      expertSize: 1792,
      normalizeTopK: true,
      denseLayers: [0, 1],
      scoring: 'sigmoid',
      selectionBias: true,
      normalizeEpsilon: 1e-6,
      routedScale: 1,
      gatedExperts: true,
    });
    expect(c).toMatchObject({ hiddenSize: 2048, intermediateSize: 7168, numHeads: 32, numKvHeads: 8, qkNorm: 'head', tieWordEmbeddings: true, ropeTheta: 1e6 });
    expect(c.attentionLayers).toEqual([2, 6, 10, 14, 18, 22, 26, 30]);
    expect(c.shortConv).toMatchObject({ kernel: 3, bias: false });
    expect(parseModelConfig({ ...LFM2_MOE, use_expert_bias: false, routed_scaling_factor: 2.5, num_dense_layers: 0 }).moe).toMatchObject({ selectionBias: false, routedScale: 2.5, denseLayers: [] });
    expectKvkitError(() => parseModelConfig({ ...LFM2_MOE, num_dense_layers: 33 }), 'INVALID_CONFIG', /num_dense_layers must be an integer in 0…32/);
    expectKvkitError(() => parseModelConfig({ ...LFM2_MOE, routed_scaling_factor: 0 }), 'INVALID_CONFIG', /routed_scaling_factor must be a positive number/);
  });

  it('refuses what it cannot run, naming the field', () => {
    expectKvkitError(() => parseModelConfig({ ...OLMOE_1B_7B, clip_qkv: 0 }), 'INVALID_CONFIG', /clip_qkv must be a positive number/);
    expectKvkitError(() => parseModelConfig({ ...MIXTRAL_8X7B, num_experts_per_tok: 9 }), 'INVALID_CONFIG', /num_experts_per_tok \(9\) must not exceed the number of experts \(8\)/);
    expectKvkitError(() => parseModelConfig({ ...QWEN15_MOE, mlp_only_layers: [24] }), 'INVALID_CONFIG', /mlp_only_layers must list layer indices below 24/);
    expectKvkitError(() => parseModelConfig({ ...QWEN3_30B_A3B, num_experts: 0 }), 'INVALID_CONFIG', /num_experts must be a positive integer/);
    expectKvkitError(() => parseModelConfig({ ...QWEN15_MOE, shared_expert_intermediate_size: undefined }), 'INVALID_CONFIG', /shared_expert_intermediate_size is required/);
  });
});

describe('mixture-of-experts checkpoints', () => {
  const QWEN_MOE = join(TORCH_REFERENCE, 'qwen2-moe-shared');

  it("stacks each routing layer's experts into two tensors in the checkpoint's order, counted in the weights' bytes", async () => {
    const model = await loadModel(QWEN_MOE);
    try {
      const { experts, expertSize } = model.config.moe!;
      const hidden = model.config.hiddenSize;
      const moe = model.expertWeights(0)!;
      expect(moe.router.shape).toEqual([experts, hidden]);
      expect(moe.gateUp!.shape).toEqual([experts, 2 * expertSize, hidden]);
      expect(moe.down.shape).toEqual([experts, hidden, expertSize]);
      // Layer 1 is dense (mlp_only_layers): no experts there.
      expect(model.expertWeights(1)).toBeUndefined();
      // Expert 3's up rows are the second half of its block, as stored.
      const file = parseSafetensors(filesOf(QWEN_MOE)['model.safetensors'], 'model.safetensors');
      const stored = readFloat32(file, file.tensors.get('model.layers.0.mlp.experts.3.up_proj.weight')!);
      const gateUp = moe.gateUp!.readFloat32Sync();
      const block = 2 * expertSize * hidden;
      expect(gateUp.subarray(3 * block + expertSize * hidden, 4 * block)).toEqual(stored);
      const storedBytes = [...file.tensors.values()].reduce((sum, e) => sum + e.shape.reduce((a, b) => a * b, 1), 0) * 4;
      expect(model.weightBytes).toBe(storedBytes);
    } finally {
      model.dispose();
    }
  });

  // transformers 5 saves a mixture's experts fused (gate_up_proj, down_proj; Mixtral's block renamed mlp):
  // such a checkpoint loads into the same stacks and gives the reference logits.
  for (const [name, ungated] of [['mixtral-experts', false], ['qwen2-moe-shared', false], ['qwen3-moe', false], ['olmoe-experts', false], ['lfm2-moe', false], ['nemotron-h-moe', true], ['qwen3-next', false], ['qwen3_5-moe', false], ['jamba', false], ['glm4-moe', false], ['ernie4_5-moe', false]] as const) {
    it(`${name}: the experts fused as transformers 5 saves them give the reference logits`, async () => {
      const dir = join(TORCH_REFERENCE, name);
      const ref = readReference(dir);
      const files = filesOf(dir);
      files['model.safetensors'] = fuseExperts(files['model.safetensors'], ungated);
      expect([...parseSafetensors(files['model.safetensors'], 'model.safetensors').tensors.keys()].some((key) => /experts\.\d/.test(key))).toBe(false);
      const model = await loadModel({ files });
      const cache = model.createCache();
      try {
        const logits = model.forward(Int32Array.from(ref.ids), cache, { logits: 'all' });
        assertClose(logits.readFloat32Sync(), rows(ref.logits, 0, ref.ids.length), 1e-5, name);
        logits.dispose();
      } finally {
        cache.dispose();
        model.dispose();
      }
    });
  }

  for (const name of ['qwen2-moe-shared', 'granitemoe-shared']) {
    it(`${name}: bf16 experts kept as stored (halfWeights) give the widened copies' logits bit for bit`, async () => {
      const dir = join(TORCH_REFERENCE, name);
      const ids = Int32Array.from(readReference(dir).ids);
      const logitsOf = async (halfWeights: boolean) => {
        const model = await loadModel(dir, { halfWeights });
        const cache = model.createCache();
        try {
          if (halfWeights) expect(model.expertWeights(0)!.gateUp!.dtype).toBe('bf16');
          return model.forward(ids, cache, { logits: 'all' }).readFloat32Sync();
        } finally {
          cache.dispose();
          model.dispose();
        }
      };
      expect(await logitsOf(true)).toEqual(await logitsOf(false));
    });
  }

  it('routes each request of a batched pass as it routes it alone (decode steps sharing experts, mixed-length prefills)', async () => {
    const model = await loadModel(QWEN_MOE);
    const ids = Int32Array.from(readReference(QWEN_MOE).ids);
    const prompts = [ids.subarray(0, 5), ids.subarray(2, 9), ids.subarray(4, 7)];
    const next = [ids.subarray(5, 6), ids.subarray(9, 10), ids.subarray(7, 8)];
    const vocab = model.config.vocabSize;
    try {
      const alone = prompts.map((prompt, i) => {
        const cache = model.createCache();
        model.forward(prompt, cache).dispose();
        const logits = model.forward(next[i], cache, { logits: 'last' });
        const values = logits.readFloat32Sync();
        logits.dispose();
        cache.dispose();
        return values;
      });
      const caches = prompts.map(() => model.createCache());
      model.forwardBatch(prompts.map((prompt, i) => ({ ids: prompt, cache: caches[i] }))).dispose();
      const batched = model.forwardBatch(caches.map((cache, i) => ({ ids: next[i], cache })), { logits: 'last' });
      const values = batched.readFloat32Sync();
      alone.forEach((a, i) => assertClose(values.subarray(i * vocab, (i + 1) * vocab), a, 1e-6, `request ${i}`));
      batched.dispose();
      for (const cache of caches) cache.dispose();
    } finally {
      model.dispose();
    }
  });

  it("loads experts split across shards (and a router's in another shard) to the same logits", async () => {
    const dir = join(TORCH_REFERENCE, 'mixtral-experts');
    const ref = readReference(dir);
    const files = filesOf(dir);
    const file = parseSafetensors(files['model.safetensors'], 'model.safetensors');
    // Shards by name parity: each stack's matrices arrive in both.
    const names = [...file.tensors.keys()].sort();
    const weightMap: Record<string, string> = {};
    const shards: Record<string, Parameters<typeof serializeSafetensors>[0]> = {};
    names.forEach((name, i) => {
      const shard = `model-0000${(i % 2) + 1}-of-00002.safetensors`;
      const entry = file.tensors.get(name)!;
      (shards[shard] ??= {})[name] = { dtype: 'F32', shape: entry.shape, data: readFloat32(file, entry) };
      weightMap[name] = shard;
    });
    const sharded: Record<string, Uint8Array> = { ...files };
    delete sharded['model.safetensors'];
    for (const [shard, tensors] of Object.entries(shards)) sharded[shard] = serializeSafetensors(tensors);
    sharded['model.safetensors.index.json'] = new TextEncoder().encode(JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    const model = await loadModel({ files: sharded });
    const cache = model.createCache();
    try {
      const logits = model.forward(Int32Array.from(ref.ids), cache);
      assertClose(logits.readFloat32Sync(), rows(ref.logits, 0, ref.ids.length), 1e-5, 'sharded Mixtral');
    } finally {
      cache.dispose();
      model.dispose();
    }
  });

  it('refuses a checkpoint missing an expert, or with one expert in another dtype, naming the tensor', async () => {
    const dir = join(TORCH_REFERENCE, 'olmoe-experts');
    const files = filesOf(dir);
    const file = parseSafetensors(files['model.safetensors'], 'model.safetensors');
    const rewrite = (edit: (name: string, tensors: Parameters<typeof serializeSafetensors>[0]) => void) => {
      const tensors: Parameters<typeof serializeSafetensors>[0] = {};
      for (const [name, entry] of file.tensors) {
        tensors[name] = { dtype: 'F32', shape: entry.shape, data: readFloat32(file, entry) };
        edit(name, tensors);
      }
      return { files: { ...files, 'model.safetensors': serializeSafetensors(tensors) } };
    };
    const target = 'model.layers.1.mlp.experts.5.down_proj.weight';
    await expectKvkitErrorAsync(loadModel(rewrite((name, t) => name === target && delete t[name])), 'CORRUPT_MODEL_FILE', /"model\.layers\.1\.mlp\.experts\.5\.down_proj\.weight" is missing/);
    const halfOne = rewrite((name, t) => {
      if (name !== target) return;
      const values = t[name].data as Float32Array;
      t[name] = { dtype: 'F64', shape: t[name].shape, data: Float64Array.from(values) };
    });
    await expectKvkitErrorAsync(loadModel(halfOne), 'CORRUPT_MODEL_FILE', /experts\.5\.down_proj\.weight" is F64 but the other matrices of model\.layers\.1\.mlp\.experts\.\*\.down_proj are F32/);
  });
});
