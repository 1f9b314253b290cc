import type { Tensor } from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import { MODEL_FAMILIES, type ModelFamily, QWEN_EXPERT_NAMES } from './model-families.js';
import { type MoeConfig, routesLayer } from './moe-config.js';
import type { MambaConfig } from './mamba-config.js';
import type { XieluParameters } from './xielu.js';
import type { DeltaNetWeights, LatentAttentionWeights, LayerWeights, LinearWeights, LlamaWeights, Mamba1Weights, MambaWeights, MlpWeights, MoeWeights, ShortConvWeights } from './weights.js';

/** One tensor of the checkpoint as the config implies it, and where its loaded rows go. */
export interface ExpectedTensor {
  name: string;
  shape: number[];
  /**
   * Where the loaded rows go: one part for the whole tensor, or, for a matrix the checkpoint stores
   * fused, row ranges loaded as matrices of their own (Phi-3's qkv_proj and gate_up_proj: one
   * consecutive range each; GPT-NeoX's query_key_value: one range per head for each of q, k, v).
   */
  parts: TensorPart[];
  /** Added to every value at load, in f32 (Gemma's RMSNorm weights are stored as scale − 1). */
  offset?: number;
  /**
   * The checkpoint stores the matrix transposed, input-major (GPT-2's Conv1D: [in, out]; each
   * matrix of gpt-oss's dequantized expert stacks: [experts, in, out]); `shape` and the parts'
   * rows are those of the [out, in] matrices the runtime multiplies by.
   */
  transposed?: true;
  /**
   * The checkpoint stores it in MXFP4 (gpt-oss's experts as released): `name` holds the blocks, U8
   * [...rows, cols / 32, 16], and this tensor the scales, U8 [...rows, cols / 32]; decoded to bf16 at load.
   */
  mxfp4Scales?: string;
  /**
   * The entries along axis 1 come in interleaved pairs (gpt-oss's gate_up_proj and its bias: each
   * expert's gate and up rows alternate); loaded as the even ones, then the odd ones.
   */
  interleavedRows?: true;
  /** Values the runtime keeps on the host, handed over as f32 instead of loaded as a tensor (`parts` empty). */
  host?: (values: Float32Array) => void;
  /** Not in the checkpoint: ones of `shape`, the weight of a norm without parameters (OLMo 1's LayerNorms). */
  ones?: true;
}

/** Rows of a checkpoint tensor loaded as a tensor of their own, or placed in a stack of matrices at row `row`. */
export type TensorPart = { ranges: RowRange[]; assign: (t: Tensor) => void } | { ranges: RowRange[]; stack: MatrixStack; row: number };

/**
 * Matrices the checkpoint stores one by one but the runtime keeps as one tensor [count, rows, cols]
 * (a mixture's experts, for `indexedMatmul`): filled as its parts arrive, then loaded once.
 */
export interface MatrixStack {
  /** How messages name it. */
  name: string;
  shape: [count: number, rows: number, cols: number];
  assign: (t: Tensor) => void;
}

/** Rows [start, start + count) of a checkpoint tensor (elements, for a vector). */
export type RowRange = [start: number, count: number];

/** The weights being filled in as the tensors load. */
export type WeightTarget = Partial<LlamaWeights> & { layers: Partial<LayerWeights>[] };

/** Rows a part takes. */
export const rowsOf = (part: ExpectedTensor['parts'][number]): number => part.ranges.reduce((sum, [, count]) => sum + count, 0);

/** A checkpoint tensor loaded into `target`, a stack of matrices, from its row `row` on. */
const into = (name: string, shape: number[], target: MatrixStack, row: number): ExpectedTensor => ({ name, shape, parts: [{ ranges: [[0, shape[0]]], stack: target, row }] });

/** A tensor loaded whole into `assign`. */
const whole = (name: string, shape: number[], assign: (t: Tensor) => void, offset?: number): ExpectedTensor => ({
  name,
  shape,
  parts: [{ ranges: [[0, shape[0]]], assign }],
  ...(offset ? { offset } : {}),
});

/** A norm's weight of ones the checkpoint does not hold (a norm without parameters): made at load, never read. */
const onesNorm = (name: string, size: number, assign: (t: Tensor) => void): ExpectedTensor => ({ ...whole(name, [size], assign), ones: true });

/** Whether the checkpoint holds a tensor of this name (under any name the loader reads it by). */
export type StoredNames = (name: string) => boolean;

/**
 * Every tensor the config implies, with its shape, in the naming of the model's family; where a
 * family's checkpoints come in two layouts (a mixture's experts one by one as released, or fused
 * as transformers 5 saves them), the one `stored` holds.
 */
export function expectedTensors(config: LlamaConfig, target: WeightTarget, stored: StoredNames = () => false): ExpectedTensor[] {
  if (config.modelType === 'gpt_neox') return gptNeoxTensors(config, target);
  if (config.modelType === 'gpt2') return gpt2Tensors(config, target);
  if (config.shortConv) return lfm2Tensors(config, target, stored);
  if (config.singleBlocks) return nemotronHTensors(config, target, stored);
  if (config.falconH1 || config.modelType === 'bamba' || config.modelType === 'jamba') return bambaLayoutTensors(config, target, stored);
  return config.modelType === 'phi' ? phiTensors(config, target) : llamaTensors(config, target, stored);
}

/** The LM head: lm_head.weight unless the embeddings are tied, and its bias where the family has one (Phi's; Phi-3.5-MoE's with lm_head_bias). */
function lmHeadTensors(list: ExpectedTensor[], config: LlamaConfig, target: WeightTarget): void {
  if (!config.tieWordEmbeddings) list.push(whole('lm_head.weight', [config.vocabSize, config.hiddenSize], (t) => (target.lmHead = t)));
  if (config.lmHeadBias) list.push(whole('lm_head.bias', [config.vocabSize], (t) => (target.lmHeadBias = t)));
}

/** A linear layer's weight (and bias) under `prefix`, filled into a new LinearWeights handed to `set`. */
function linearTensors(list: ExpectedTensor[], prefix: string, out: number, inDim: number, bias: boolean, set: (w: LinearWeights) => void): void {
  const weights: LinearWeights = {} as LinearWeights;
  set(weights);
  list.push(whole(`${prefix}.weight`, [out, inDim], (t) => (weights.weight = t)));
  if (bias) list.push(whole(`${prefix}.bias`, [out], (t) => (weights.bias = t)));
}

/**
 * A norm's weight under `prefix` (plus the family's offset: Gemma's), and its bias where given a
 * place for one and the family's LayerNorms carry biases (GPT-NeoX, Phi, StableLM; not Cohere).
 */
