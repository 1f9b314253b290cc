import {
  add,
  type Backend,
  cast,
  contiguous,
  layerNorm,
  type KVCache,
  maximum,
  minimum,
  mul,
  reshape,
  rmsNorm,
  rope,
  rsqrt,
  sigmoid,
  slice,
  sum,
  type Tensor,
  TensorScope,
  tensor,
  transpose,
} from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import { feedForward } from './feed-forward.js';
import type { LayerRope } from './layer-ropes.js';
import { linear } from './linear.js';
import { deltaNetBlock } from './delta-net.js';
import { mamba1Block } from './mamba1-mixer.js';
import { mambaBlock, type MambaShared } from './mamba-mixer.js';
import { shortConvBlock } from './short-conv.js';
import { attendThroughCaches, batchPositions } from './cache-attention.js';
import { latentAttentionBlock } from './latent-attention.js';
import { type AttentionLayerWeights, attends, type LayerWeights, type MambaWeights } from './weights.js';

/** A run of consecutive rows of the batch that belongs to one request and its cache. */
export interface Segment {
  cache: KVCache;
  /** First row of the segment in the batch. */
  start: number;
  length: number;
  positions: Int32Array;
  tokenIds: Int32Array;
  phase: 'prefill' | 'decode';
}

/**
 * What one decoder layer saw and computed during a forward pass, for calibration (kv-quant,
 * kv-lowrank) and inspection. The tensors are released when the callback returns: copy what you keep.
 */
export interface LayerActivations {
  /** The KV-cache layer (the decoder layer itself, except in a hybrid model, whose convolution layers fire no event). */
  layerIndex: number;
  /** The decoder layer (`config.attentionLayers[layerIndex]`). */
  decoderLayer: number;
  /** Absolute positions of the rows. */
  positions: Int32Array;
  /** [n, hidden]: the layer's input (the residual stream before input_layernorm). */
  hidden: Tensor;
  /** [qHeads, n, headDim] (with DeepSeek's latent attention the cache's head: the rotated channels, then the latent): queries as attention reads them: after RoPE (on a NoPE layer, `config.noRopeLayers`, not rotated), with YaRN's or LongRoPE's factor squared on the rotated channels. */
  q: Tensor;
  /** [kvHeads, n, headDim]: keys before RoPE (after Qwen3's k_norm). */
  keyPreRope: Tensor;
  /** [kvHeads, n, headDim]: keys after RoPE. */
  key: Tensor;
  /** [kvHeads, n, headDim]. */
  value: Tensor;
  /** [qHeads, n, headDim]: attention output, before o_proj. */
  attention: Tensor;
}

export interface LayerContext {
  config: LlamaConfig;
  /** How a layer rotates its queries and keys in this pass (Gemma 3's sliding layers have their own frequencies). */
  layerRope: (layer: number) => LayerRope;
  /** i32 [rows]: positions of every row of the batch. */
  positions: Tensor;
  segments: readonly Segment[];
  onLayer?: (event: LayerActivations) => void;
  /** Each Mamba (2 or 1) or Gated DeltaNet layer's decay rates −exp(A_log) (f32), derived once when the model was built. */
  decayRates?: ReadonlyMap<number, Tensor>;
  /** What the Mamba layers share (`MambaShared`: ones for a grouped norm, Falcon-H1's in_proj factors), built once. */
  mambaShared?: MambaShared;
  /** Llama 4: each row's query temperature for the layers without rotation (`queryTemperatures`), built once per pass. */
  queryTemperature?: Tensor;
}

/** [rows, heads·headDim] → [heads, rows, headDim] (a view). */
function splitHeads(x: Tensor, heads: number, headDim: number, scope: TensorScope): Tensor {
  return scope.track(transpose(scope.track(reshape(x, [x.shape[0], heads, headDim])), [1, 0, 2]));
}

/**
 * q_norm / k_norm before RoPE ([rows, heads·headDim] in and out): an RMSNorm over each head's
 * vector (Qwen3, Gemma 3: `weight` [headDim]) or over each row's whole projection (OLMo 2:
 * `weight` [heads · headDim]); x itself where the model has none.
 */
