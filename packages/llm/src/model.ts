import {
  add,
  type Backend,
  type CacheMethod,
  type CacheSpec,
  cast,
  concat,
  createCache,
  DisposedError,
  type DType,
  div,
  gather,
  mul,
  ones,
  tanh,
  IndexOutOfRangeError,
  InvalidConfigError,
  type KVCache,
  type RecurrentStateSpec,
  ShapeMismatchError,
  type Tensor,
  TensorScope,
  tensor,
  UnsupportedModelError,
} from '@kvkit/tensor-core';
import type { LlamaConfig } from './config.js';
import { defaultCacheMethod } from './default-cache.js';
import { AttentionChunks } from './attention-chunks.js';
import { LayerRopes } from './layer-ropes.js';
import { type MambaShared, mambaDecayRates, projectionScaleOf } from './mamba-mixer.js';
import { decoderLayer, type LayerActivations, normalize, queryTemperatures, type Segment } from './decoder-layer.js';
import { linear } from './linear.js';
import type { LlamaTokenizer } from './tokenizer.js';
import { type AttentionLayerWeights, attends, type LlamaWeights } from './weights.js';

export interface ForwardOptions {
  /** Absolute positions of the tokens; default: continuing from where this cache left off. */
  positions?: Int32Array;
  /** Logits for every token ([n, vocab], default) or only the last ([1, vocab]). */
  logits?: 'all' | 'last';
  /** Called for every layer with its activations (released when the callback returns). */
  onLayer?: (event: LayerActivations) => void;
  /** How the cache should see the tokens; default 'prefill' for several tokens or a fresh cache, else 'decode'. */
  phase?: 'prefill' | 'decode';
  /**
   * Let positions run past the model's context (max_position_embeddings). Off by default: such
   * positions were never trained on. Turn it on when the cache policy (eviction with re-indexed
   * positions, a sliding window) makes it meaningful. Learned position embeddings (GPT-2) have no
   * entry there: such a model refuses those positions regardless.
   */
  allowBeyondContext?: boolean;
}

/** One request of a batched forward pass: its tokens and its own cache. */
export interface BatchItem {
  ids: Int32Array;
  cache: KVCache;
  positions?: Int32Array;
}

export interface BatchForwardOptions {
  logits?: 'all' | 'last';
  phase?: 'prefill' | 'decode';
  allowBeyondContext?: boolean;
}

/**
 * A Llama-family decoder (Llama 2/3.x, Mistral, Qwen2, SmolLM) on a tensor-core backend. The KV
 * cache is not part of the model: each request brings its own (`createCache`), so any compression
 * method that implements the cache contract plugs in.
 */
export class LlamaModel {
  /** Bytes the weights occupy on the backend. */
  readonly weightBytes: number;
  /** The dtype the weight matrices are kept in: `dtype`, or f16/bf16 as the checkpoint stores them (loadModel's `halfWeights`). */
  readonly matrixDtype: DType;
  /** Llama 4's attention chunks: each pass within one, its rotating layers' caches emptied at each new one. */
  private readonly chunks?: AttentionChunks;
  /** Each layer's rotary embedding (frequencies, and YaRN's or LongRoPE's factor on the queries). */
  private readonly ropes: LayerRopes;
  /** Each Mamba or Gated DeltaNet layer's decay rates −exp(A_log) (`mambaDecayRates`), by decoder layer. */
  private readonly decayRates: ReadonlyMap<number, Tensor>;
  /** What each request's cache keeps beside its K/V (a hybrid's recurrent state), derived once from the config. */
  private readonly recurrentStateSpec: RecurrentStateSpec | undefined;
  /** `recurrentStateSpec`'s slots as a string, to compare a cache's against. */
  private readonly recurrentSlotsKey: string;
  /** What the Mamba layers share (`MambaShared`), built once. */
  private readonly mambaShared: MambaShared;
  /** Next position of each cache this model has written to (positions survive eviction; lengths do not). */
  private readonly nextPositions = new WeakMap<KVCache, number>();
  private disposed = false;

