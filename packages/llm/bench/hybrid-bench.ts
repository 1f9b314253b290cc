/**
 * @kvkit/llm hybrid-model benchmark (not a test), random f32 weights, measured in the same run on
 * the CPU next to a model of the same shape whose mixers all attend: weights, resident cache bytes,
 * prefill tokens/s and decode ms/token at a short and a long context.
 *
 * - `--family lfm2` (default): an LFM2-350M-shaped model (16 layers of hidden 1024, attention on 6
 *   of them, gated short convolutions of 3 taps on the other 10, MLP 4608) beside the Llama of its
 *   shape. The hybrid's cache holds 6 layers of K/V plus a few rows of convolution state.
 * - `--family nemotron_h`: a Nemotron-H-shaped model (16 one-block layers of hidden 1024: 7 Mamba-2
 *   mixers of 32 heads × 64 with 8 groups of d_state 128, 2 attention layers, 7 ReLU² MLPs of 4096)
 *   beside the same model with attention in place of every Mamba mixer. The hybrid's cache holds 2
 *   layers of K/V plus each mixer's 1 MiB of scan state.
 *
 * - `--family qwen3_5`: a Qwen3.5-shaped model (16 layers of hidden 1024: Gated DeltaNet on 12, 4 key
 *   heads of 128 read by 8 value heads of 128, gated full attention on every fourth, SwiGLU MLP 4608)
 *   beside the same model with gated attention on every layer. The hybrid's cache holds 4 layers of
 *   K/V plus each DeltaNet layer's 512 KiB of f32 state and its convolution rows.
 *
 * - `--family jamba`: a Jamba-shaped model (16 layers of hidden 1024: Mamba-1 mixers of d_inner 2048 and
 *   d_state 16 on 14, attention on every eighth from layer 4, SwiGLU MLP 4608, no experts) beside the
 *   same model with attention on every layer. The hybrid's cache holds 2 layers of K/V plus each
 *   mixer's 128 KiB of scan state and its convolution rows.
 *
 *   npm run bench:hybrid -w @kvkit/llm     (--family lfm2|nemotron_h|qwen3_5|jamba --contexts 64,2048 --tokens N --rounds N --vocab N)
 */
import { parseArgs } from 'node:util';
import { createRng } from '@kvkit/tensor-core';
import { type LlamaModel, loadModel, type SafetensorsInput, serializeSafetensors } from '../src/index.js';

const { values } = parseArgs({
  options: {
    contexts: { type: 'string', default: '64,2048' },
    tokens: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '5' },
    vocab: { type: 'string', default: '4096' },
    family: { type: 'string', default: 'lfm2' },
  },
});
const FAMILIES = ['lfm2', 'nemotron_h', 'qwen3_5', 'jamba'];
if (!FAMILIES.includes(values.family)) throw new Error(`--family must be one of ${FAMILIES.join(', ')}, got ${values.family}`);
const CONTEXTS = values.contexts.split(',').map(Number);
const TOKENS = Number(values.tokens);
const ROUNDS = Number(values.rounds);
const VOCAB = Number(values.vocab);
const [HIDDEN, LAYERS, HEADS, KV_HEADS, FF, TAPS] = [1024, 16, 16, 8, 4608, 3];
const ATTENTION = [2, 5, 8, 10, 12, 14];
const HEAD_DIM = HIDDEN / HEADS;
// The Nemotron-H-shaped model's blocks (M: Mamba-2, *: attention, -: ReLU² MLP) and sizes.
const NEMOTRON_PATTERN = 'M-M-M-M*-M-M-M*-';
const [MAMBA_HEADS, MAMBA_HEAD_DIM, MAMBA_GROUPS, D_STATE, CONV_TAPS, RELU2_FF] = [32, 64, 8, 128, 4, 4096];

/**
 * A random f32 checkpoint being written (`put`: values of `scale` around `offset`; `matrix`: a
 * projection at unit gain; `constant`: a vector of one value) and the model loaded from it with its
 * config.json (`load`), all in memory.
 */
