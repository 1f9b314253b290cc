import { InvalidConfigError, runKernel, ShapeMismatchError, type Tensor } from '@kvkit/tensor-core';
import { ensureAttentionKernels } from '../kernels.js';
import type { KernelOptions, KernelResult, KeyLogWeightsOption } from './attention-types.js';
import { denseCall } from './dense-call.js';
import { isTokenCodesInput, type TokenCodesInput } from '../formats/token-codes.js';
import { tokenCodesAttention } from './token-codes-attention.js';
import { assertFloatTensor, assertGroups, assertShape, checkStatisticsFor, keyLogWeightsInput, kvShapes, positiveInteger, resolveKernelAttrs, withTemporaries } from './validate.js';

export interface DecodeAttentionOptions extends KernelOptions, KeyLogWeightsOption {
  /** i32 [m]: absolute positions of the queries; default n − m … n − 1. */
  queryPositions?: Tensor | Int32Array;
  /** i32 [n]: absolute positions of the keys; default 0 … n − 1. */
  keyPositions?: Tensor | Int32Array;
  /**
   * Keys per split-K partition; partial results merge by log-sum-exp. Default: 512, except on CUDA,
   * which sizes partitions so that one wave of blocks fills the GPU (up to 8192 keys each).
   */
  partitionSize?: number;
}

/**
 * Split-K decode attention (flash-decoding) for a few queries over a long cache: the keys are cut
 * into partitions, each reduced to (max, sum, partial output), merged by log-sum-exp. Same inputs,
 * semantics and options as `flashAttention`; meant for m ≪ n. k and v may be per-token codes
 * (`{ codes: TokenCodes }`, e.g. a quantized store's `HeadView.codes`), dequantized a tile at a time.
 */
export function decodeAttention(q: Tensor, k: Tensor | TokenCodesInput, v: Tensor | TokenCodesInput, options: DecodeAttentionOptions = {}): KernelResult {
  const where = 'decodeAttention';
  if (isTokenCodesInput(k) || isTokenCodesInput(v)) return tokenCodesAttention(q, k, v, options, where, 'decode');
  const extra = () => ({ partitionSize: positiveInteger(options.partitionSize, 512, where, 'partitionSize'), partitionAuto: options.partitionSize === undefined });
  return denseCall(q, k, v, options, where, extra, (attrs, qPos, kPos, logWeights) => runKernel('decodeAttention', [q, k, v, qPos, kPos, logWeights], attrs));
}

export interface BatchedDecodeOptions extends KernelOptions, KeyLogWeightsOption {
  /** KV length of each request; request b owns rows [Σ lengths before b, + lengths[b]) of k and v. */
  kvLengths: ArrayLike<number>;
  /** i32 [batch, m]: query positions; default per request lengths[b] − m … lengths[b] − 1. */
  queryPositions?: Tensor | Int32Array;
  /** i32 [total]: key positions; default 0 … lengths[b] − 1 within each request. */
  keyPositions?: Tensor | Int32Array;
  partitionSize?: number;
}

/**
 * Decode attention for a batch of requests of different KV lengths in one call (ragged, packed K/V
 * as in FlashInfer/vLLM varlen): q [batch, qHeads, m, d], k [kvHeads, total, d], v [kvHeads, total, dv]
 * → output [batch, qHeads, m, dv]. Statistics are [qHeads, total], keys in packed order.
 */
export function batchedDecodeAttention(q: Tensor, k: Tensor, v: Tensor, options: BatchedDecodeOptions): KernelResult {
  const where = 'batchedDecodeAttention';
  assertFloatTensor(q, where, 'q');
  assertShape(q, 4, where, 'q', '[batch, qHeads, m, headDim]');
  const [batch, qHeads, m, d] = q.shape;
  const { n: total, d: kd, kvHeads } = kvShapes(k, v, where);
  if (kd !== d) throw new ShapeMismatchError(`${where}: q has head dim ${d} but k has ${kd}`);
  assertGroups(qHeads, kvHeads, where);
  const lengths = Array.from(options.kvLengths ?? [], Number);
  if (lengths.length !== batch) throw new ShapeMismatchError(`${where}: kvLengths has ${lengths.length} entries for a batch of ${batch}`);
  const indptr = new Int32Array(batch + 1);
  for (let b = 0; b < batch; b++) {
    if (!Number.isInteger(lengths[b]) || lengths[b] < 0) throw new InvalidConfigError(`${where}: kvLengths[${b}] = ${lengths[b]} is not a length`);
    indptr[b + 1] = indptr[b] + lengths[b];
  }
  if (indptr[batch] !== total) throw new ShapeMismatchError(`${where}: kvLengths sum to ${indptr[batch]} but k holds ${total} tokens`);
  const attrs = { ...resolveKernelAttrs(options, d, where), partitionSize: positiveInteger(options.partitionSize, 512, where, 'partitionSize') };
  checkStatisticsFor(attrs.statistics, m, where);
  const logWeights = keyLogWeightsInput(options.keyLogWeights, kvHeads, total, where);
  ensureAttentionKernels(q.backend);
  return withTemporaries(q.backend, (temps) => {
    const defaultQ = new Int32Array(batch * m);
    const defaultK = new Int32Array(total);
    for (let b = 0; b < batch; b++) {
      for (let i = 0; i < m; i++) defaultQ[b * m + i] = lengths[b] - m + i;
      for (let j = 0; j < lengths[b]; j++) defaultK[indptr[b] + j] = j;
    }
    const qPos = temps.positions(options.queryPositions ?? defaultQ, [batch, m], 0, where, 'queryPositions');
    const kPos = temps.positions(options.keyPositions ?? defaultK, [total], 0, where, 'keyPositions');
    return runKernel('batchedDecodeAttention', [q, k, v, qPos, kPos, temps.ints(indptr, [batch + 1]), logWeights], attrs);
  });
}