function normTensors(list: ExpectedTensor[], config: LlamaConfig, prefix: string, size: number, setWeight: (t: Tensor) => void, setBias?: (t: Tensor) => void): void {
  if (config.parameterlessNorms) {
    // OLMo 1: a LayerNorm without weight or bias is one with a weight of ones.
    list.push(onesNorm(`${prefix}.weight`, size, setWeight));
    return;
  }
  list.push(whole(`${prefix}.weight`, [size], setWeight, config.normWeightOffset));
  if (setBias && config.normKind === 'layer' && config.normBias) list.push(whole(`${prefix}.bias`, [size], setBias));
}

/**
 * A checkpoint tensor whose rows feed several linear layers: each part's ranges (taken in that
 * order) become `field` (weight or bias) of its layer. The fused and interleaved layouts (Phi-3's
 * qkv_proj, GPT-NeoX's heads, Qwen3-Next's key-head blocks, GPT-2's c_attn…) all load this way.
 */
function splitRows(name: string, shape: number[], field: 'weight' | 'bias', parts: [ranges: RowRange[], weights: LinearWeights][]): ExpectedTensor {
  return { name, shape, parts: parts.map(([ranges, weights]) => ({ ranges, assign: (t: Tensor) => (weights[field] = t) })) };
}

/** Consecutive blocks of `rows` rows each, from row 0: the ranges of a matrix fused by stacking. */
function consecutive(rows: number[]): RowRange[][] {
  let start = 0;
  return rows.map((count) => {
    const ranges: RowRange[] = [[start, count]];
    start += count;
    return ranges;
  });
}

/** A fused matrix whose consecutive row blocks become the weights of several linear layers (no biases: Phi-3, GLM and Granite's shared MLP have none). */
function fused(name: string, inDim: number, layers: [rows: number, weights: LinearWeights][]): ExpectedTensor {
  const blocks = consecutive(layers.map(([rows]) => rows));
  const total = layers.reduce((sum, [rows]) => sum + rows, 0);
  return splitRows(name, [total, inDim], 'weight', layers.map(([, weights], i) => [blocks[i], weights]));
}

/** The norms around the blocks where they sit on the outputs too (Gemma's and OLMo 2's names; GLM-4-0414's). */
const SANDWICH_NORMS = { attentionOutput: 'post_attention_layernorm', beforeMlp: 'pre_feedforward_layernorm', mlpOutput: 'post_feedforward_layernorm' };
const GLM4_SANDWICH_NORMS = { attentionOutput: 'post_self_attn_layernorm', beforeMlp: 'post_attention_layernorm', mlpOutput: 'post_mlp_layernorm' };

/** Names of HF's `LlamaForCausalLM`, shared by Mistral, Qwen2/3, Gemma 2/3, SmolLM3, Granite, OLMo 2/3, StableLM, Cohere, GLM, (fused) Phi-3 and, around their experts, Mixtral, Qwen-MoE, OLMoE and Granite MoE. */
function llamaTensors(config: LlamaConfig, target: WeightTarget, stored: StoredNames): ExpectedTensor[] {
  const { hiddenSize: d, numHeads, numKvHeads, headDim, intermediateSize: ff, vocabSize } = config;
  const list: ExpectedTensor[] = [whole('model.embed_tokens.weight', [vocabSize, d], (t) => (target.embed = t))];
  const linear = (prefix: string, out: number, inDim: number, bias: boolean, set: (w: LinearWeights) => void) => linearTensors(list, prefix, out, inDim, bias, set);
  // The family's own names for its pre-norms and its q/k norms (Apertus's, Hunyuan's), else Llama's.
  const family = MODEL_FAMILIES[config.modelType] as ModelFamily;
  const normNames = family.normNames ?? { beforeAttention: 'input_layernorm', beforeMlp: 'post_attention_layernorm' };
  const qkNormNames = family.qkNormNames ?? { query: 'q_norm', key: 'k_norm' };
  const mlpName = family.mlpName ?? 'mlp';
  for (let i = 0; i < config.numLayers; i++) {
    const layer: Partial<LayerWeights> = {};
    target.layers.push(layer);
    const p = `model.layers.${i}`;
    const bias = config.attentionBias;
    const norm = (prefix: string, size: number, set: (t: Tensor) => void, setBias?: (t: Tensor) => void) => normTensors(list, config, prefix, size, set, setBias);
    if (config.blockNorms !== 'post') norm(`${p}.${normNames.beforeAttention}`, d, (t) => (layer.inputNorm = t), (t) => (layer.inputNormBias = t));
    if (config.mamba?.layers.includes(i)) {
      mambaTensors(list, config, config.mamba, `${p}.mamba`, layer);
    } else if (config.deltaNet?.layers.includes(i)) {
      deltaNetTensors(list, config, `${p}.linear_attn`, layer);
    } else if (config.latentAttention) {
      latentAttentionTensors(list, config, `${p}.self_attn`, layer);
    } else if (config.fusedProjections.qkv) {
      // Phi-3: q, k and v are the rows of one qkv_proj, in that order.
      const [q, k, v] = [{} as LinearWeights, {} as LinearWeights, {} as LinearWeights];
      [layer.q, layer.k, layer.v] = [q, k, v];
      list.push(fused(`${p}.self_attn.qkv_proj.weight`, d, [[numHeads * headDim, q], [numKvHeads * headDim, k], [numKvHeads * headDim, v]]));
    } else {
      if (config.attentionOutputGate) gatedQueryTensors(list, config, `${p}.self_attn.q_proj`, layer);
      else linear(`${p}.self_attn.q_proj`, numHeads * headDim, d, bias.q, (w) => (layer.q = w));
      linear(`${p}.self_attn.k_proj`, numKvHeads * headDim, d, bias.k, (w) => (layer.k = w));
      linear(`${p}.self_attn.v_proj`, numKvHeads * headDim, d, bias.v, (w) => (layer.v = w));
    }
    const attending = !layer.mamba && !layer.deltaNet;
    // MLA's heads give valueDim channels each.
    if (attending) linear(`${p}.self_attn.o_proj`, d, numHeads * (config.latentAttention?.valueDim ?? headDim), bias.o, (w) => (layer.o = w));
    if (attending && config.attentionSinks) list.push(whole(`${p}.self_attn.sinks`, [numHeads], (t) => (layer.sinks = t)));
    if (config.l2QkNorm) {
      // Llama 4: L2 norms without weights (of ones, not in the checkpoint), on its rotating layers only.
      if (attending && !config.noRopeLayers.includes(i)) {
        list.push(onesNorm(`${p}.self_attn.q_norm.weight`, headDim, (t) => (layer.qNorm = t)), onesNorm(`${p}.self_attn.k_norm.weight`, headDim, (t) => (layer.kNorm = t)));
      }
    } else if (config.qkNorm !== 'none' && attending) {
      // Per head (Qwen3, Gemma 3: [headDim]) or over the whole projection (OLMo 2: [heads · headDim]).
      const whole = config.qkNorm === 'projection';
      norm(`${p}.self_attn.${qkNormNames.query}`, whole ? numHeads * headDim : headDim, (t) => (layer.qNorm = t));
      norm(`${p}.self_attn.${qkNormNames.key}`, whole ? numKvHeads * headDim : headDim, (t) => (layer.kNorm = t));
    }
    if (config.blockNorms === 'pre') {
      // A parallel layer (StableLM's use_parallel_residual) feeds its MLP from the input norm: it has no second one.
      if (!config.parallelResidual) norm(`${p}.${normNames.beforeMlp}`, d, (t) => (layer.postAttentionNorm = t), (t) => (layer.postAttentionNormBias = t));
    } else {
      // Gemma and OLMo 2: post_attention_layernorm is on the attention's output; Gemma's norm before the MLP is pre_feedforward_layernorm.
      // GLM-4-0414 names them post_self_attn_layernorm, post_attention_layernorm, post_mlp_layernorm.
      const names = config.modelType === 'glm4' ? GLM4_SANDWICH_NORMS : SANDWICH_NORMS;
      norm(`${p}.${names.attentionOutput}`, d, (t) => (layer.attentionOutputNorm = t));
      if (config.blockNorms === 'sandwich') norm(`${p}.${names.beforeMlp}`, d, (t) => (layer.postAttentionNorm = t));
      norm(`${p}.${names.mlpOutput}`, d, (t) => (layer.mlpOutputNorm = t));
    }
    if (routesLayer(config.moe, i)) {
      expertTensors(list, config, config.moe, p, layer, stored);
    } else if (config.modelType === 'granitemoehybrid') {
      // Granite 4.0-H without experts: the MLP is shared_mlp alone.
      graniteSharedMlpTensors(list, p, d, ff, layer);
    } else if (config.fusedProjections.gateUp) {
      // Phi-3 and GLM: gate and up are the two halves of gate_up_proj's rows.
      const [gate, up] = [{} as LinearWeights, {} as LinearWeights];
      [layer.gate, layer.up] = [gate, up];
      list.push(fused(`${p}.${mlpName}.gate_up_proj.weight`, d, [[ff, gate], [ff, up]]));
    } else if (!config.gatedMlp) {
      // A plain MLP: StarCoder2's c_fc, then c_proj; Arcee's up_proj, then down_proj.
      const [upName, downName] = config.modelType === 'starcoder2' ? ['c_fc', 'c_proj'] : ['up_proj', 'down_proj'];
      linear(`${p}.${mlpName}.${upName}`, ff, d, config.mlpBias, (w) => (layer.up = w));
      linear(`${p}.${mlpName}.${downName}`, d, ff, config.mlpBias, (w) => (layer.down = w));
    } else {
      linear(`${p}.${mlpName}.gate_proj`, ff, d, config.mlpBias, (w) => (layer.gate = w));
      linear(`${p}.${mlpName}.up_proj`, ff, d, config.mlpBias, (w) => (layer.up = w));
    }
    if (!layer.moe && !layer.down) linear(`${p}.${mlpName}.down_proj`, d, ff, config.mlpBias, (w) => (layer.down = w));
    if (config.mlpActivation === 'xielu') xieluTensors(list, `${p}.mlp.act_fn`, layer, stored);
  }
  normTensors(list, config, 'model.norm', d, (t) => (target.finalNorm = t), (t) => (target.finalNormBias = t));
  lmHeadTensors(list, config, target);
  return list;
}