function randomCheckpoint(seed: number) {
  const rng = createRng(seed);
  const tensors: Record<string, SafetensorsInput> = {};
  const put = (name: string, shape: number[], scale: number, offset = 0) => {
    const size = shape.reduce((a, b) => a * b, 1);
    tensors[name] = { dtype: 'F32', shape, data: Float32Array.from({ length: size }, () => offset + rng.normal() * scale) };
  };
  return {
    put,
    matrix: (name: string, rows: number, cols: number) => put(name, [rows, cols], cols ** -0.5),
    constant: (name: string, size: number, value: number) => (tensors[name] = { dtype: 'F32', shape: [size], data: new Float32Array(size).fill(value) }),
    load: (config: Record<string, unknown>): Promise<LlamaModel> =>
      loadModel({ files: { 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'model.safetensors': serializeSafetensors(tensors) } }, { tokenizer: false }),
  };
}

/** LFM2's names (`hybrid`) or a Llama's, every layer attending, as an in-memory HF directory. */
async function buildModel(hybrid: boolean): Promise<LlamaModel> {
  const { put, matrix, constant, load } = randomCheckpoint(13);
  const ones = (name: string, size = HIDDEN) => constant(name, size, 1);
  matrix('model.embed_tokens.weight', VOCAB, HIDDEN);
  matrix('lm_head.weight', VOCAB, HIDDEN);
  ones(hybrid ? 'model.embedding_norm.weight' : 'model.norm.weight');
  for (let i = 0; i < LAYERS; i++) {
    const p = `model.layers.${i}`;
    const [attention, mlp] = hybrid ? ['self_attn', 'feed_forward'] : ['self_attn', 'mlp'];
    ones(`${p}.${hybrid ? 'operator_norm' : 'input_layernorm'}.weight`);
    ones(`${p}.${hybrid ? 'ffn_norm' : 'post_attention_layernorm'}.weight`);
    if (hybrid && !ATTENTION.includes(i)) {
      matrix(`${p}.conv.in_proj.weight`, 3 * HIDDEN, HIDDEN);
      put(`${p}.conv.conv.weight`, [HIDDEN, 1, TAPS], TAPS ** -0.5);
      matrix(`${p}.conv.out_proj.weight`, HIDDEN, HIDDEN);
    } else {
      matrix(`${p}.${attention}.q_proj.weight`, HIDDEN, HIDDEN);
      matrix(`${p}.${attention}.k_proj.weight`, KV_HEADS * HEAD_DIM, HIDDEN);
      matrix(`${p}.${attention}.v_proj.weight`, KV_HEADS * HEAD_DIM, HIDDEN);
      matrix(`${p}.${attention}.${hybrid ? 'out_proj' : 'o_proj'}.weight`, HIDDEN, HIDDEN);
      if (hybrid) {
        ones(`${p}.self_attn.q_layernorm.weight`, HEAD_DIM);
        ones(`${p}.self_attn.k_layernorm.weight`, HEAD_DIM);
      }
    }
    const [gate, up, down] = hybrid ? ['w1', 'w3', 'w2'] : ['gate_proj', 'up_proj', 'down_proj'];
    matrix(`${p}.${mlp}.${gate}.weight`, FF, HIDDEN);
    matrix(`${p}.${mlp}.${up}.weight`, FF, HIDDEN);
    matrix(`${p}.${mlp}.${down}.weight`, HIDDEN, FF);
  }
  const common = { hidden_size: HIDDEN, num_hidden_layers: LAYERS, num_attention_heads: HEADS, num_key_value_heads: KV_HEADS, vocab_size: VOCAB, max_position_embeddings: 8192 };
  const config = hybrid
    ? { ...common, model_type: 'lfm2', architectures: ['Lfm2ForCausalLM'], intermediate_size: FF, block_auto_adjust_ff_dim: false, conv_L_cache: TAPS, full_attn_idxs: ATTENTION, norm_eps: 1e-5, rope_theta: 1e6, tie_embedding: false }
    : { ...common, model_type: 'llama', architectures: ['LlamaForCausalLM'], intermediate_size: FF, rms_norm_eps: 1e-5, rope_theta: 1e6, tie_word_embeddings: false };
  return load(config);
}

