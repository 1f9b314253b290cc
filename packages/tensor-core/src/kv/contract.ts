import type { Backend } from '../backend.js';
import type { AttentionMask, AttentionStatistics } from '../ops/attention.js';
import type { RotaryEmbedding } from '../rope-config.js';
import type { Tensor } from '../tensor.js';
import type { CacheMemoryReport, MemoryReport } from './memory-report.js';
import type { RecurrentState, RecurrentStateSpec } from './recurrent-state.js';

/** What the model says about the tokens it appends. */
export interface StepInfo {
  /** Absolute positions of the appended tokens (length n). Kept per token: after eviction they have gaps. */
  positions: Int32Array;
  /** 'prefill' when a prompt chunk is appended, 'decode' for generated tokens. */
  phase: 'prefill' | 'decode';
  /** Token ids of the appended tokens, for methods that look at them (FastGen's special-token heads). */
  tokenIds?: Int32Array;
}

export interface AttendOptions extends AttentionMask {
  /** Absolute positions of the queries (length m). */
  positions: Int32Array;
  /** Also return per-key attention statistics over the stored keys. */
  statistics?: boolean;
  /**
   * Also return each row's log-sum-exp (`AttendResult.lse`), so the caller can merge the result
   * with attention over other keys, or over a learned sink logit (gpt-oss). A layer whose kernel
   * cannot give it leaves `lse` out; callers that need it check.
   */
  returnLse?: boolean;
}

export interface AttendResult {
  /** [qHeads, m, headDim], in the queries' dtype. */
  output: Tensor;
  /** Per stored key, per query head (see `AttentionStatistics`), when asked for. */
  statistics?: AttentionStatistics;
  /** f32 [qHeads, m]: log Σ exp(score) over the keys each row saw (−∞ for none), when `returnLse` asked and the layer can. */
  lse?: Tensor;
}

/**
 * What a model runtime reports to a cache layer once the layer's decoder block has attended
 * (`KVCacheLayer.observeLayer`): the signals layer-wise budget methods need, such as
 * SqueezeAttention's cosine similarity between a layer's hidden state before and after attention.
 * The tensors are released when the call returns: copy what you keep.
 */
export interface LayerObservation {
  /** Absolute positions of the rows (this cache's tokens of the forward pass). */
  positions: Int32Array;
  phase: 'prefill' | 'decode';
  /** [n, hidden]: the residual stream entering the layer. */
  hiddenIn: Tensor;
  /** [n, hidden]: the residual stream after the layer's attention (x + o_proj(attention(norm(x)))). */
  hiddenOut: Tensor;
  /** f32 [n]: cos(hiddenIn_t, hiddenOut_t) per row (0 where either vector is zero). */
  cosine: Tensor;
}

/**
 * One layer of a KV cache. Everything a compression method does happens behind this interface:
 * the model appends K/V and asks for attention; the layer decides how K/V are stored (dense,
 * quantized, evicted, low-rank, paged) and which kernel reads them.
 *
 * Contract:
 * - K/V are [kvHeads, n, headDim] (grouped-query attention is native; never repeat heads).
 * - A failed `append` (bad shape, dtype, positions, out of memory) throws a typed error and leaves
 *   the layer exactly as it was.
 * - `memory()` reports bytes actually resident, by part.
 */
export interface KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Tokens appended so far (whatever is still stored). */
  readonly length: number;
  /**
   * Whether `append` takes keys after RoPE (the default) or before it. Pre-RoPE methods (KVQuant,
   * ShadowKV, Palu) apply RoPE themselves, from the stored positions and `CacheSpec.rope`.
   */
  readonly keyInput: 'post-rope' | 'pre-rope';
  /**
   * Whether `attend` gives `lse` when asked (`AttendOptions.returnLse`). Runtimes that need it
   * (attention sinks) check this before a pass writes anything; absent means no.
   */
  readonly returnsLse?: boolean;
  append(k: Tensor, v: Tensor, step: StepInfo): void;
  /** q: [qHeads, m, headDim] at `options.positions` → attention over what the layer holds. */
  attend(q: Tensor, options: AttendOptions): AttendResult;
  /**
   * Optional: called by the model runtime after the layer's `append` and `attend` of each forward
   * pass (every pass, prefill and decode), for methods that budget across layers. Runtimes that do
   * not call it leave such methods on their fallback; layers that do not need it leave it out.
   */
  observeLayer?(observation: LayerObservation): void;
  /**
   * Optional: drops every token the layer holds and frees their storage (Llama 4's chunked layers
   * at the first pass of each new chunk: its earlier tokens are never seen again). Runtimes that
   * need it refuse layers without it before writing anything.
   */
  clear?(): void;
  memory(): MemoryReport;
  dispose(): void;
}

export interface KVCache {
  readonly layers: readonly KVCacheLayer[];
  readonly spec: CacheSpec;
  /** The model's per-request state beside K/V, where its spec asks for one (`CacheSpec.recurrentState`). */
  readonly recurrentState?: RecurrentState;
  memory(): CacheMemoryReport;
  dispose(): void;
}

/** What a model tells a cache factory about itself. */
export interface CacheSpec {
  numLayers: number;
  qHeads: number;
  kvHeads: number;
  headDim: number;
  /** The model's context length (max_position_embeddings). */
  maxPositions: number;
  backend: Backend;
  /**
   * The model's rotary embedding, for layers that store pre-RoPE keys. In a layer's own spec
   * (`LayerSpec`) it is that layer's (see `layerRopes`).
   */
  rope: RotaryEmbedding;
  /**
   * One rotary embedding per layer, where the layers' differ: Gemma 3's sliding-window layers
   * rotate with their own base, and a layer without RoPE (SmolLM3's NoPE layers) has zero
   * frequencies, a rotation by nothing. `createCache` gives each layer its own as `rope`.
   */
  layerRopes?: readonly RotaryEmbedding[];
  /** Sliding-window attention of the model (Mistral), if any. */
  slidingWindow?: number;
  /**
   * The model appends one tensor as both keys and values (DeepSeek's latent attention, whose one
   * cached head is read as keys and as values): a layer may store it once — `append` then gets
   * v === k — and report no separate value bytes. Layers that ignore it store both, as for any model.
   */
  valuesAreKeys?: boolean;
  /**
   * State the model keeps per request outside attention (LFM2's convolution windows): `createCache`
   * gives the cache one (`KVCache.recurrentState`), which no compression method touches.
   */
  recurrentState?: RecurrentStateSpec;
}

export interface LayerSpec extends CacheSpec {
  layerIndex: number;
}

/** Makes one cache layer; compression methods are (composable) layer factories. */
export type CacheLayerFactory = (spec: LayerSpec) => KVCacheLayer;