/**
 * DeepSeek's MLA projections under `prefix` (self_attn): q_proj or q_a_proj / q_a_layernorm /
 * q_b_proj, kv_a_proj_with_mqa, kv_a_layernorm, and kv_b_proj, whose rows ([heads · (nope + value), rank],
 * each head's key rows then its value rows) load as the heads' key rows and their value rows.
 */
function latentAttentionTensors(list: ExpectedTensor[], config: LlamaConfig, prefix: string, layer: Partial<LayerWeights>): void {
  const { hiddenSize: d, numHeads, attentionBias: bias } = config;
  const { queryRank, rank, nopeDim, ropeDim, valueDim } = config.latentAttention!;
  const latent = {} as LatentAttentionWeights;
  layer.latent = latent;
  const queryWidth = numHeads * (nopeDim + ropeDim);
  if (queryRank === undefined) {
    linearTensors(list, `${prefix}.q_proj`, queryWidth, d, false, (w) => (latent.query = w));
  } else {
    linearTensors(list, `${prefix}.q_a_proj`, queryRank, d, bias.q, (w) => (latent.queryDown = w));
    list.push(whole(`${prefix}.q_a_layernorm.weight`, [queryRank], (t) => (latent.queryDownNorm = t)));
    linearTensors(list, `${prefix}.q_b_proj`, queryWidth, queryRank, false, (w) => (latent.query = w));
  }
  linearTensors(list, `${prefix}.kv_a_proj_with_mqa`, rank + ropeDim, d, bias.k, (w) => (latent.keyValueDown = w));
  list.push(whole(`${prefix}.kv_a_layernorm.weight`, [rank], (t) => (latent.latentNorm = t)));
  [latent.keyUp, latent.valueUp] = [{} as LinearWeights, {} as LinearWeights];
  const heads = Array.from({ length: numHeads }, (_, h) => h * (nopeDim + valueDim));
  list.push(
    splitRows(`${prefix}.kv_b_proj.weight`, [numHeads * (nopeDim + valueDim), rank], 'weight', [
      [heads.map((start): RowRange => [start, nopeDim]), latent.keyUp],
      [heads.map((start): RowRange => [start + nopeDim, valueDim]), latent.valueUp],
    ]),
  );
}

/**
 * Apertus's xIELU parameters under `prefix` (mlp.act_fn), onto the host: alpha_p and alpha_n [1];
 * beta and eps, scalar buffers, where the checkpoint saved them (else transformers' 0.5 and −1e-6).
 */
function xieluTensors(list: ExpectedTensor[], prefix: string, layer: Partial<LayerWeights>, stored: StoredNames): void {
  const parameters: XieluParameters = { alphaP: 0, alphaN: 0, beta: 0.5, eps: -1e-6 };
  layer.xielu = parameters;
  const scalar = (name: string, shape: number[], field: keyof XieluParameters) => ({ name: `${prefix}.${name}`, shape, parts: [], host: (values: Float32Array) => (parameters[field] = values[0]) });
  list.push(scalar('alpha_p', [1], 'alphaP'), scalar('alpha_n', [1], 'alphaN'));
  for (const [name, field] of [['beta', 'beta'], ['eps', 'eps']] as const) if (stored(`${prefix}.${name}`)) list.push(scalar(name, [], field));
}

/** Granite's shared_mlp of width `size` into `target`: its gate and up rows fused in input_linear, then output_linear (no biases). */
function graniteSharedMlpTensors(list: ExpectedTensor[], p: string, d: number, size: number, target: Partial<MlpWeights>): void {
  const [gate, up] = [{} as LinearWeights, {} as LinearWeights];
  [target.gate, target.up] = [gate, up];
  list.push(fused(`${p}.shared_mlp.input_linear.weight`, d, [[size, gate], [size, up]]));
  linearTensors(list, `${p}.shared_mlp.output_linear`, d, size, false, (w) => (target.down = w));
}