interface Row {
  context: number;
  cacheBytes: number;
  prefillTokensPerSecond: number;
  decodeMs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * For each model: `context` tokens prefilled into a fresh default cache (timed once); then ROUNDS
 * rounds of TOKENS decode steps, the models taking turns round by round (so a slow minute of the
 * machine falls on both), the median ms per token of each.
 */
function measure(models: readonly LlamaModel[], context: number): Row[] {
  const caches = models.map((model) => model.createCache());
  try {
    const prefill = models.map((model, m) => {
      const start = performance.now();
      model.forward(Int32Array.from({ length: context }, (_, i) => (i * 37) % VOCAB), caches[m], { logits: 'last' }).dispose();
      return context / ((performance.now() - start) / 1000);
    });
    const rounds: number[][] = models.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      models.forEach((model, m) => {
        const begin = performance.now();
        for (let i = 0; i < TOKENS; i++) model.forward(Int32Array.of((i * 11) % VOCAB), caches[m], { logits: 'last' }).dispose();
        rounds[m].push((performance.now() - begin) / TOKENS);
      });
    }
    return models.map((_, m) => ({ context, cacheBytes: caches[m].memory().bytes, prefillTokensPerSecond: prefill[m], decodeMs: median(rounds[m]) }));
  } finally {
    for (const cache of caches) cache.dispose();
  }
}

/** A Nemotron-H of `pattern`'s blocks with random weights, as an in-memory HF directory (the released `backbone.` names). */
async function buildNemotron(pattern: string): Promise<LlamaModel> {
  const { put, matrix, load } = randomCheckpoint(17);
  const inner = MAMBA_HEADS * MAMBA_HEAD_DIM;
  const convDim = inner + 2 * MAMBA_GROUPS * D_STATE;
  matrix('backbone.embeddings.weight', VOCAB, HIDDEN);
  matrix('lm_head.weight', VOCAB, HIDDEN);
  put('backbone.norm_f.weight', [HIDDEN], 0, 1);
  [...pattern].forEach((block, i) => {
    const p = `backbone.layers.${i}`;
    put(`${p}.norm.weight`, [HIDDEN], 0, 1);
    if (block === 'M') {
      matrix(`${p}.mixer.in_proj.weight`, inner + convDim + MAMBA_HEADS, HIDDEN);
      put(`${p}.mixer.conv1d.weight`, [convDim, 1, CONV_TAPS], CONV_TAPS ** -0.5);
      put(`${p}.mixer.conv1d.bias`, [convDim], 0.1);
      put(`${p}.mixer.dt_bias`, [MAMBA_HEADS], 0.3);
      put(`${p}.mixer.A_log`, [MAMBA_HEADS], 0.3);
      put(`${p}.mixer.D`, [MAMBA_HEADS], 0.1, 1);
      put(`${p}.mixer.norm.weight`, [inner], 0, 1);
      matrix(`${p}.mixer.out_proj.weight`, HIDDEN, inner);
    } else if (block === '*') {
      matrix(`${p}.mixer.q_proj.weight`, HIDDEN, HIDDEN);
      matrix(`${p}.mixer.k_proj.weight`, KV_HEADS * HEAD_DIM, HIDDEN);
      matrix(`${p}.mixer.v_proj.weight`, KV_HEADS * HEAD_DIM, HIDDEN);
      matrix(`${p}.mixer.o_proj.weight`, HIDDEN, HIDDEN);
    } else {
      matrix(`${p}.mixer.up_proj.weight`, RELU2_FF, HIDDEN);
      matrix(`${p}.mixer.down_proj.weight`, HIDDEN, RELU2_FF);
    }
  });
  const config = {
    model_type: 'nemotron_h',
    architectures: ['NemotronHForCausalLM'],
    hidden_size: HIDDEN,
    hybrid_override_pattern: pattern,
    num_attention_heads: HEADS,
    num_key_value_heads: KV_HEADS,
    head_dim: HEAD_DIM,
    intermediate_size: RELU2_FF,
    mamba_num_heads: MAMBA_HEADS,
    mamba_head_dim: MAMBA_HEAD_DIM,
    n_groups: MAMBA_GROUPS,
    ssm_state_size: D_STATE,
    conv_kernel: CONV_TAPS,
    vocab_size: VOCAB,
    max_position_embeddings: 8192,
  };
  return load(config);
}

