/**
 * @kvkit/llm mixture-of-experts benchmark (not a test): decode ms/token of a Mixtral-shaped model
 * (8 experts, 2 per token) with random weights, next to two dense Llamas of its shape measured in
 * the same run: one whose MLP has the MoE's active parameters (the same bytes read per token: the
 * speed routing can reach) and one with its total parameters (what computing every expert would
 * cost). Each model decodes `--tokens` tokens after a 64-token prefill, median of three rounds, and
 * prefills 256 tokens into a fresh cache (median of three).
 *
 *   npm run bench:moe -w @kvkit/llm     (--hidden N --expert-size N --layers N --tokens N)
 */
import { parseArgs } from 'node:util';
import { createRng } from '@kvkit/tensor-core';
import { type LlamaModel, loadModel, type SafetensorsInput, serializeSafetensors } from '../src/index.js';

const { values } = parseArgs({
  options: {
    hidden: { type: 'string', default: '1024' },
    'expert-size': { type: 'string', default: '2816' },
    layers: { type: 'string', default: '4' },
    tokens: { type: 'string', default: '16' },
  },
});
const HIDDEN = Number(values.hidden);
const EXPERT = Number(values['expert-size']);
const LAYERS = Number(values.layers);
const TOKENS = Number(values.tokens);
const [EXPERTS, PER_TOKEN, HEADS, KV_HEADS, VOCAB] = [8, 2, 16, 4, 4096];

/** A model of the bench's shape as an in-memory HF directory: Mixtral's names with `moe`, else a Llama whose MLP is `ff` wide. */
async function buildModel(moe: boolean, ff: number): Promise<LlamaModel> {
  const rng = createRng(11);
  const headDim = HIDDEN / HEADS;
  const tensors: Record<string, SafetensorsInput> = {};
  const matrix = (name: string, rows: number, cols: number) => {
    tensors[name] = { dtype: 'F32', shape: [rows, cols], data: Float32Array.from({ length: rows * cols }, () => rng.normal() * cols ** -0.5) };
  };
  const ones = (name: string) => (tensors[name] = { dtype: 'F32', shape: [HIDDEN], data: new Float32Array(HIDDEN).fill(1) });
  matrix('model.embed_tokens.weight', VOCAB, HIDDEN);
  matrix('lm_head.weight', VOCAB, HIDDEN);
  ones('model.norm.weight');
  for (let i = 0; i < LAYERS; i++) {
    const p = `model.layers.${i}`;
    ones(`${p}.input_layernorm.weight`);
    ones(`${p}.post_attention_layernorm.weight`);
    matrix(`${p}.self_attn.q_proj.weight`, HIDDEN, HIDDEN);
    matrix(`${p}.self_attn.k_proj.weight`, KV_HEADS * headDim, HIDDEN);
    matrix(`${p}.self_attn.v_proj.weight`, KV_HEADS * headDim, HIDDEN);
    matrix(`${p}.self_attn.o_proj.weight`, HIDDEN, HIDDEN);
    if (!moe) {
      matrix(`${p}.mlp.gate_proj.weight`, ff, HIDDEN);
      matrix(`${p}.mlp.up_proj.weight`, ff, HIDDEN);
      matrix(`${p}.mlp.down_proj.weight`, HIDDEN, ff);
      continue;
    }
    matrix(`${p}.block_sparse_moe.gate.weight`, EXPERTS, HIDDEN);
    for (let e = 0; e < EXPERTS; e++) {
      matrix(`${p}.block_sparse_moe.experts.${e}.w1.weight`, ff, HIDDEN);
      matrix(`${p}.block_sparse_moe.experts.${e}.w3.weight`, ff, HIDDEN);
      matrix(`${p}.block_sparse_moe.experts.${e}.w2.weight`, HIDDEN, ff);
    }
  }
  const config = {
    ...(moe
      ? { model_type: 'mixtral', architectures: ['MixtralForCausalLM'], num_local_experts: EXPERTS, num_experts_per_tok: PER_TOKEN }
      : { model_type: 'llama', architectures: ['LlamaForCausalLM'] }),
    hidden_size: HIDDEN,
    intermediate_size: ff,
    num_hidden_layers: LAYERS,
    num_attention_heads: HEADS,
    num_key_value_heads: KV_HEADS,
    vocab_size: VOCAB,
    max_position_embeddings: 4096,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: false,
  };
  const files = { 'config.json': new TextEncoder().encode(JSON.stringify(config)), 'model.safetensors': serializeSafetensors(tensors) };
  return loadModel({ files }, { tokenizer: false });
}