/** A Mamba-2 mixer's tensors under `m` (Bamba's names: Granite 4.0-H's `….mamba`, Nemotron-H's `….mixer`): in_proj, conv1d, dt_bias, A_log, D, norm, out_proj. */
function mambaTensors(list: ExpectedTensor[], config: LlamaConfig, mamba: MambaConfig, m: string, layer: Partial<LayerWeights>): void {
  const { hiddenSize: d } = config;
  const { inner, convDim, heads, convKernel, convBias, projBias, outBias, gate } = mamba;
  const weights = {} as MambaWeights;
  layer.mamba = weights;
  linearTensors(list, `${m}.in_proj`, inner + convDim + heads, d, projBias, (w) => (weights.inProj = w));
  list.push(whole(`${m}.conv1d.weight`, [convDim, 1, convKernel], (t) => (weights.kernel = t)));
  if (convBias) list.push(whole(`${m}.conv1d.bias`, [convDim], (t) => (weights.kernelBias = t)));
  list.push(whole(`${m}.dt_bias`, [heads], (t) => (weights.dtBias = t)));
  list.push(whole(`${m}.A_log`, [heads], (t) => (weights.aLog = t)));
  list.push(whole(`${m}.D`, [heads], (t) => (weights.d = t)));
  if (gate !== 'no-norm') list.push(whole(`${m}.norm.weight`, [inner], (t) => (weights.norm = t)));
  linearTensors(list, `${m}.out_proj`, d, inner, outBias, (w) => (weights.outProj = w));
}

/**
 * Jamba's Mamba-1 mixer under `m`: in_proj, conv1d, x_proj, dt_layernorm / b_layernorm /
 * c_layernorm (plain weights), dt_proj (with its bias), A_log, D, out_proj.
 */
function mamba1Tensors(list: ExpectedTensor[], config: LlamaConfig, m: string, layer: Partial<LayerWeights>): void {
  const { hiddenSize: d } = config;
  const { inner, dState, convKernel, dtRank, convBias, projBias } = config.mamba1!;
  const weights = {} as Mamba1Weights;
  layer.mamba1 = weights;
  linearTensors(list, `${m}.in_proj`, 2 * inner, d, projBias, (w) => (weights.inProj = w));
  list.push(whole(`${m}.conv1d.weight`, [inner, 1, convKernel], (t) => (weights.kernel = t)));
  if (convBias) list.push(whole(`${m}.conv1d.bias`, [inner], (t) => (weights.kernelBias = t)));
  linearTensors(list, `${m}.x_proj`, dtRank + 2 * dState, inner, false, (w) => (weights.xProj = w));
  list.push(whole(`${m}.dt_layernorm.weight`, [dtRank], (t) => (weights.dtNorm = t)));
  list.push(whole(`${m}.b_layernorm.weight`, [dState], (t) => (weights.bNorm = t)));
  list.push(whole(`${m}.c_layernorm.weight`, [dState], (t) => (weights.cNorm = t)));
  linearTensors(list, `${m}.dt_proj`, inner, dtRank, true, (w) => (weights.dtProj = w));
  list.push(whole(`${m}.A_log`, [inner, dState], (t) => (weights.aLog = t)));
  list.push(whole(`${m}.D`, [inner], (t) => (weights.d = t)));
  linearTensors(list, `${m}.out_proj`, d, inner, projBias, (w) => (weights.outProj = w));
}

const NO_BIASES = { q: false, k: false, v: false, o: false };

/**
 * Qwen3.5's and Qwen3-Next's q_proj, whose rows give each head its query and then its output gate: loaded as two
 * matrices (and biases), the queries' rows and the gates' rows, each in head order.
 */
function gatedQueryTensors(list: ExpectedTensor[], config: LlamaConfig, prefix: string, layer: Partial<LayerWeights>): void {
  const { hiddenSize: d, numHeads, headDim } = config;
  const [q, gate] = [{} as LinearWeights, {} as LinearWeights];
  [layer.q, layer.qGate] = [q, gate];
  const rows = (which: number): RowRange[] => Array.from({ length: numHeads }, (_, h): RowRange => [(2 * h + which) * headDim, headDim]);
  const parts: [RowRange[], LinearWeights][] = [[rows(0), q], [rows(1), gate]];
  list.push(splitRows(`${prefix}.weight`, [2 * numHeads * headDim, d], 'weight', parts));
  if (config.attentionBias.q) list.push(splitRows(`${prefix}.bias`, [2 * numHeads * headDim], 'bias', parts));
}

/**
 * The tensors of Bamba (BambaForCausalLM), Falcon-H1 (FalconH1ForCausalLM) and Jamba
 * (JambaForCausalLM), named alike: model.embed_tokens, then per layer input_layernorm, self_attn's
 * projections where the layer attends and the Mamba mixer under `mamba` where it has one (Falcon-H1:
 * both on every layer; Jamba's Mamba-1), pre_ff_layernorm and the SwiGLU feed_forward (gate_proj,
 * up_proj, down_proj; Jamba's experts where the layer routes), then model.final_layernorm and lm_head.
 */
function bambaLayoutTensors(config: LlamaConfig, target: WeightTarget, stored: StoredNames): ExpectedTensor[] {
  const { hiddenSize: d, intermediateSize: ff, vocabSize, mlpBias } = config;
  const list: ExpectedTensor[] = [whole('model.embed_tokens.weight', [vocabSize, d], (t) => (target.embed = t))];
  for (let i = 0; i < config.numLayers; i++) {
    const layer: Partial<LayerWeights> = {};
    target.layers.push(layer);
    const p = `model.layers.${i}`;
    normTensors(list, config, `${p}.input_layernorm`, d, (t) => (layer.inputNorm = t));
    if (config.attentionLayers.includes(i)) attentionTensors(list, config, `${p}.self_attn`, 'o_proj', config.attentionBias, layer);
    if (config.mamba?.layers.includes(i)) mambaTensors(list, config, config.mamba, `${p}.mamba`, layer);
    if (config.mamba1?.layers.includes(i)) mamba1Tensors(list, config, `${p}.mamba`, layer);
    normTensors(list, config, `${p}.pre_ff_layernorm`, d, (t) => (layer.postAttentionNorm = t));
    if (routesLayer(config.moe, i)) {
      expertTensors(list, config, config.moe, p, layer, stored);
      continue;
    }
    linearTensors(list, `${p}.feed_forward.gate_proj`, ff, d, mlpBias, (w) => (layer.gate = w));
    linearTensors(list, `${p}.feed_forward.up_proj`, ff, d, mlpBias, (w) => (layer.up = w));
    linearTensors(list, `${p}.feed_forward.down_proj`, d, ff, mlpBias, (w) => (layer.down = w));
  }
  normTensors(list, config, 'model.final_layernorm', d, (t) => (target.finalNorm = t));
  lmHeadTensors(list, config, target);
  return list;
}