// The Qwen3.5-shaped model's Gated DeltaNet sizes: key heads, value heads, their width, the convolution's taps.
const [DN_KEY_HEADS, DN_VALUE_HEADS, DN_HEAD_DIM, DN_TAPS] = [4, 8, 128, 4];

/** A Qwen3.5 text model with `kinds` ('linear_attention' or 'full_attention' per layer) and random weights, as an in-memory HF directory. */
async function buildQwen35(kinds: readonly string[]): Promise<LlamaModel> {
  const { put, matrix, load } = randomCheckpoint(19);
  // Zero-centred norms (scale 1 + weight): zeros.
  const norm = (name: string, size = HIDDEN) => put(name, [size], 0);
  const [keyDim, valueDim] = [DN_KEY_HEADS * DN_HEAD_DIM, DN_VALUE_HEADS * DN_HEAD_DIM];
  matrix('model.embed_tokens.weight', VOCAB, HIDDEN);
  matrix('lm_head.weight', VOCAB, HIDDEN);
  norm('model.norm.weight');
  kinds.forEach((kind, i) => {
    const p = `model.layers.${i}`;
    norm(`${p}.input_layernorm.weight`);
    norm(`${p}.post_attention_layernorm.weight`);
    if (kind === 'linear_attention') {
      matrix(`${p}.linear_attn.in_proj_qkv.weight`, 2 * keyDim + valueDim, HIDDEN);
      matrix(`${p}.linear_attn.in_proj_z.weight`, valueDim, HIDDEN);
      matrix(`${p}.linear_attn.in_proj_b.weight`, DN_VALUE_HEADS, HIDDEN);
      matrix(`${p}.linear_attn.in_proj_a.weight`, DN_VALUE_HEADS, HIDDEN);
      put(`${p}.linear_attn.conv1d.weight`, [2 * keyDim + valueDim, 1, DN_TAPS], DN_TAPS ** -0.5);
      put(`${p}.linear_attn.dt_bias`, [DN_VALUE_HEADS], 0.3);
      put(`${p}.linear_attn.A_log`, [DN_VALUE_HEADS], 0.3);
      put(`${p}.linear_attn.norm.weight`, [DN_HEAD_DIM], 0, 1);
      matrix(`${p}.linear_attn.out_proj.weight`, HIDDEN, valueDim);
    } else {
      matrix(`${p}.self_attn.q_proj.weight`, 2 * HIDDEN, HIDDEN);
      matrix(`${p}.self_attn.k_proj.weight`, KV_HEADS * HEAD_DIM, HIDDEN);
      matrix(`${p}.self_attn.v_proj.weight`, KV_HEADS * HEAD_DIM, HIDDEN);
      matrix(`${p}.self_attn.o_proj.weight`, HIDDEN, HIDDEN);
      norm(`${p}.self_attn.q_norm.weight`, HEAD_DIM);
      norm(`${p}.self_attn.k_norm.weight`, HEAD_DIM);
    }
    matrix(`${p}.mlp.gate_proj.weight`, FF, HIDDEN);
    matrix(`${p}.mlp.up_proj.weight`, FF, HIDDEN);
    matrix(`${p}.mlp.down_proj.weight`, HIDDEN, FF);
  });
  const config = {
    model_type: 'qwen3_5_text',
    architectures: ['Qwen3_5ForCausalLM'],
    hidden_size: HIDDEN,
    intermediate_size: FF,
    num_hidden_layers: kinds.length,
    num_attention_heads: HEADS,
    num_key_value_heads: KV_HEADS,
    head_dim: HEAD_DIM,
    layer_types: kinds,
    linear_num_key_heads: DN_KEY_HEADS,
    linear_num_value_heads: DN_VALUE_HEADS,
    linear_key_head_dim: DN_HEAD_DIM,
    linear_value_head_dim: DN_HEAD_DIM,
    linear_conv_kernel_dim: DN_TAPS,
    rope_parameters: { rope_type: 'default', rope_theta: 1e7, partial_rotary_factor: 0.25 },
    vocab_size: VOCAB,
    max_position_embeddings: 8192,
  };
  return load(config);
}

