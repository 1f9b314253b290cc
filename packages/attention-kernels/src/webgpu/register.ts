import { registerKernel } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { flashPartitionSize } from '../gpu/flash-partition.js';
import { attentionStatisticsWebGpu, batchedDecodeAttentionWebGpu, decodeAttentionWebGpu, pagedAttentionWebGpu } from './decode-attention.js';
import { kiviDecodeAttentionWebGpu } from './kivi-decode.js';
import { poolKeyScoresWebGpu } from './key-pooling.js';
import { prefixSharedAttentionWebGpu } from './prefix-attention.js';
import { mergeAttentionStatesWebGpu } from './merge-states.js';
import { pagedMoveWebGpu, pagedWriteWebGpu } from './paged-write.js';

let registered = false;

/** Registers the WebGPU (WGSL) kernels of @kvkit/attention-kernels (once). */
export function registerWebGpuAttentionKernels(): void {
  if (registered) return;
  registered = true;
  registerKernel<'decodeAttention', WebGpuBackend>('decodeAttention', 'webgpu', (backend, inputs, attrs) => decodeAttentionWebGpu(backend, inputs, attrs));
  registerKernel<'batchedDecodeAttention', WebGpuBackend>('batchedDecodeAttention', 'webgpu', (backend, inputs, attrs) => batchedDecodeAttentionWebGpu(backend, inputs, attrs));
  registerKernel<'kiviDecodeAttention', WebGpuBackend>('kiviDecodeAttention', 'webgpu', (backend, inputs, attrs) => kiviDecodeAttentionWebGpu(backend, inputs, attrs));
  registerKernel<'flashAttention', WebGpuBackend>('flashAttention', 'webgpu', (backend, inputs, attrs) =>
    decodeAttentionWebGpu(backend, inputs, { ...attrs, partitionSize: flashPartitionSize(inputs[0], inputs[1], inputs[2]) }, 'flashAttention'),
  );
  registerKernel<'pagedAttention', WebGpuBackend>('pagedAttention', 'webgpu', (backend, inputs, attrs) => pagedAttentionWebGpu(backend, inputs, attrs));
  registerKernel<'attentionStatistics', WebGpuBackend>('attentionStatistics', 'webgpu', (backend, inputs, attrs) => attentionStatisticsWebGpu(backend, inputs, attrs));
  registerKernel<'pagedWrite', WebGpuBackend>('pagedWrite', 'webgpu', (backend, inputs) => pagedWriteWebGpu(backend, inputs));
  registerKernel<'pagedMove', WebGpuBackend>('pagedMove', 'webgpu', (backend, inputs) => pagedMoveWebGpu(backend, inputs));
  registerKernel<'poolKeyScores', WebGpuBackend>('poolKeyScores', 'webgpu', (backend, [scores], attrs) => poolKeyScoresWebGpu(backend, scores, attrs));
  registerKernel<'prefixSharedAttention', WebGpuBackend>('prefixSharedAttention', 'webgpu', (backend, inputs, attrs) => prefixSharedAttentionWebGpu(backend, inputs, attrs));
  registerKernel<'mergeAttentionStates', WebGpuBackend>('mergeAttentionStates', 'webgpu', (backend, inputs) => mergeAttentionStatesWebGpu(backend, inputs));
}
