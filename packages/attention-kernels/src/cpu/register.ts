import { registerKernel } from '@kvkit/tensor-core';
import { flashAttentionCpu } from './flash-attention.js';
import { poolKeyScoresCpu } from './key-pooling.js';
import { kiviDecodeAttentionCpu } from './kivi-decode.js';
import { mergeAttentionStatesCpu } from './merge-states.js';
import { pagedAttentionCpu, pagedMoveCpu, pagedWriteCpu } from './paged.js';
import { prefixSharedAttentionCpu } from './prefix-attention.js';
import { batchedDecodeAttentionCpu, decodeAttentionCpu } from './split-k-decode.js';
import { tokenCodesAttentionCpu } from './token-codes-attention.js';

let registered = false;

/** Registers every CPU kernel of @kvkit/attention-kernels (once). */
export function registerCpuAttentionKernels(): void {
  if (registered) return;
  registered = true;
  registerKernel('flashAttention', 'cpu', (_b, [q, k, v, qp, kp, lw], attrs) => flashAttentionCpu(q, k, v, qp, kp, lw, attrs));
  registerKernel('attentionStatistics', 'cpu', (_b, [q, k, qp, kp, lw], attrs) => {
    const { statistics } = flashAttentionCpu(q, k, undefined, qp, kp, lw, attrs);
    if (!statistics) throw new Error('attentionStatistics: statistics were not computed'); // unreachable: the op enables them
    return statistics;
  });
  registerKernel('decodeAttention', 'cpu', (_b, [q, k, v, qp, kp, lw], attrs) => decodeAttentionCpu(q, k, v, qp, kp, lw, attrs));
  registerKernel('batchedDecodeAttention', 'cpu', (_b, [q, k, v, qp, kp, indptr, lw], attrs) => batchedDecodeAttentionCpu(q, k, v, qp, kp, indptr, lw, attrs));
  registerKernel('kiviDecodeAttention', 'cpu', (_b, inputs, attrs) => kiviDecodeAttentionCpu(inputs, attrs));
  registerKernel('tokenCodesAttention', 'cpu', (_b, inputs, attrs) => tokenCodesAttentionCpu(inputs, attrs));
  registerKernel('pagedAttention', 'cpu', (_b, inputs, attrs) => pagedAttentionCpu(inputs, attrs));
  registerKernel('pagedWrite', 'cpu', (_b, inputs) => pagedWriteCpu(inputs));
  registerKernel('pagedMove', 'cpu', (_b, inputs) => pagedMoveCpu(inputs));
  registerKernel('prefixSharedAttention', 'cpu', (_b, inputs, attrs) => prefixSharedAttentionCpu(inputs, attrs));
  registerKernel('mergeAttentionStates', 'cpu', (_b, inputs) => mergeAttentionStatesCpu(inputs));
  registerKernel('poolKeyScores', 'cpu', (_b, [scores], attrs) => poolKeyScoresCpu(scores, attrs));
}