// The Jamba-shaped model's Mamba-1 sizes: d_inner, d_state, dt_rank, the convolution's taps.
const [M1_INNER, M1_STATE, M1_RANK, M1_TAPS] = [2 * HIDDEN, 16, HIDDEN / 16, 4];

/** A Jamba with attention every `attnPeriod` layers from `attnOffset` (Mamba-1 mixers elsewhere), no experts, random weights, as an in-memory HF directory. */
async function buildJamba(attnPeriod: number, attnOffset: number): Promise<LlamaModel> {
  const { put, matrix, constant, load } = randomCheckpoint(23);
  const ones = (name: string, size = HIDDEN) => constant(name, size, 1);
  matrix('model.embed_tokens.weight', VOCAB, HIDDEN);
  matrix('lm_head.weight', VOCAB, HIDDEN);
  ones('model.final_layernorm.weight');
  for (let i = 0; i < LAYERS; i++) {
    const p = `model.layers.${i}`;
    ones(`${p}.input_layernorm.weight`);
    ones(`${p}.pre_ff_layernorm.weight`);
    if (i % attnPeriod === attnOffset) {
      matrix(`${p}.self_attn.q_proj.weight`, HIDDEN, HIDDEN);
      matrix(`${p}.self_attn.k_proj.weight`, KV_HEADS * HEAD_DIM, HIDDEN);
      matrix(`${p}.self_attn.v_proj.weight`, KV_HEADS * HEAD_DIM, HIDDEN);
      matrix(`${p}.self_attn.o_proj.weight`, HIDDEN, HIDDEN);
    } else {
      matrix(`${p}.mamba.in_proj.weight`, 2 * M1_INNER, HIDDEN);
      put(`${p}.mamba.conv1d.weight`, [M1_INNER, 1, M1_TAPS], M1_TAPS ** -0.5);
      put(`${p}.mamba.conv1d.bias`, [M1_INNER], 0.1);
      matrix(`${p}.mamba.x_proj.weight`, M1_RANK + 2 * M1_STATE, M1_INNER);
      ones(`${p}.mamba.dt_layernorm.weight`, M1_RANK);
      ones(`${p}.mamba.b_layernorm.weight`, M1_STATE);
      ones(`${p}.mamba.c_layernorm.weight`, M1_STATE);
      put(`${p}.mamba.dt_proj.weight`, [M1_INNER, M1_RANK], 0.5 * M1_RANK ** -0.5);
      put(`${p}.mamba.dt_proj.bias`, [M1_INNER], 0.3, -2.5);
      put(`${p}.mamba.A_log`, [M1_INNER, M1_STATE], 0.3);
      put(`${p}.mamba.D`, [M1_INNER], 0.1, 1);
      matrix(`${p}.mamba.out_proj.weight`, HIDDEN, M1_INNER);
    }
    matrix(`${p}.feed_forward.gate_proj.weight`, FF, HIDDEN);
    matrix(`${p}.feed_forward.up_proj.weight`, FF, HIDDEN);
    matrix(`${p}.feed_forward.down_proj.weight`, HIDDEN, FF);
  }
  const config = {
    model_type: 'jamba',
    architectures: ['JambaForCausalLM'],
    hidden_size: HIDDEN,
    intermediate_size: FF,
    num_hidden_layers: LAYERS,
    num_attention_heads: HEADS,
    num_key_value_heads: KV_HEADS,
    attn_layer_period: attnPeriod,
    attn_layer_offset: attnOffset,
    num_experts: 1,
    mamba_d_state: M1_STATE,
    mamba_d_conv: M1_TAPS,
    mamba_expand: M1_INNER / HIDDEN,
    mamba_dt_rank: M1_RANK,
    vocab_size: VOCAB,
    max_position_embeddings: 8192,
  };
  return load(config);
}

