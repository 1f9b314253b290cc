import { type Backend, hasKernel, InvalidConfigError, runKernel, ShapeMismatchError, type Tensor } from '@kvkit/tensor-core';
import { isTokenCodesInput, type TokenCodesInput, validateTokenCodes } from '../formats/token-codes.js';
import { ensureAttentionKernels } from '../kernels.js';
import type { KernelAttrs, KernelResult } from './attention-types.js';
import type { DenseCallOptions } from './dense-call.js';
import { assertFloatTensor, assertGroups, assertShape, checkStatisticsFor, keyLogWeightsInput, positiveInteger, resolveKernelAttrs, withTemporaries } from './validate.js';

/** What the `tokenCodesAttention` kernels receive. */
export interface TokenCodesKernelAttrs extends KernelAttrs {
  /** 'decode': split-K partitions merged by log-sum-exp; 'flash': one sweep per block of queries. */
  mode: 'decode' | 'flash';
  partitionSize: number;
  queryBlock: number;
  keyBits: number;
  keyGroupSize: number;
  valueBits: number;
  valueGroupSize: number;
  /** false: statistics only (`attentionStatistics`); the value inputs are not read. */
  withValues: boolean;
}

type CodesCallOptions = DenseCallOptions & { partitionSize?: number; queryBlock?: number };

/**
 * The code-reading path of `decodeAttention`, `flashAttention` and `attentionStatistics`: k (and v)
 * are `{ codes: TokenCodes }`. Same checks, defaults (queries at n − m … n − 1, keys at 0 … n − 1)
 * and results as the dense path over the dequantized rows; a backend without the kernel (only the
 * CPU has it) raises KERNEL_NOT_FOUND.
 */
export function tokenCodesAttention(
  q: Tensor,
  k: Tensor | TokenCodesInput,
  v: Tensor | TokenCodesInput | undefined,
  options: CodesCallOptions,
  where: string,
  mode: 'decode' | 'flash',
): KernelResult {
  if (!isTokenCodesInput(k) || (v !== undefined && !isTokenCodesInput(v))) {
    throw new InvalidConfigError(`${where}: give both k and v as { codes } (per-token codes) or both as tensors`);
  }
  assertFloatTensor(q, where, 'q');
  assertShape(q, 3, where, 'q', '[qHeads, m, headDim]');
  const [qHeads, m, d] = q.shape;
  const keys = validateTokenCodes(k.codes, where, 'k', d);
  const values = v && validateTokenCodes(v.codes, where, 'v');
  if (values && (values.kvHeads !== keys.kvHeads || values.n !== keys.n || v.codes.codes.rank !== k.codes.codes.rank)) {
    throw new ShapeMismatchError(`${where}: v holds ${values.kvHeads} heads × ${values.n} tokens but k holds ${keys.kvHeads} × ${keys.n}`);
  }
  const { kvHeads, n } = keys;
  assertGroups(qHeads, kvHeads, where);
  const attrs: TokenCodesKernelAttrs = {
    ...resolveKernelAttrs(options, d, where),
    mode: v ? mode : 'flash',
    partitionSize: positiveInteger(options.partitionSize, 512, where, 'partitionSize'),
    queryBlock: positiveInteger(options.queryBlock, 32, where, 'queryBlock'),
    keyBits: k.codes.bits,
    keyGroupSize: k.codes.groupSize,
    valueBits: v ? v.codes.bits : 0,
    valueGroupSize: v ? v.codes.groupSize : 0,
    withValues: v !== undefined,
  };
  checkStatisticsFor(attrs.statistics, m, where);
  const logWeights = keyLogWeightsInput(options.keyLogWeights, kvHeads, n, where);
  ensureAttentionKernels(q.backend);
  const valueTensors = v ? [v.codes.codes, v.codes.scales, v.codes.zeros] : [k.codes.codes, k.codes.scales, k.codes.zeros];
  return withTemporaries(q.backend, (temps) => {
    const qPos = temps.positions(options.queryPositions, [m], n - m, where, 'queryPositions');
    const kPos = temps.positions(options.keyPositions, [n], 0, where, 'keyPositions');
    const inputs = [q, qPos, kPos, k.codes.codes, k.codes.scales, k.codes.zeros, ...valueTensors, ...(logWeights ? [logWeights] : [])];
    return runKernel('tokenCodesAttention', inputs, attrs);
  });
}

/**
 * Whether attention on `backend` can read `{ codes }` keys and values in place (a `tokenCodesAttention`
 * kernel is registered for it); callers holding codes fall back to dequantized rows where it cannot.
 */
export function readsTokenCodes(backend: Backend): boolean {
  ensureAttentionKernels(backend);
  return hasKernel('tokenCodesAttention', backend.name);
}