/** An attention block's four projections under `prefix` (q_proj, k_proj, v_proj and the output's `outName`), with the biases `bias` says. */
function attentionTensors(list: ExpectedTensor[], config: LlamaConfig, prefix: string, outName: string, bias: LlamaConfig['attentionBias'], layer: Partial<LayerWeights>): void {
  const { hiddenSize: d, numHeads, numKvHeads, headDim } = config;
  linearTensors(list, `${prefix}.q_proj`, numHeads * headDim, d, bias.q, (w) => (layer.q = w));
  linearTensors(list, `${prefix}.k_proj`, numKvHeads * headDim, d, bias.k, (w) => (layer.k = w));
  linearTensors(list, `${prefix}.v_proj`, numKvHeads * headDim, d, bias.v, (w) => (layer.v = w));
  linearTensors(list, `${prefix}.${outName}`, d, numHeads * headDim, bias.o, (w) => (layer.o = w));
}

/**
 * Nemotron-H's tensors (NemotronHForCausalLM, as transformers 5 names them; the released checkpoints'
 * `backbone.` prefix is read as `model.`): model.embeddings, then per layer its norm and its one
 * mixer under `mixer` (a Mamba-2 mixer; q/k/v/o_proj; or the MLP's up_proj and down_proj), then
 * model.norm_f and lm_head.
 */
function nemotronHTensors(config: LlamaConfig, target: WeightTarget, stored: StoredNames): ExpectedTensor[] {
  const { hiddenSize: d, intermediateSize: ff, vocabSize, attentionBias: bias, mlpBias } = config;
  const list: ExpectedTensor[] = [whole('model.embeddings.weight', [vocabSize, d], (t) => (target.embed = t))];
  const linear = (prefix: string, out: number, inDim: number, hasBias: boolean, set: (w: LinearWeights) => void) => linearTensors(list, prefix, out, inDim, hasBias, set);
  for (let i = 0; i < config.numLayers; i++) {
    const layer: Partial<LayerWeights> = {};
    target.layers.push(layer);
    const p = `model.layers.${i}`;
    normTensors(list, config, `${p}.norm`, d, (t) => (layer.inputNorm = t));
    if (config.mamba?.layers.includes(i)) {
      mambaTensors(list, config, config.mamba, `${p}.mixer`, layer);
    } else if (routesLayer(config.moe, i)) {
      expertTensors(list, config, config.moe, p, layer, stored);
    } else if (config.singleBlocks?.mlpLayers.includes(i)) {
      linear(`${p}.mixer.up_proj`, ff, d, mlpBias, (w) => (layer.up = w));
      linear(`${p}.mixer.down_proj`, d, ff, mlpBias, (w) => (layer.down = w));
    } else {
      attentionTensors(list, config, `${p}.mixer`, 'o_proj', bias, layer);
    }
  }
  normTensors(list, config, 'model.norm_f', d, (t) => (target.finalNorm = t));
  lmHeadTensors(list, config, target);
  return list;
}

/**
 * Gated DeltaNet's tensors under `m`: the input projections (`deltaNetInputTensors`), conv1d (no
 * bias), dt_bias, A_log, norm (a plain weight), out_proj.
 */
function deltaNetTensors(list: ExpectedTensor[], config: LlamaConfig, m: string, layer: Partial<LayerWeights>): void {
  const { hiddenSize: d } = config;
  const { valueHeads, valueDim, convKernel, convDim } = config.deltaNet!;
  const weights = {} as DeltaNetWeights;
  layer.deltaNet = weights;
  deltaNetInputTensors(list, config, m, weights);
  list.push(whole(`${m}.conv1d.weight`, [convDim, 1, convKernel], (t) => (weights.kernel = t)));
  list.push(whole(`${m}.dt_bias`, [valueHeads], (t) => (weights.dtBias = t)));
  list.push(whole(`${m}.A_log`, [valueHeads], (t) => (weights.aLog = t)));
  // A plain weight: the zero-centred offset of the model's other norms does not apply.
  list.push(whole(`${m}.norm.weight`, [valueDim], (t) => (weights.norm = t)));
  linearTensors(list, `${m}.out_proj`, d, valueHeads * valueDim, false, (w) => (weights.outProj = w));
}

/**
 * Gated DeltaNet's input projections into `weights`: Qwen3.5's in_proj_qkv (all queries, all keys,
 * all values: the convolution's channel order), in_proj_z, in_proj_b and in_proj_a; or Qwen3-Next's
 * fused ones, split at load into the same four. Its in_proj_qkvz holds per key head its query, its
 * key, then the values and the z rows of the value heads that read that key head; in_proj_ba per
 * key head those value heads' b rows, then their a rows.
 */
function deltaNetInputTensors(list: ExpectedTensor[], config: LlamaConfig, m: string, weights: DeltaNetWeights): void {
  const { hiddenSize: d } = config;
  const { keyHeads, valueHeads, keyDim: dk, valueDim: dv, fusedInputs } = config.deltaNet!;
  if (!fusedInputs) {
    linearTensors(list, `${m}.in_proj_qkv`, 2 * keyHeads * dk + valueHeads * dv, d, false, (w) => (weights.qkv = w));
    linearTensors(list, `${m}.in_proj_z`, valueHeads * dv, d, false, (w) => (weights.z = w));
    linearTensors(list, `${m}.in_proj_b`, valueHeads, d, false, (w) => (weights.b = w));
    linearTensors(list, `${m}.in_proj_a`, valueHeads, d, false, (w) => (weights.a = w));
    return;
  }
  const [qkv, z, b, a] = [{} as LinearWeights, {} as LinearWeights, {} as LinearWeights, {} as LinearWeights];
  Object.assign(weights, { qkv, z, b, a });
  // Each key head's block of rows: [start within the block, count] of the section wanted.
  const perKeyHead = (block: number, start: number, count: number): RowRange[] => Array.from({ length: keyHeads }, (_, h): RowRange => [h * block + start, count]);
  const group = valueHeads / keyHeads;
  const qkvz = 2 * dk + 2 * group * dv;
  list.push(
    splitRows(`${m}.in_proj_qkvz.weight`, [keyHeads * qkvz, d], 'weight', [
      [[...perKeyHead(qkvz, 0, dk), ...perKeyHead(qkvz, dk, dk), ...perKeyHead(qkvz, 2 * dk, group * dv)], qkv],
      [perKeyHead(qkvz, 2 * dk + group * dv, group * dv), z],
    ]),
  );
  list.push(splitRows(`${m}.in_proj_ba.weight`, [2 * valueHeads, d], 'weight', [[perKeyHead(2 * group, 0, group), b], [perKeyHead(2 * group, group, group), a]]));
}