const nemotron = values.family === 'nemotron_h';
const qwen35 = values.family === 'qwen3_5';
const jamba = values.family === 'jamba';
const attentionEverywhere = NEMOTRON_PATTERN.replaceAll('M', '*');
const qwenKinds = Array.from({ length: LAYERS }, (_, i) => (i % 4 === 3 ? 'full_attention' : 'linear_attention'));
const labels = nemotron
  ? [`Nemotron-H-shaped (${NEMOTRON_PATTERN}): Mamba-2 on 7 of 16 layers, attention on 2`, `the same with attention in place of each Mamba mixer (${attentionEverywhere})`]
  : qwen35
    ? ['Qwen3.5-shaped: Gated DeltaNet on 12 of 16 layers, gated attention on every fourth', 'the same with gated attention on every layer']
    : jamba
      ? ['Jamba-shaped: Mamba-1 on 14 of 16 layers, attention on layers 4 and 12', 'the same with attention on every layer']
      : [`LFM2-shaped: attention on ${ATTENTION.length} of ${LAYERS} layers, convolutions of ${TAPS} taps on the rest`, 'Llama of the same shape: attention on every layer'];
const models = nemotron
  ? [await buildNemotron(NEMOTRON_PATTERN), await buildNemotron(attentionEverywhere)]
  : qwen35
    ? [await buildQwen35(qwenKinds), await buildQwen35(qwenKinds.map(() => 'full_attention'))]
    : jamba
      ? [await buildJamba(8, 4), await buildJamba(1, 0)]
      : [await buildModel(true), await buildModel(false)];
// A short prefill and a few decode steps first, so that no timing includes V8 compiling the path.
for (const model of models) {
  const cache = model.createCache();
  model.forward(Int32Array.from({ length: 16 }, (_, i) => i), cache).dispose();
  for (let i = 0; i < 3; i++) model.forward(Int32Array.of(i), cache, { logits: 'last' }).dispose();
  cache.dispose();
}
const rows = CONTEXTS.map((context) => measure(models, context));
const shape = nemotron
  ? `ReLU² MLP ${RELU2_FF}, Mamba-2 ${MAMBA_HEADS}×${MAMBA_HEAD_DIM}, ${MAMBA_GROUPS} groups of d_state ${D_STATE}`
  : qwen35
    ? `MLP ${FF}, Gated DeltaNet ${DN_KEY_HEADS} key / ${DN_VALUE_HEADS} value heads of ${DN_HEAD_DIM}`
    : jamba
      ? `MLP ${FF}, Mamba-1 d_inner ${M1_INNER}, d_state ${M1_STATE}, dt_rank ${M1_RANK}`
      : `MLP ${FF}`;
console.log(`hidden ${HIDDEN}, ${LAYERS} layers, ${HEADS}/${KV_HEADS} heads of ${HEAD_DIM}, ${shape}, vocab ${VOCAB}, f32 weights, CPU, default (paged f32) cache; decode: ${ROUNDS} rounds of ${TOKENS} tokens after the prefill, the models alternating (median)`);
console.log('| model | weights | context | cache bytes | prefill tokens/s | decode ms/token |');
console.log('|---|---:|---:|---:|---:|---:|');
models.forEach((model, m) => {
  for (const contextRows of rows) {
    const row = contextRows[m];
    console.log(`| ${labels[m]} | ${(model.weightBytes / 2 ** 20).toFixed(0)} MiB | ${row.context} | ${(row.cacheBytes / 2 ** 20).toFixed(2)} MiB | ${row.prefillTokensPerSecond.toFixed(0)} | ${row.decodeMs.toFixed(1)} |`);
  }
});
for (const [hybrid, dense] of rows) {
  const speed = dense.decodeMs / hybrid.decodeMs;
  console.log(`context ${hybrid.context}: the hybrid decodes at ${speed.toFixed(2)}× the dense model's speed, holding ${((100 * hybrid.cacheBytes) / dense.cacheBytes).toFixed(0)}% of its cache bytes`);
}
for (const model of models) model.dispose();