/** Median ms of a 256-token prefill into a fresh cache, over three rounds. */
function prefillMs(model: LlamaModel): number {
  const prompt = Int32Array.from({ length: 256 }, (_, i) => (i * 53) % VOCAB);
  const rounds = [0, 1, 2].map(() => {
    const cache = model.createCache();
    const start = performance.now();
    model.forward(prompt, cache, { logits: 'last' }).dispose();
    const ms = performance.now() - start;
    cache.dispose();
    return ms;
  });
  return rounds.sort((a, b) => a - b)[1];
}

/** Median ms per decoded token over three rounds, after a 64-token prefill. */
function decodeMs(model: LlamaModel): number {
  const cache = model.createCache();
  try {
    model.forward(Int32Array.from({ length: 64 }, (_, i) => (i * 37) % VOCAB), cache).dispose();
    const rounds = [0, 1, 2].map(() => {
      const start = performance.now();
      for (let i = 0; i < TOKENS; i++) model.forward(Int32Array.of((i * 11) % VOCAB), cache, { logits: 'last' }).dispose();
      return (performance.now() - start) / TOKENS;
    });
    return rounds.sort((a, b) => a - b)[1];
  } finally {
    cache.dispose();
  }
}

/** Bytes of matrices a decode step reads: attention, LM head, and `mlpRows` rows of width HIDDEN per layer. */
const bytesPerToken = (mlpRows: number) => 4 * (LAYERS * (2 * HIDDEN * HIDDEN + 2 * KV_HEADS * (HIDDEN / HEADS) * HIDDEN + mlpRows * HIDDEN) + VOCAB * HIDDEN);

const measured: { label: string; mib: number; ms: number; gbs: number; prefill: number }[] = [];
for (const [label, moe, ff, mlpRows] of [
  [`MoE: ${EXPERTS} experts of ${EXPERT}, ${PER_TOKEN} per token`, true, EXPERT, 3 * PER_TOKEN * EXPERT],
  [`dense, the MoE's active MLP (${PER_TOKEN * EXPERT})`, false, PER_TOKEN * EXPERT, 3 * PER_TOKEN * EXPERT],
  [`dense, the MoE's total MLP (${EXPERTS * EXPERT})`, false, EXPERTS * EXPERT, 3 * EXPERTS * EXPERT],
] as const) {
  const model = await buildModel(moe, ff);
  try {
    const ms = decodeMs(model);
    measured.push({ label, mib: model.weightBytes / 2 ** 20, ms, gbs: bytesPerToken(mlpRows) / ms / 1e6, prefill: 256 / (prefillMs(model) / 1000) });
  } finally {
    model.dispose();
  }
}
const [routed, sameActive] = measured;
console.log(`hidden ${HIDDEN}, ${LAYERS} layers, ${HEADS}/${KV_HEADS} heads, vocab ${VOCAB}, f32 weights, CPU; decode after 64 tokens, ${TOKENS} tokens × 3 rounds (median); prefill of 256 tokens × 3 (median)`);
console.log('| model | weights | decode ms/token | GB/s of weights read per token | prefill tokens/s |');
console.log('|---|---:|---:|---:|---:|');
for (const m of measured) console.log(`| ${m.label} | ${m.mib.toFixed(0)} MiB | ${m.ms.toFixed(2)} | ${m.gbs.toFixed(1)} | ${m.prefill.toFixed(0)} |`);
console.log(`MoE decode at ${((100 * sameActive.ms) / routed.ms).toFixed(0)}% of the speed of the dense model reading the same bytes`);