  constructor(
    readonly config: LlamaConfig,
    private readonly weights: LlamaWeights,
    readonly backend: Backend,
    /** Weight and activation dtype on the backend. */
    readonly dtype: 'f32' | 'f16',
    private readonly tokenizerInstance?: LlamaTokenizer,
  ) {
    this.weightBytes = weights.bytes;
    const { attentionChunk, attentionLayers, noRopeLayers } = config;
    // Llama 4's rotating layers attend within chunks; its NoPE layers to everything.
    if (attentionChunk !== undefined) this.chunks = new AttentionChunks(attentionChunk, attentionLayers.flatMap((layer, i) => (noRopeLayers.includes(layer) ? [] : [i])));
    this.matrixDtype = (weights.layers.find(attends)?.q ?? weights.layers.find((layer) => layer.latent)?.latent?.query)?.weight.dtype ?? dtype;
    this.ropes = new LayerRopes(config, backend, dtype);
    const decaying = (i: number) => weights.layers[i].mamba ?? weights.layers[i].mamba1 ?? weights.layers[i].deltaNet;
    this.decayRates = new Map(weights.layers.flatMap((_, i) => (decaying(i) ? [[i, mambaDecayRates(decaying(i)!)] as const] : [])));
    this.recurrentStateSpec = recurrentStateOf(config, dtype);
    this.recurrentSlotsKey = JSON.stringify(this.recurrentStateSpec?.slots);
    const mamba = config.mamba;
    const projectionScale = projectionScaleOf(config);
    this.mambaShared = {
      ...(mamba && mamba.normGroupSize < mamba.inner ? { unitNorm: ones([mamba.normGroupSize], { dtype, backend }) } : {}),
      ...(projectionScale ? { projectionScale: tensor(projectionScale, [projectionScale.length], { dtype, backend }) } : {}),
    };
  }

  get tokenizer(): LlamaTokenizer {
    if (!this.tokenizerInstance) throw new UnsupportedModelError('this model was loaded without a tokenizer (no tokenizer.json, or { tokenizer: false })');
    return this.tokenizerInstance;
  }

  get hasTokenizer(): boolean {
    return this.tokenizerInstance !== undefined;
  }

  /** What a cache factory needs to know about this model. */
  cacheSpec(): CacheSpec {
    const { numHeads, numKvHeads, headDim, maxPositions, slidingLayers, attentionLayers } = this.config;
    const { globalFrequencies, layerFrequencies } = this.ropes;
    const layout = this.config.ropeLayout;
    const rope = { invFreq: globalFrequencies.slice(), layout };
    // Each attention layer's own, where the layers' differ.
    const layerRopes = layerFrequencies.some((f) => f !== globalFrequencies)
      ? attentionLayers.map((layer) => ({ invFreq: layerFrequencies[layer].slice(), layout }))
      : undefined;
    // A window every layer uses (Mistral's); Gemma 3's per-layer windows reach the layers as they attend.
    const slidingWindow = slidingLayers === undefined ? this.config.slidingWindow : undefined;
    return {
      numLayers: attentionLayers.length,
      qHeads: numHeads,
      kvHeads: numKvHeads,
      headDim,
      maxPositions,
      backend: this.backend,
      rope,
      ...(slidingWindow !== undefined ? { slidingWindow } : {}),
      ...(layerRopes ? { layerRopes } : {}),
      // DeepSeek's latent head is read as keys and as values: a layer may keep one copy.
      ...(this.config.latentAttention ? { valuesAreKeys: true } : {}),
      ...(this.recurrentStateSpec ? { recurrentState: this.recurrentStateSpec } : {}),
    };
  }

  /**
   * The attention projection weights of KV-cache layer `layer` (the decoder layer of that index,
   * or in a hybrid model `config.attentionLayers[layer]`) in Hugging Face layout [out, in] (the
   * model's own tensors, on its backend: read them, do not dispose them), for calibration fits that
   * start from the weights (Palu's low-rank W_k / W_v, MHA2MLA).
   */
  attentionWeights(layer: number): { q: Tensor; k: Tensor; v: Tensor; o: Tensor } {
    this.assertAlive();
    const { attentionLayers } = this.config;
    if (!Number.isInteger(layer) || layer < 0 || layer >= attentionLayers.length) {
      const counted = attentionLayers.length < this.config.numLayers ? ' (the layers that attend, as the KV cache counts them)' : '';
      throw new IndexOutOfRangeError(`attentionWeights: layer ${layer} is outside 0…${attentionLayers.length - 1}${counted}`, { layer });
    }
    const w = this.weights.layers[attentionLayers[layer]] as AttentionLayerWeights;
    if (this.config.latentAttention) {
      throw new UnsupportedModelError(
        `attentionWeights: ${this.config.modelType}'s latent attention (MLA) has no per-head key and value projections: its keys come through an RMSNorm of the latent, which the cache already holds as one compressed head; fit from activations (onLayer) instead`,
        { layer, modelType: this.config.modelType },
      );
    }
    return { q: w.q.weight, k: w.k.weight, v: w.v.weight, o: w.o.weight };
  }