/**
 * A routing layer's tensors: the router, each expert's gate, up and down matrices stacked into two
 * tensors (`MoeWeights`), and a shared expert where the family has one. Mixtral names them
 * block_sparse_moe.gate and experts.e.w1 / w3 / w2; Qwen and OLMoE mlp.gate and
 * experts.e.gate_proj / up_proj / down_proj (Qwen2-MoE's shared_expert and shared_expert_gate
 * beside them); Granite stores them stacked already: block_sparse_moe.router.layer, input_linear
 * [experts, 2 · size, hidden] (gate rows, then up rows) and output_linear, with shared_mlp's fused
 * input_linear and output_linear on the layer. LFM2-MoE names them feed_forward.gate and
 * feed_forward.experts.e.w1 / w3 / w2, with its selection bias feed_forward.expert_bias; Jamba
 * feed_forward.router and feed_forward.experts.e.gate_proj / up_proj / down_proj; GLM-4.5 mlp.gate
 * with its e_score_correction_bias and mlp.shared_experts.gate_proj / up_proj / down_proj; Nemotron-H
 * mixer.gate with its e_score_correction_bias, its ungated experts mixer.experts.e.up_proj /
 * down_proj and mixer.shared_experts.up_proj / down_proj.
 */
function expertTensors(list: ExpectedTensor[], config: LlamaConfig, moe: MoeConfig, p: string, layer: Partial<LayerWeights>, stored: StoredNames): void {
  const { hiddenSize: d } = config;
  const { experts, expertSize: ff } = moe;
  const weights = {} as MoeWeights;
  layer.moe = weights;
  const stack = (name: string, shape: MatrixStack['shape'], assign: (t: Tensor) => void): MatrixStack => ({ name, shape, assign });
  const shared = moe.sharedExpert && ({} as MlpWeights);
  if (shared) weights.shared = shared;
  if (config.modelType === 'granitemoe' || config.modelType === 'granitemoeshared' || config.modelType === 'granitemoehybrid') {
    const block = `${p}.block_sparse_moe`;
    linearTensors(list, `${block}.router.layer`, experts, d, false, (w) => (weights.router = w));
    const gateUp = stack(`${block}.input_linear`, [experts, 2 * ff, d], (t) => (weights.gateUp = t));
    const down = stack(`${block}.output_linear`, [experts, d, ff], (t) => (weights.down = t));
    list.push(into(`${gateUp.name}.weight`, gateUp.shape, gateUp, 0), into(`${down.name}.weight`, down.shape, down, 0));
    if (shared) graniteSharedMlpTensors(list, p, d, moe.sharedExpert!.size, shared);
    return;
  }
  if (config.modelType === 'nemotron_h') {
    const block = `${p}.mixer`;
    linearTensors(list, `${block}.gate`, experts, d, false, (w) => (weights.router = w));
    list.push(whole(`${block}.gate.e_score_correction_bias`, [experts], (t) => (weights.selectionBias = t)));
    const up = stack(`${block}.experts.*.up_proj`, [experts, ff, d], (t) => (weights.up = t));
    const down = stack(`${block}.experts.*.down_proj`, [experts, d, ff], (t) => (weights.down = t));
    list.push(...expertStackTensors(block, stored(`${block}.experts.up_proj`) ? 'up_proj' : undefined, ['up_proj'], 'down_proj', up, down));
    const size = moe.sharedExpert!.size;
    linearTensors(list, `${block}.shared_experts.up_proj`, size, d, config.mlpBias, (w) => (shared!.up = w));
    linearTensors(list, `${block}.shared_experts.down_proj`, d, size, config.mlpBias, (w) => (shared!.down = w));
    return;
  }
  if (moe.clampedSwiglu) {
    gptOssExpertTensors(list, config, moe, `${p}.mlp`, weights, stored);
    return;
  }
  const names = { ...QWEN_EXPERT_NAMES, ...(MODEL_FAMILIES[config.modelType] as ModelFamily).moe?.names };
  // transformers 5 saves the experts fused: gate_up_proj [experts, 2 · size, hidden] (each expert's
  // gate rows, then its up rows, as the stack holds them) and down_proj, under `fusedBlock` (Mixtral's: `mlp`).
  const fused = stored(`${p}.${names.fusedBlock}.experts.gate_up_proj`);
  const block = `${p}.${fused ? names.fusedBlock : names.block}`;
  const [gateName, upName, downName] = names.projections;
  linearTensors(list, `${block}.${names.router}`, experts, d, false, (w) => (weights.router = w));
  if (moe.selectionBias) list.push(whole(`${block}.${names.selectionBias}`, names.groupedBias ? [1, experts] : [experts], (t) => (weights.selectionBias = t)));
  const gateUp = stack(`${block}.experts.*.${gateName}/${upName}`, [experts, 2 * ff, d], (t) => (weights.gateUp = t));
  const down = stack(`${block}.experts.*.${downName}`, [experts, d, ff], (t) => (weights.down = t));
  const stacked = expertStackTensors(block, fused ? 'gate_up_proj' : undefined, [gateName, upName], fused ? 'down_proj' : downName, gateUp, down);
  // Llama 4 stores its fused experts input-major ([experts, in, out]: gate's outputs, then up's).
  const inputMajor = fused && (MODEL_FAMILIES[config.modelType] as ModelFamily).moe?.inputMajorExperts;
  list.push(...(inputMajor ? stacked.map((item) => ({ ...item, transposed: true as const })) : stacked));
  if (!shared) return;
  const { size, gated } = moe.sharedExpert!;
  // Qwen2-MoE's shared_expert (scaled by shared_expert_gate); GLM-4.5's and ERNIE 4.5's shared_experts, added as they are.
  const sharedBlock = `${block}.${names.shared}`;
  linearTensors(list, `${sharedBlock}.gate_proj`, size, d, config.mlpBias, (w) => (shared.gate = w));
  linearTensors(list, `${sharedBlock}.up_proj`, size, d, config.mlpBias, (w) => (shared.up = w));
  linearTensors(list, `${sharedBlock}.down_proj`, d, size, config.mlpBias, (w) => (shared.down = w));
  if (gated) linearTensors(list, `${block}.shared_expert_gate`, 1, d, false, (w) => (weights.sharedGate = w));
}

/**
 * gpt-oss's mixture under `block` (`mlp`): router.weight and router.bias, then the experts as one
 * stack each with their biases: experts.gate_up_proj (each expert's gate and up outputs interleaved)
 * and experts.down_proj, either in MXFP4 as released (`…_blocks` and `…_scales`, output-major) or
 * dequantized as transformers saves them (bf16, input-major: [experts, in, out]); the biases
 * gate_up_proj_bias [experts, 2 · size] (interleaved alike) and down_proj_bias [experts, hidden].
 */
