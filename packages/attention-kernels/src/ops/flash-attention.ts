import { runKernel, type Tensor } from '@kvkit/tensor-core';
import type { KernelOptions, KernelResult, KeyLogWeightsOption } from './attention-types.js';
import { denseCall } from './dense-call.js';
import { isTokenCodesInput, type TokenCodesInput } from '../formats/token-codes.js';
import { tokenCodesAttention } from './token-codes-attention.js';
import { positiveInteger } from './validate.js';

export interface FlashAttentionOptions extends KernelOptions, KeyLogWeightsOption {
  /** i32 [m]: absolute positions of the queries; default n − m … n − 1 (as tensor-core's `attention`). */
  queryPositions?: Tensor | Int32Array;
  /** i32 [n]: absolute positions of the keys; default 0 … n − 1 (after eviction they have gaps). */
  keyPositions?: Tensor | Int32Array;
  /** Queries per block (default 32); each K/V tile is read once per block, for every head of the group. */
  queryBlock?: number;
}

/**
 * Tiled attention with online softmax (FlashAttention) for prefill: q [qHeads, m, d],
 * k [kvHeads, n, d], v [kvHeads, n, dv] → [qHeads, m, dv], with exactly the semantics of tensor-core's
 * reference `attention` (causal, sliding window, soft-cap, scale, explicit positions, GQA without
 * repeating K/V), never materializing the m × n score matrix. Optional per-key statistics (per query
 * head; a window of last queries and a decay for SnapKV/A2SF) and log-sum-exp per row. k and v may
 * be per-token codes (`{ codes: TokenCodes }`), dequantized a tile at a time.
 */
export function flashAttention(q: Tensor, k: Tensor | TokenCodesInput, v: Tensor | TokenCodesInput, options: FlashAttentionOptions = {}): KernelResult {
  const where = 'flashAttention';
  if (isTokenCodesInput(k) || isTokenCodesInput(v)) return tokenCodesAttention(q, k, v, options, where, 'flash');
  const extra = () => ({ queryBlock: positiveInteger(options.queryBlock, 32, where, 'queryBlock') });
  return denseCall(q, k, v, options, where, extra, (attrs, qPos, kPos, logWeights) => runKernel('flashAttention', [q, k, v, qPos, kPos, logWeights], attrs));
}
