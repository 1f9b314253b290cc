import type { CudaModuleDefinition } from '@kvkit/tensor-core/cuda';
import { decodeAttentionModule } from './split-k.js';
import { keyPoolingModule } from './key-pooling.js';
import { pagedWriteModule } from './paged-write.js';

/** Every CUDA module of this package, e.g. to compile them ahead of use (warm the disk cache). */
export const CUDA_ATTENTION_MODULES: readonly CudaModuleDefinition[] = [decodeAttentionModule, pagedWriteModule, keyPoolingModule];