function queryKeyNorm(x: Tensor, weight: Tensor | undefined, heads: number, config: LlamaConfig, scope: TensorScope): Tensor {
  if (!weight) return x;
  if (config.qkNorm === 'projection') return scope.track(rmsNorm(x, weight, config.normEps));
  const [rows, width] = x.shape;
  const perHead = scope.track(rmsNorm(scope.track(reshape(x, [rows, heads, width / heads])), weight, config.normEps));
  return scope.track(reshape(perHead, [rows, width]));
}

/** A projection clamped to ±clip_qkv where the model clips (OLMo, OLMoE); the projection itself elsewhere. */
function clipped(x: Tensor, config: LlamaConfig, scope: TensorScope): Tensor {
  const clip = config.clipQkv;
  return clip === undefined ? x : scope.track(minimum(scope.track(maximum(x, -clip)), clip));
}

/**
 * One pre-norm decoder block: x + mixer(norm(x)), then + mlp(norm(·)). The mixer is attention
 * (DeepSeek's latent attention: `latentAttentionBlock`), or on
 * a hybrid model's convolution layers (LFM2's) the gated short convolution (`shortConvBlock`), or
 * on its Mamba layers the Mamba-2 mixer (`mambaBlock`; Jamba's Mamba-1: `mamba1Block`), on its
 * linear-attention layers Gated DeltaNet (`deltaNetBlock`), or on Falcon-H1's both side by side
 * (`parallelMixers`). Nemotron-H's layers are one block each (`config.singleBlocks`):
 * x + mixer(norm(x)) without the MLP, or x + mlp(norm(x)) alone.
 * Attention goes through each segment's cache layer: the layer receives K/V ([kvHeads, n, headDim],
 * never repeated per query head; keys before or after RoPE as its `keyInput` asks) and computes
 * attention over what it holds. Returns the new residual stream (the caller owns it).
 */
export function decoderLayer(x: Tensor, w: LayerWeights, layerIndex: number, ctx: LayerContext): Tensor {
  const { config, segments } = ctx;
  const scope = new TensorScope();
  try {
    const eps = config.normEps;
    // What a block adds to the residual stream: Gemma normalizes it first, Granite scales it (residual_multiplier).
    const residualBranch = (t: Tensor, weight: Tensor | undefined) => {
      const normed = weight ? scope.track(rmsNorm(t, weight, eps)) : t;
      return config.residualScale === 1 ? normed : scope.track(mul(normed, config.residualScale));
    };
    // OLMo 2 normalizes the blocks' outputs only: attention reads the residual stream itself.
    const h = w.inputNorm ? scope.track(normalize(x, w.inputNorm, w.inputNormBias, config)) : x;
    if (config.singleBlocks?.mlpLayers.includes(layerIndex)) return add(x, residualBranch(feedForward(h, w, layerIndex, config, scope), w.mlpOutputNorm));
    const attending = attends(w) || w.latent !== undefined;
    const mixed = w.latent
      ? latentAttentionBlock(x, h, w.latent, w.o!, layerIndex, cacheLayerOf(config, layerIndex), ctx, scope)
      : attends(w)
      ? w.mamba
        ? parallelMixers(x, h, w, layerIndex, ctx, scope)
        : attentionBlock(x, h, w, layerIndex, ctx, scope)
      : w.mamba
        ? mambaMixer(h, layerIndex, w.mamba, ctx, scope)
        : w.mamba1
          ? mamba1Block(h, w.mamba1, ctx.decayRates!.get(layerIndex)!, config.mamba1!.layers.indexOf(layerIndex), config, segments, scope)
          : w.deltaNet
            ? deltaNetBlock(h, w.deltaNet, ctx.decayRates!.get(layerIndex)!, config.deltaNet!.layers.indexOf(layerIndex), config, segments, scope)
            : shortConvBlock(h, w.conv!, config.shortConv!.layers.indexOf(layerIndex), config, segments, scope);
    const afterAttention = scope.track(add(x, residualBranch(mixed, w.attentionOutputNorm)));
    if (attending) reportToLayers(x, afterAttention, cacheLayerOf(config, layerIndex), segments, scope);
    if (config.singleBlocks) return scope.untrack(afterAttention);

    // In parallel the MLP reads the layer's input (GPT-NeoX: through its own norm; Phi: the attention's normalized input), else the attention's result.
    const mlpInput = config.parallelResidual ? x : afterAttention;
    const h2 = w.postAttentionNorm ? scope.track(normalize(mlpInput, w.postAttentionNorm, w.postAttentionNormBias, config)) : config.parallelResidual ? h : mlpInput;
    return add(afterAttention, residualBranch(feedForward(h2, w, layerIndex, config, scope), w.mlpOutputNorm));
  } finally {
    scope.dispose();
  }
}

