import type { Tensor } from '@kvkit/tensor-core';

/** The keys one KV head attends over: its stored tokens, and possibly extra ones (compensation tokens, a demoted tier). */
export interface HeadKeys {
  /** [1, n, headDim]. */
  keys: Tensor;
  /** [1, n, headDim]. */
  values: Tensor;
  /** Absolute positions of the n keys (causal and window masks use them). */
  positions: Int32Array;
  /**
   * Log multiplicity per key, added to its score: a key standing for c dropped tokens gets log c,
   * so softmax weighs it as c copies (RazorAttention's compensation token). Absent = 0 for all.
   */
  logWeights?: Float32Array;
}
