import type { HeadView, Tensor, TokenCodes } from '@kvkit/tensor-core';

/** The keys one KV head attends over: its stored tokens, and possibly extra ones (compensation tokens, a demoted tier). */
export interface HeadKeys {
  /** [1, n, headDim] (may be built on first read, e.g. dequantized from `codes`). */
  readonly keys: Tensor;
  /** [1, n, headDim]. */
  readonly values: Tensor;
  /** Absolute positions of the n keys (causal and window masks use them). */
  positions: Int32Array;
  /**
   * Log multiplicity per key, added to its score: a key standing for c dropped tokens gets log c,
   * so softmax weighs it as c copies (RazorAttention's compensation token). Absent = 0 for all.
   */
  logWeights?: Float32Array;
  /** The same n keys and values as per-token codes (a quantized store's view): attention may read these in place. */
  codes?: { keys: TokenCodes; values: TokenCodes };
}

/** A store view as the keys of its head: keys/values read through the view (so a lazy view stays lazy), codes passed on. */
export function headKeysOf(view: HeadView): HeadKeys {
  return {
    get keys() {
      return view.keys;
    },
    get values() {
      return view.values;
    },
    positions: view.positions,
    ...(view.codes ? { codes: view.codes } : {}),
  };
}