function gptOssExpertTensors(list: ExpectedTensor[], config: LlamaConfig, moe: MoeConfig, block: string, weights: MoeWeights, stored: StoredNames): void {
  const { hiddenSize: d } = config;
  const { experts, expertSize: ff } = moe;
  linearTensors(list, `${block}.router`, experts, d, true, (w) => (weights.router = w));
  const e = `${block}.experts`;
  const mxfp4 = stored(`${e}.gate_up_proj_blocks`);
  const matrices: [name: string, shape: MatrixStack['shape'], assign: (t: Tensor) => void, interleaved: boolean][] = [
    ['gate_up_proj', [experts, 2 * ff, d], (t) => (weights.gateUp = t), true],
    ['down_proj', [experts, d, ff], (t) => (weights.down = t), false],
  ];
  for (const [name, shape, assign, interleaved] of matrices) {
    const stack: MatrixStack = { name: `${e}.${name}`, shape, assign };
    const layout = mxfp4 ? { name: `${e}.${name}_blocks`, mxfp4Scales: `${e}.${name}_scales` } : { name: `${e}.${name}`, transposed: true as const };
    list.push({ ...into(layout.name, shape, stack, 0), ...layout, ...(interleaved ? { interleavedRows: true as const } : {}) });
  }
  list.push({ ...whole(`${e}.gate_up_proj_bias`, [experts, 2 * ff], (t) => (weights.gateUpBias = t)), interleavedRows: true });
  list.push(whole(`${e}.down_proj_bias`, [experts, d], (t) => (weights.downBias = t)));
}

/**
 * A mixture's experts into their two stacks, `input` (each expert's input rows: gate then up, or up
 * alone) and `down`: fused as transformers 5 saves them (`experts.<fusedInput>` [experts, rows,
 * hidden] and `experts.down_proj`) where `fusedInput` is given, else one matrix per expert and
 * projection as released (`experts.e.<inputNames[i]>.weight`, `experts.e.<downName>.weight`).
 */
function expertStackTensors(block: string, fusedInput: string | undefined, inputNames: string[], downName: string, input: MatrixStack, down: MatrixStack): ExpectedTensor[] {
  if (fusedInput) return [into(`${block}.experts.${fusedInput}`, input.shape, input, 0), into(`${block}.experts.${downName}`, down.shape, down, 0)];
  const [experts, rows, d] = input.shape;
  const size = rows / inputNames.length;
  return Array.from({ length: experts }, (_, e) => [
    ...inputNames.map((name, i) => into(`${block}.experts.${e}.${name}.weight`, [size, d], input, (e * inputNames.length + i) * size)),
    into(`${block}.experts.${e}.${downName}.weight`, down.shape.slice(1), down, e * down.shape[1]),
  ]).flat();
}

/**
 * Names of HF's `GPT2LMHeadModel` (`transformer.` as save_pretrained writes them; the released
 * checkpoints' bare names are read too): wte and wpe (learned position embeddings), per block ln_1,
 * attn.c_attn (q, k and v: consecutive thirds of its outputs), attn.c_proj, ln_2, mlp.c_fc,
 * mlp.c_proj, each projection a Conv1D stored input-major (transposed at load) with a bias, then
 * ln_f; the LM head is wte. The causal-mask buffers some files carry (attn.bias) are not read.
 */
function gpt2Tensors(config: LlamaConfig, target: WeightTarget): ExpectedTensor[] {
  const { hiddenSize: d, intermediateSize: ff, vocabSize, maxPositions } = config;
  const list: ExpectedTensor[] = [
    whole('transformer.wte.weight', [vocabSize, d], (t) => (target.embed = t)),
    whole('transformer.wpe.weight', [maxPositions, d], (t) => (target.positionEmbed = t)),
  ];
  const conv1d = (prefix: string, out: number, inDim: number, set: (w: LinearWeights) => void) => {
    const weights = {} as LinearWeights;
    set(weights);
    list.push({ ...whole(`${prefix}.weight`, [out, inDim], (t) => (weights.weight = t)), transposed: true });
    list.push(whole(`${prefix}.bias`, [out], (t) => (weights.bias = t)));
  };
  const layerNorm = (prefix: string, setWeight: (t: Tensor) => void, setBias: (t: Tensor) => void) => normTensors(list, config, prefix, d, setWeight, setBias);
  for (let i = 0; i < config.numLayers; i++) {
    const layer: Partial<LayerWeights> = {};
    target.layers.push(layer);
    const p = `transformer.h.${i}`;
    layerNorm(`${p}.ln_1`, (t) => (layer.inputNorm = t), (t) => (layer.inputNormBias = t));
    const [q, k, v] = [{} as LinearWeights, {} as LinearWeights, {} as LinearWeights];
    [layer.q, layer.k, layer.v] = [q, k, v];
    list.push({ ...fused(`${p}.attn.c_attn.weight`, d, [[d, q], [d, k], [d, v]]), transposed: true });
    const thirds = consecutive([d, d, d]);
    list.push(splitRows(`${p}.attn.c_attn.bias`, [3 * d], 'bias', [[thirds[0], q], [thirds[1], k], [thirds[2], v]]));
    conv1d(`${p}.attn.c_proj`, d, d, (w) => (layer.o = w));
    layerNorm(`${p}.ln_2`, (t) => (layer.postAttentionNorm = t), (t) => (layer.postAttentionNormBias = t));
    conv1d(`${p}.mlp.c_fc`, ff, d, (w) => (layer.up = w));
    conv1d(`${p}.mlp.c_proj`, d, ff, (w) => (layer.down = w));
  }
  layerNorm('transformer.ln_f', (t) => (target.finalNorm = t), (t) => (target.finalNormBias = t));
  return list;
}

/**
 * Names of HF's `GPTNeoXForCausalLM` (Pythia): LayerNorms with biases, one query_key_value matrix
 * whose rows hold each head's q, k and v in turn (split per head at load), a plain MLP
 * (dense_h_to_4h, dense_4h_to_h), biases on every linear layer (the attention's unless
 * attention_bias is false), and a separate embed_out.
 */
