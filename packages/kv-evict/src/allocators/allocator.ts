/** What one layer reports for budget allocation. */
export interface LayerSignal {
  layerIndex: number;
  /** Per KV head: the scorer's scores clipped at 0 and normalized to sum 1 (the head's importance distribution). */
  scores: Float64Array[];
  /** SqueezeAttention's signal: mean cosine similarity of the hidden state before and after the layer (when observed). */
  hiddenCosine?: number;
}

export interface AllocationContext {
  numLayers: number;
  kvHeads: number;
  /** Scored tokens per head a layer keeps on average (its budget minus its protected tokens). */
  scoredBudget: number;
}

/**
 * A layer budget allocator: turns per-layer signals into weights (mean 1) that scale each layer's
 * scored budget, so the whole cache keeps the same number of tokens as a uniform allocation. Works
 * over any scorer; protected tokens (sinks, recent window) stay in every layer.
 */
export interface LayerAllocator {
  readonly name: string;
  /** 'none': weights from the layer index alone; 'scores': from the layers' score distributions; 'hidden': from hidden states. */
  readonly needs: 'none' | 'scores' | 'hidden';
  /** While decoding, reallocate every this many steps (0 = never). */
  readonly reallocateEvery: number;
  /** During a prefill pass, reallocate among the layers seen so far every this many layers (0 = at the end of the pass only). */
  readonly layerInterval: number;
  /** One weight per signal, in the same order (mean 1), and optionally why (shown by `allocation()`, e.g. a fallback). */
  allocate(signals: readonly LayerSignal[], context: AllocationContext): Allocation;
}

export interface Allocation {
  weights: Float64Array;
  note?: string;
}

/** Scales positive values to mean 1 (all-zero or empty input: all ones). */
export function normalizeWeights(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const out = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.max(0, values[i]);
  for (let i = 0; i < n; i++) out[i] = sum > 0 ? (n * Math.max(0, values[i])) / sum : 1;
  return out;
}

/**
 * Caps weights at `max` and gives the excess to the uncapped layers in proportion to their weight,
 * keeping the mean at 1 (a layer cannot keep more tokens than it has seen).
 */
export function capWeights(weights: Float64Array, max: number): Float64Array {
  const out = Float64Array.from(weights);
  if (!(max >= 1) || !Number.isFinite(max)) return out;
  for (let round = 0; round < out.length; round++) {
    let excess = 0;
    let free = 0;
    for (let i = 0; i < out.length; i++) {
      if (out[i] > max) {
        excess += out[i] - max;
        out[i] = max;
      } else if (out[i] < max) free += out[i];
    }
    if (excess <= 1e-12 || free <= 0) break;
    for (let i = 0; i < out.length; i++) if (out[i] < max) out[i] += (excess * out[i]) / free;
  }
  return out;
}

/** Uniform budgets: every layer keeps the same. */
export function uniformAllocator(): LayerAllocator {
  return { name: 'uniform', needs: 'none', reallocateEvery: 0, layerInterval: 0, allocate: (signals) => ({ weights: new Float64Array(signals.length).fill(1) }) };
}