  /**
   * A routing layer's experts (`config.moe`), as stacked at load: the router [experts, hidden], each
   * expert's gate rows then up rows [experts, 2 · expertSize, hidden] (`gateUp`; for ungated experts,
   * Nemotron-H's, their up rows [experts, expertSize, hidden] as `up`), and down [experts, hidden,
   * expertSize]; undefined on a dense layer. The model owns them (do not dispose).
   */
  expertWeights(layer: number): { router: Tensor; gateUp?: Tensor; up?: Tensor; down: Tensor } | undefined {
    this.assertAlive();
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.config.numLayers) {
      throw new IndexOutOfRangeError(`expertWeights: layer ${layer} is outside 0…${this.config.numLayers - 1}`, { layer });
    }
    const moe = this.weights.layers[layer].moe;
    return moe && { router: moe.router.weight, ...(moe.gateUp ? { gateUp: moe.gateUp } : { up: moe.up }), down: moe.down };
  }

  /**
   * A cache for one request; default: attention-kernels' paged cache in the model's dtype (the dense
   * cache on backends without its kernels, see `defaultCacheMethod`).
   */
  createCache(method: CacheMethod = defaultCacheMethod(this.backend, this.dtype)): KVCache {
    this.assertAlive();
    return createCache(this.cacheSpec(), method);
  }

  /** The position the next token fed through `cache` gets. */
  nextPosition(cache: KVCache): number {
    return this.nextPositions.get(cache) ?? cache.layers[0]?.length ?? 0;
  }

  /**
   * Runs `ids` through the model, appending their K/V to `cache`, and returns f32 logits
   * ([n, vocab], or [1, vocab] with `logits: 'last'`). Everything is checked before the cache is touched.
   */
  forward(ids: Int32Array, cache: KVCache, options: ForwardOptions = {}): Tensor {
    const { onLayer, ...rest } = options;
    const runs = this.chunks && !options.positions ? this.chunks.runs(this.nextPosition(cache), ids.length) : [];
    if (runs.length <= 1) return this.run([{ ids, cache, positions: options.positions }], rest, onLayer);
    // Llama 4: ids spanning attention chunks run as one pass per chunk, all checked before the first writes.
    this.plan([{ ids, cache }], rest);
    this.chunks!.assertClearable(cache, this.nextPosition(cache) + runs[1][0]);
    const parts = runs.map(([from, to]) => this.run([{ ids: ids.subarray(from, to), cache }], rest, onLayer));
    if (options.logits === 'last') {
      for (const part of parts.slice(0, -1)) part.dispose();
      return parts[parts.length - 1];
    }
    try {
      return concat(parts, 0);
    } finally {
      for (const part of parts) part.dispose();
    }
  }

  /**
   * One forward pass over several requests, each with its own cache: the projections and the MLP run
   * once over all rows (one matmul per weight), attention runs per request through its cache.
   * Logits rows follow the items (with 'last': one row per item).
   */
  forwardBatch(items: readonly BatchItem[], options: BatchForwardOptions = {}): Tensor {
    return this.run(items, options);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const seen = new Set<Tensor>();
    const release = (t: Tensor | undefined): void => {
      if (t && !seen.has(t)) {
        seen.add(t);
        t.dispose();
      }
    };
    release(this.weights.embed);
    release(this.weights.positionEmbed);
    release(this.weights.lmHead);
    release(this.weights.lmHeadBias);
    release(this.weights.finalNorm);
    release(this.weights.finalNormBias);
    for (const layer of this.weights.layers) {
      const norms = [layer.inputNorm, layer.inputNormBias, layer.postAttentionNorm, layer.postAttentionNormBias, layer.qNorm, layer.kNorm, layer.attentionOutputNorm, layer.mlpOutputNorm];
      for (const norm of norms) release(norm);
      const moe = layer.moe;
      const shared = moe?.shared;
      release(layer.conv?.kernel);
      release(layer.conv?.kernelBias);
      for (const t of [layer.mamba?.kernel, layer.mamba?.kernelBias, layer.mamba?.dtBias, layer.mamba?.aLog, layer.mamba?.d, layer.mamba?.norm]) release(t);
      const dn = layer.deltaNet;
      const m1 = layer.mamba1;
      for (const t of [dn?.kernel, dn?.dtBias, dn?.aLog, dn?.norm, m1?.kernel, m1?.kernelBias, m1?.dtNorm, m1?.bNorm, m1?.cNorm, m1?.aLog, m1?.d]) release(t);
      for (const lin of [dn?.qkv, dn?.z, dn?.b, dn?.a, dn?.outProj, m1?.inProj, m1?.xProj, m1?.dtProj, m1?.outProj]) {
        release(lin?.weight);
        release(lin?.bias);
      }
      for (const lin of [layer.q, layer.qGate, layer.k, layer.v, layer.o, layer.conv?.inProj, layer.conv?.outProj, layer.mamba?.inProj, layer.mamba?.outProj, layer.gate, layer.up, layer.down, moe?.router, shared?.gate, shared?.up, shared?.down, moe?.sharedGate]) {
        release(lin?.weight);
        release(lin?.bias);
      }
      release(moe?.gateUp);
      release(moe?.up);
      release(moe?.selectionBias);
      release(moe?.down);
    }
    this.ropes.dispose();
    for (const rates of this.decayRates.values()) rates.dispose();
    this.mambaShared.unitNorm?.dispose();
    this.mambaShared.projectionScale?.dispose();
    this.weights.pool?.release();
  }

  private run(items: readonly BatchItem[], options: BatchForwardOptions, onLayer?: (event: LayerActivations) => void): Tensor {
    this.assertAlive();
    if (items.length === 0) throw new InvalidConfigError('forwardBatch: needs at least one item');
    const segments = this.plan(items, options);
    const allIds = concatInt32(items.map((item) => item.ids));
    const allPositions = concatInt32(segments.map((s) => s.positions));
    const reach = maxOf(allPositions) + 1;
    if (this.ropes.beyondOriginalContext(reach)) {
      refusePreRopeCaches(
        segments,
        `this pass reaches ${reach} tokens, beyond the original context of ${this.ropes.originalContext} where ${this.ropes.beyondOriginal}; ` +
          'a cache that keeps keys before RoPE rotates them with one set of frequencies and cannot follow',
        { reach },
      );
    }
    if (this.config.qkNormAfterRope && this.config.qkNorm !== 'none') refusePreRopeCaches(segments, "this model normalizes each head's keys after RoPE, which a cache that keeps keys before RoPE cannot reproduce");
    if (this.config.attentionSinks) assertLseLayers(segments);
    const entering = this.chunks?.entering(segments, (cache) => this.nextPosition(cache)) ?? [];
    // Checked: from here on the caches are written, first by emptying the chunked layers of those entering a new chunk.
    this.chunks?.clear(entering);
    const layerRope = this.ropes.forPass(reach);
    const scope = new TensorScope();
    try {
      const positions = scope.track(tensor(allPositions, [allPositions.length], { dtype: 'i32', backend: this.backend }));
      const idTensor = scope.track(tensor(allIds, [allIds.length], { dtype: 'i32', backend: this.backend }));
      let x = scope.track(gather(this.weights.embed, idTensor, 0));
      // Embeddings kept in half precision (loadModel's halfWeights) are widened row by row as looked up.
      if (x.dtype !== this.dtype) x = scope.track(cast(x, this.dtype));
      if (this.config.embedScale !== 1) x = scope.track(mul(x, this.config.embedScale));
      // GPT-2: each row's learned position embedding added.
      const { positionEmbed } = this.weights;
      if (positionEmbed) {
        const placed = scope.track(gather(positionEmbed, positions, 0));
        x = scope.track(add(x, placed.dtype === x.dtype ? placed : scope.track(cast(placed, x.dtype))));
      }
      const { queryTemperature } = this.config;
      const ctx = {
        config: this.config,
        layerRope,
        positions,
        segments,
        onLayer,
        decayRates: this.decayRates,
        mambaShared: this.mambaShared,
        ...(queryTemperature ? { queryTemperature: queryTemperatures(queryTemperature, segments, this.dtype, this.backend, scope) } : {}),
      };
      for (let i = 0; i < this.config.numLayers; i++) x = scope.track(decoderLayer(x, this.weights.layers[i], i, ctx));
      for (const s of segments) this.nextPositions.set(s.cache, Math.max(this.nextPosition(s.cache), maxOf(s.positions) + 1));
      if (options.logits === 'last') {
        const lastRows = Int32Array.from(segments, (s) => s.start + s.length - 1);
        x = scope.track(gather(x, scope.track(tensor(lastRows, [lastRows.length], { dtype: 'i32', backend: this.backend })), 0));
      }
      const normed = scope.track(normalize(x, this.weights.finalNorm, this.weights.finalNormBias, this.config));
      let logits = linear(normed, { weight: this.weights.lmHead, ...(this.weights.lmHeadBias ? { bias: this.weights.lmHeadBias } : {}) }, scope);
      // Granite: logits / logits_scaling.
      if (this.config.logitsDivisor !== 1) logits = scope.track(div(logits, this.config.logitsDivisor));
      const cap = this.config.finalLogitSoftcap;
      // Gemma 2: logits held within ±cap, as cap · tanh(logits / cap).
      if (cap !== undefined) logits = scope.track(mul(scope.track(tanh(scope.track(div(logits, cap)))), cap));
      return logits.dtype === 'f32' ? scope.untrack(logits) : cast(logits, 'f32');
    } finally {
      scope.dispose();
    }
  }

  /** Checks every item before any cache is written, and lays the rows out as segments. */
  private plan(items: readonly BatchItem[], options: BatchForwardOptions): Segment[] {
    const { vocabSize, maxPositions, attentionLayers, numKvHeads, headDim, shortConv } = this.config;
    const numLayers = attentionLayers.length;
    const segments: Segment[] = [];
    const caches = new Set<KVCache>();
    let start = 0;
    items.forEach((item, index) => {
      const where = items.length === 1 ? 'forward' : `forwardBatch item ${index}`;
      const { ids, cache } = item;
      if (!(ids instanceof Int32Array) || ids.length === 0) throw new InvalidConfigError(`${where}: ids must be a non-empty Int32Array`);
      for (let i = 0; i < ids.length; i++) {
        if (ids[i] < 0 || ids[i] >= vocabSize) {
          throw new IndexOutOfRangeError(`${where}: token id ${ids[i]} at index ${i} is outside the vocabulary [0, ${vocabSize})`, { index: i, id: ids[i] });
        }
      }
      const spec = cache?.spec;
      const stateFits = !this.recurrentStateSpec || JSON.stringify(cache?.recurrentState?.spec.slots) === this.recurrentSlotsKey;
      if (!spec || cache.layers.length !== numLayers || spec.kvHeads !== numKvHeads || spec.headDim !== headDim || !stateFits) {
        const { deltaNet } = this.config;
        const mamba = this.config.mamba ?? this.config.mamba1;
        const hybrid = shortConv
          ? `, and the convolution state of ${shortConv.layers.length} layers`
          : mamba
            ? `, and the state of ${mamba.layers.length} Mamba layers`
            : deltaNet
              ? `, and the state of ${deltaNet.layers.length} Gated DeltaNet layers`
              : '';
        const needs = `${numLayers} layers of ${numKvHeads} KV heads × ${headDim}${hybrid}`;
        throw new ShapeMismatchError(`${where}: the cache does not fit this model (needs ${needs}); make it with model.createCache()`);
      }
      if (caches.has(cache)) throw new InvalidConfigError(`${where}: the same cache appears twice in one batch`);
      caches.add(cache);
      const next = this.nextPosition(cache);
      const positions = item.positions ?? Int32Array.from({ length: ids.length }, (_, i) => next + i);
      if (!(positions instanceof Int32Array) || positions.length !== ids.length) {
        throw new ShapeMismatchError(`${where}: positions must be an Int32Array with one entry per token (${ids.length})`);
      }
      for (let i = 0; i < positions.length; i++) {
        if (positions[i] < 0) throw new InvalidConfigError(`${where}: position ${positions[i]} at index ${i} is negative`);
        if (positions[i] >= maxPositions && this.config.learnedPositions) {
          throw new IndexOutOfRangeError(`${where}: position ${positions[i]} is beyond the ${maxPositions} learned position embeddings (n_positions); there is nothing to add there`, {
            position: positions[i],
            maxPositions,
          });
        }
        if (positions[i] >= maxPositions && !options.allowBeyondContext) {
          throw new IndexOutOfRangeError(
            `${where}: position ${positions[i]} is beyond the model's context of ${maxPositions} tokens (max_position_embeddings); ` +
              'shorten the input, or pass allowBeyondContext when the cache policy handles long inputs',
            { position: positions[i], maxPositions },
          );
        }
      }
      const phase = options.phase ?? (ids.length > 1 || next === 0 ? 'prefill' : 'decode');
      segments.push({ cache, start, length: ids.length, positions, tokenIds: ids, phase });
      start += ids.length;
    });
    return segments;
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError('LlamaModel');
  }
}