function gptNeoxTensors(config: LlamaConfig, target: WeightTarget): ExpectedTensor[] {
  const { hiddenSize: d, numHeads, headDim, intermediateSize: ff, vocabSize } = config;
  const list: ExpectedTensor[] = [whole('gpt_neox.embed_in.weight', [vocabSize, d], (t) => (target.embed = t))];
  const linear = (prefix: string, out: number, inDim: number, bias: boolean, set: (w: LinearWeights) => void) => linearTensors(list, prefix, out, inDim, bias, set);
  const attentionBias = config.attentionBias.q;
  const layerNorm = (prefix: string, setWeight: (t: Tensor) => void, setBias: (t: Tensor) => void) => normTensors(list, config, prefix, d, setWeight, setBias);
  // Head h's rows of query_key_value: q at 3·h·headDim, then k, then v.
  const perHead = (which: number): RowRange[] => Array.from({ length: numHeads }, (_, h): RowRange => [(3 * h + which) * headDim, headDim]);
  for (let i = 0; i < config.numLayers; i++) {
    const layer: Partial<LayerWeights> = {};
    target.layers.push(layer);
    const p = `gpt_neox.layers.${i}`;
    layerNorm(`${p}.input_layernorm`, (t) => (layer.inputNorm = t), (t) => (layer.inputNormBias = t));
    layerNorm(`${p}.post_attention_layernorm`, (t) => (layer.postAttentionNorm = t), (t) => (layer.postAttentionNormBias = t));
    const [q, k, v] = [{} as LinearWeights, {} as LinearWeights, {} as LinearWeights];
    [layer.q, layer.k, layer.v] = [q, k, v];
    const parts: [RowRange[], LinearWeights][] = [q, k, v].map((weights, which) => [perHead(which), weights]);
    list.push(splitRows(`${p}.attention.query_key_value.weight`, [3 * d, d], 'weight', parts));
    if (attentionBias) list.push(splitRows(`${p}.attention.query_key_value.bias`, [3 * d], 'bias', parts));
    linear(`${p}.attention.dense`, d, numHeads * headDim, attentionBias, (w) => (layer.o = w));
    linear(`${p}.mlp.dense_h_to_4h`, ff, d, true, (w) => (layer.up = w));
    linear(`${p}.mlp.dense_4h_to_h`, d, ff, true, (w) => (layer.down = w));
  }
  layerNorm('gpt_neox.final_layer_norm', (t) => (target.finalNorm = t), (t) => (target.finalNormBias = t));
  if (!config.tieWordEmbeddings) list.push(whole('embed_out.weight', [vocabSize, d], (t) => (target.lmHead = t)));
  return list;
}

/**
 * Names of HF's `PhiForCausalLM` (Phi-1, 1.5, 2): one input_layernorm (with a bias) per layer feeding
 * attention and MLP, q/k/v projections and `dense` (the output) with biases, a plain MLP (fc1, fc2),
 * `final_layernorm`, and an LM head with a bias.
 */
function phiTensors(config: LlamaConfig, target: WeightTarget): ExpectedTensor[] {
  const { hiddenSize: d, numHeads, numKvHeads, headDim, intermediateSize: ff, vocabSize } = config;
  const list: ExpectedTensor[] = [whole('model.embed_tokens.weight', [vocabSize, d], (t) => (target.embed = t))];
  const linear = (prefix: string, out: number, inDim: number, set: (w: LinearWeights) => void) => linearTensors(list, prefix, out, inDim, true, set);
  const layerNorm = (prefix: string, setWeight: (t: Tensor) => void, setBias: (t: Tensor) => void) => normTensors(list, config, prefix, d, setWeight, setBias);
  for (let i = 0; i < config.numLayers; i++) {
    const layer: Partial<LayerWeights> = {};
    target.layers.push(layer);
    const p = `model.layers.${i}`;
    layerNorm(`${p}.input_layernorm`, (t) => (layer.inputNorm = t), (t) => (layer.inputNormBias = t));
    linear(`${p}.self_attn.q_proj`, numHeads * headDim, d, (w) => (layer.q = w));
    linear(`${p}.self_attn.k_proj`, numKvHeads * headDim, d, (w) => (layer.k = w));
    linear(`${p}.self_attn.v_proj`, numKvHeads * headDim, d, (w) => (layer.v = w));
    linear(`${p}.self_attn.dense`, d, numHeads * headDim, (w) => (layer.o = w));
    linear(`${p}.mlp.fc1`, ff, d, (w) => (layer.up = w));
    linear(`${p}.mlp.fc2`, d, ff, (w) => (layer.down = w));
  }
  layerNorm('model.final_layernorm', (t) => (target.finalNorm = t), (t) => (target.finalNormBias = t));
  lmHeadTensors(list, config, target);
  return list;
}

/**
 * Names of HF's `Lfm2ForCausalLM`: operator_norm before the layer's mixer and ffn_norm before its
 * SwiGLU feed_forward (w1 gate, w3 up, w2 down); an attention layer's q/k/v_proj, out_proj and
 * per-head q_layernorm / k_layernorm; a convolution layer's conv.in_proj, the depthwise conv.conv
 * [hidden, 1, taps] and conv.out_proj (biases where conv_bias); embedding_norm as the final norm.
 */
function lfm2Tensors(config: LlamaConfig, target: WeightTarget, stored: StoredNames): ExpectedTensor[] {
  const { hiddenSize: d, headDim, intermediateSize: ff, vocabSize } = config;
  const { kernel: taps, bias } = config.shortConv!;
  const list: ExpectedTensor[] = [whole('model.embed_tokens.weight', [vocabSize, d], (t) => (target.embed = t))];
  const linear = (prefix: string, out: number, inDim: number, set: (w: LinearWeights) => void, withBias = false) => linearTensors(list, prefix, out, inDim, withBias, set);
  const norm = (name: string, size: number, set: (t: Tensor) => void) => normTensors(list, config, name, size, set);
  for (let i = 0; i < config.numLayers; i++) {
    const layer: Partial<LayerWeights> = {};
    target.layers.push(layer);
    const p = `model.layers.${i}`;
    norm(`${p}.operator_norm`, d, (t) => (layer.inputNorm = t));
    if (config.shortConv!.layers.includes(i)) {
      const conv = {} as ShortConvWeights;
      layer.conv = conv;
      linear(`${p}.conv.in_proj`, 3 * d, d, (w) => (conv.inProj = w), bias);
      list.push(whole(`${p}.conv.conv.weight`, [d, 1, taps], (t) => (conv.kernel = t)));
      if (bias) list.push(whole(`${p}.conv.conv.bias`, [d], (t) => (conv.kernelBias = t)));
      linear(`${p}.conv.out_proj`, d, d, (w) => (conv.outProj = w), bias);
    } else {
      attentionTensors(list, config, `${p}.self_attn`, 'out_proj', NO_BIASES, layer);
      norm(`${p}.self_attn.q_layernorm`, headDim, (t) => (layer.qNorm = t));
      norm(`${p}.self_attn.k_layernorm`, headDim, (t) => (layer.kNorm = t));
    }
    norm(`${p}.ffn_norm`, d, (t) => (layer.postAttentionNorm = t));
    if (routesLayer(config.moe, i)) {
      expertTensors(list, config, config.moe, p, layer, stored);
      continue;
    }
    linear(`${p}.feed_forward.w1`, ff, d, (w) => (layer.gate = w));
    linear(`${p}.feed_forward.w3`, ff, d, (w) => (layer.up = w));
    linear(`${p}.feed_forward.w2`, d, ff, (w) => (layer.down = w));
  }
  norm('model.embedding_norm', d, (t) => (target.finalNorm = t));
  lmHeadTensors(list, config, target);
  return list;
}