/** Decoder layer `layerIndex`'s Mamba-2 mixer over `h`, with its decay rates and recurrent slots. */
function mambaMixer(h: Tensor, layerIndex: number, w: MambaWeights, ctx: LayerContext, scope: TensorScope): Tensor {
  const { config } = ctx;
  return mambaBlock(h, w, ctx.decayRates!.get(layerIndex)!, config.mamba!.layers.indexOf(layerIndex), config, ctx.segments, scope, ctx.mambaShared);
}

/**
 * Falcon-H1's layer: attention and the Mamba-2 mixer side by side on the normalized input, each
 * input and output scaled by its μP multiplier, their outputs summed.
 */
function parallelMixers(x: Tensor, h: Tensor, w: AttentionLayerWeights, layerIndex: number, ctx: LayerContext, scope: TensorScope): Tensor {
  const f = ctx.config.falconH1!;
  const scaled = (t: Tensor, factor: number) => (factor === 1 ? t : scope.track(mul(t, factor)));
  const mixer = mambaMixer(scaled(h, f.ssmIn), layerIndex, w.mamba!, ctx, scope);
  const attention = attentionBlock(x, scaled(h, f.attentionIn), w, layerIndex, ctx, scope);
  return scope.track(add(scaled(mixer, f.ssmOut), scaled(attention, f.attentionOut)));
}

/** The KV-cache layer decoder layer `layer` attends through (the same index, except in a hybrid model). */
export const cacheLayerOf = (config: LlamaConfig, layer: number): number => (config.attentionLayers.length === config.numLayers ? layer : config.attentionLayers.indexOf(layer));

/** The attention of one layer, through each segment's cache, projected by o_proj: [rows, hidden]. */
function attentionBlock(x: Tensor, h: Tensor, w: AttentionLayerWeights, layerIndex: number, ctx: LayerContext, scope: TensorScope): Tensor {
  const { config, segments } = ctx;
  const { numHeads, headDim } = config;
  const cacheLayer = cacheLayerOf(config, layerIndex);
  const { q, keyPreRope, key, value, outputGate } = projectQueryKeyValue(h, w, layerIndex, ctx, scope);
  const attention = attendThroughCaches(q, keyPreRope, key, value, layerIndex, cacheLayer, w.sinks, ctx, scope);
  if (ctx.onLayer) {
    ctx.onLayer({ layerIndex: cacheLayer, decoderLayer: layerIndex, positions: batchPositions(segments), hidden: x, q, keyPreRope, key, value, attention });
  }
  const merged = scope.track(reshape(scope.track(transpose(attention, [1, 0, 2])), [x.shape[0], numHeads * headDim]));
  // Qwen3.5 and Qwen3-Next gate each head's output by sigmoid of its gate before o_proj.
  const gated = outputGate ? scope.track(mul(merged, scope.track(sigmoid(outputGate)))) : merged;
  return linear(gated, w.o, scope);
}

/**
 * The layer's queries (rotated, with YaRN's or LongRoPE's gain), keys before and after RoPE, and
 * values, each [heads, rows, headDim] (NoPE layers, SmolLM3's, rotate nothing: their keys are the
 * same before and after).
 */