/**
 * Refuses, before anything is written, caches that keep keys before RoPE for a pass whose keys they
 * could not rebuild: LongRoPE's long factors or dynamic NTK's grown base beyond the original context
 * (such a cache rotates with one set of frequencies, the spec's), or Hunyuan's keys normalized after
 * RoPE (a weight per channel, which a rotation does not commute with).
 */
function refusePreRopeCaches(segments: readonly Segment[], why: string, details?: Record<string, unknown>): void {
  if (!segments.some((s) => s.cache.layers.some((layer) => layer.keyInput === 'pre-rope'))) return;
  throw new UnsupportedModelError(`forward: ${why}. Use a cache that stores rotated keys`, details);
}

/**
 * Attention sinks (gpt-oss) scale each row by its log-sum-exp, which only some cache layers give
 * (`KVCacheLayer.returnsLse`): any other is refused before anything is written.
 */
function assertLseLayers(segments: readonly Segment[]): void {
  for (const { cache } of segments) {
    const layer = cache.layers.find((l) => !l.returnsLse);
    if (!layer) continue;
    throw new InvalidConfigError(
      `forward: cache layer ${layer.layerIndex} (${layer.constructor.name}) gives no log-sum-exp, which this model's attention sinks need; ` +
        'use a cache whose layers do (KVCacheLayer.returnsLse: every kvkit cache)',
      { layer: layer.layerIndex },
    );
  }
}

