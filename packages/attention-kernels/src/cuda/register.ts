import { registerCudaKernel } from '@kvkit/tensor-core/cuda';
import { flashPartitionSize } from '../gpu/flash-partition.js';
import { attentionStatisticsCuda, batchedDecodeAttentionCuda, decodeAttentionCuda, pagedAttentionCuda } from './decode-attention.js';
import { kiviDecodeAttentionCuda } from './kivi-decode.js';
import { poolKeyScoresCuda } from './key-pooling.js';
import { mergeAttentionStatesCuda } from './merge-states.js';
import { pagedMoveCuda, pagedWriteCuda } from './paged-write.js';
import { prefixSharedAttentionCuda } from './prefix-attention.js';

let registered = false;

/** Registers the CUDA kernels of @kvkit/attention-kernels (once). */
export function registerCudaAttentionKernels(): void {
  if (registered) return;
  registered = true;
  registerCudaKernel('decodeAttention', (backend, inputs, attrs) => decodeAttentionCuda(backend, inputs, attrs));
  registerCudaKernel('batchedDecodeAttention', (backend, inputs, attrs) => batchedDecodeAttentionCuda(backend, inputs, attrs));
  registerCudaKernel('kiviDecodeAttention', (backend, inputs, attrs) => kiviDecodeAttentionCuda(backend, inputs, attrs));
  registerCudaKernel('flashAttention', (backend, inputs, attrs) => decodeAttentionCuda(backend, inputs, { ...attrs, partitionSize: flashPartitionSize(inputs[0], inputs[1], inputs[2]) }));
  registerCudaKernel('pagedAttention', (backend, inputs, attrs) => pagedAttentionCuda(backend, inputs, attrs));
  registerCudaKernel('attentionStatistics', (backend, inputs, attrs) => attentionStatisticsCuda(backend, inputs, attrs));
  registerCudaKernel('pagedWrite', (backend, inputs) => pagedWriteCuda(backend, inputs));
  registerCudaKernel('pagedMove', (backend, inputs) => pagedMoveCuda(backend, inputs));
  registerCudaKernel('poolKeyScores', (backend, [scores], attrs) => poolKeyScoresCuda(backend, scores, attrs));
  registerCudaKernel('prefixSharedAttention', (backend, inputs, attrs) => prefixSharedAttentionCuda(backend, inputs, attrs));
  registerCudaKernel('mergeAttentionStates', (backend, inputs) => mergeAttentionStatesCuda(backend, inputs));
}
