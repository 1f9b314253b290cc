import type { CudaModuleDefinition } from '@kvkit/tensor-core/cuda';
import { kiviDecodeModule } from './kivi-decode.js';
import { prefixDecodeModule } from './prefix-attention.js';
import { decodeAttentionModule, splitKMergeModule } from './split-k.js';
import { keyStatisticsModule } from './statistics.js';
import { keyPoolingModule } from './key-pooling.js';
import { pagedWriteModule } from './paged-write.js';

/** Every CUDA module of this package, e.g. to compile them ahead of use (warm the disk cache). */
export const CUDA_ATTENTION_MODULES: readonly CudaModuleDefinition[] = [
  decodeAttentionModule,
  splitKMergeModule,
  kiviDecodeModule,
  prefixDecodeModule,
  keyStatisticsModule,
  pagedWriteModule,
  keyPoolingModule,
];