function concatInt32(parts: readonly Int32Array[]): Int32Array {
  if (parts.length === 1) return parts[0];
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function maxOf(values: Int32Array): number {
  let m = -1;
  for (const v of values) if (v > m) m = v;
  return m;
}

/**
 * What a hybrid keeps per request: LFM2's convolution layers their last kernel − 1 inputs (in the
 * model's dtype); the Mamba layers (Granite 4.0-H, Nemotron-H, Falcon-H1, Bamba; Jamba's Mamba-1) their convolution
 * rows and f32 scan state; Gated DeltaNet layers their convolution rows and f32 state.
 */
function recurrentStateOf(config: LlamaConfig, dtype: DType): RecurrentStateSpec | undefined {
  const { shortConv, mamba, mamba1, deltaNet, hiddenSize } = config;
  // An LFM2 config whose every layer attends keeps nothing.
  if (shortConv) return shortConv.layers.length > 0 ? { slots: shortConv.layers.map(() => ({ shape: [shortConv.kernel - 1, hiddenSize], dtype })) } : undefined;
  // Two slots per layer: its convolution rows, then its f32 state.
  const pairs = (layers: number[], convRows: number[], state: number[]): RecurrentStateSpec => ({
    slots: layers.flatMap(() => [{ shape: convRows, dtype }, { shape: state, dtype: 'f32' as const }]),
  });
  if (deltaNet) return pairs(deltaNet.layers, [deltaNet.convKernel - 1, deltaNet.convDim], [deltaNet.valueHeads, deltaNet.keyDim, deltaNet.valueDim]);
  if (mamba) return pairs(mamba.layers, [mamba.convKernel - 1, mamba.convDim], [mamba.heads, mamba.headDim, mamba.dState]);
  // Mamba-1: each channel a head of one.
  if (mamba1) return pairs(mamba1.layers, [mamba1.convKernel - 1, mamba1.inner], [mamba1.inner, 1, mamba1.dState]);
  return undefined;
}