function projectQueryKeyValue(h: Tensor, w: AttentionLayerWeights, layerIndex: number, ctx: LayerContext, scope: TensorScope) {
  const { config } = ctx;
  const { numHeads, numKvHeads, headDim } = config;
  const { invFreq, queryGain, keyGain } = ctx.layerRope(layerIndex);
  // Contiguous either way: rope writes a new tensor, a NoPE layer copies the heads' view.
  const rotate = (t: Tensor) => scope.track(invFreq ? rope(t, ctx.positions, invFreq, config.ropeLayout) : contiguous(t));
  const heads = (projected: Tensor, count: number, norm?: Tensor) => splitHeads(clipped(queryKeyNorm(projected, norm, count, config, scope), config, scope), count, headDim, scope);
  // Hunyuan normalizes each head's queries and keys after RoPE, the others before it.
  const after = config.qkNormAfterRope;
  const normedAfter = (t: Tensor, norm: Tensor | undefined) => (after && norm ? scope.track(rmsNorm(t, norm, config.normEps)) : t);
  let q = normedAfter(rotate(heads(linear(h, w.q, scope), numHeads, after ? undefined : w.qNorm)), w.qNorm);
  const outputGate = w.qGate && linear(h, w.qGate, scope);
  if (queryGain) q = scope.track(mul(q, queryGain));
  // Llama 4's layers without rotation tune each query's temperature to its position.
  if (!invFreq && ctx.queryTemperature) q = scope.track(mul(q, ctx.queryTemperature));
  // Falcon-H1 scales the keys (key_multiplier) before RoPE.
  const keyScale = config.falconH1?.key ?? 1;
  const keyHeads = heads(linear(h, w.k, scope), numKvHeads, after ? undefined : w.kNorm);
  const keyPreRope = scope.track(keyScale === 1 ? contiguous(keyHeads) : mul(keyHeads, keyScale));
  const rotated = normedAfter(invFreq ? scope.track(rope(keyPreRope, ctx.positions, invFreq, config.ropeLayout)) : keyPreRope, w.kNorm);
  const key = keyGain ? scope.track(mul(rotated, keyGain)) : rotated;
  const value = scope.track(contiguous(heads(linear(h, w.v, scope), numKvHeads)));
  return { q, keyPreRope, key, value, outputGate };
}

/**
 * Llama 4's query temperature of each row of the batch, [1, rows, 1] in `dtype` (the queries'):
 * log1p(floor((p + 1) / floorScale)) · scale + 1 at the row's absolute position p.
 */
export function queryTemperatures({ floorScale, scale }: NonNullable<LlamaConfig['queryTemperature']>, segments: readonly Segment[], dtype: 'f32' | 'f16', backend: Backend, scope: TensorScope): Tensor {
  const values = Float32Array.from(batchPositions(segments), (p) => Math.log1p(Math.floor((p + 1) / floorScale)) * scale + 1);
  const f32 = scope.track(tensor(values, [1, values.length, 1], { dtype: 'f32', backend }));
  return dtype === 'f32' ? f32 : scope.track(cast(f32, dtype));
}

/** The model's norm of x: RMSNorm, or LayerNorm with its bias (GPT-NeoX). */
export function normalize(x: Tensor, weight: Tensor, bias: Tensor | undefined, config: LlamaConfig): Tensor {
  return config.normKind === 'layer' ? layerNorm(x, weight, bias, config.normEps) : rmsNorm(x, weight, config.normEps);
}

/**
 * Calls `observeLayer` of each segment's cache layer that has one (the optional hook of the KV-cache
 * contract) with the layer's hidden state before and after attention and their per-row cosine,
 * computed with tensor ops so nothing is read back here.
 */
function reportToLayers(before: Tensor, after: Tensor, cacheLayer: number, segments: readonly Segment[], scope: TensorScope): void {
  const observers = segments.filter((s) => s.cache.layers[cacheLayer].observeLayer);
  if (observers.length === 0) return;
  // In f32 even for 16-bit models: squared norms of hidden states overflow f16.
  const f32 = (t: Tensor) => (t.dtype === 'f32' ? t : scope.track(cast(t, 'f32')));
  const [a, b] = [f32(before), f32(after)];
  const rowSum = (t: Tensor) => scope.track(sum(t, { axes: [-1] }));
  const dot = rowSum(scope.track(mul(a, b)));
  const norms = scope.track(mul(rowSum(scope.track(mul(a, a))), rowSum(scope.track(mul(b, b)))));
  // cos = dot / √(|a|²·|b|²); the floor keeps a zero row at 0 instead of NaN.
  const cosine = scope.track(mul(dot, scope.track(rsqrt(scope.track(maximum(norms, 1e-30))))));
  const whole = segments.length === 1;
  for (const segment of observers) {
    const rows = (t: Tensor) => (whole ? t : scope.track(slice(t, [segment.start, ...t.shape.slice(1).map(() => 0)], [segment.start + segment.length, ...t.shape.slice(1)])));
    segment.cache.layers[cacheLayer].observeLayer!({
      positions: segment.positions,
      phase: segment.phase,
      hiddenIn: rows(before),
      hiddenOut: rows(after),
      cosine: rows(cosine),
    });
  }
}
