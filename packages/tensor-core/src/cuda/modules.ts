import type { CudaModuleDefinition } from './kernel-api.js';
import { attentionModule } from './kernels/attention.js';
import { elementwiseModule } from './kernels/elementwise.js';
import { indexedMatmulModule } from './kernels/indexed-matmul.js';
import { indexingModule } from './kernels/indexing.js';
import { layoutModule } from './kernels/layout.js';
import { matmulMma256Module, matmulModule } from './kernels/matmul.js';
import { packingModule } from './kernels/packing.js';
import { reduceModule } from './kernels/reduce.js';
import { ropeModule } from './kernels/rope.js';
import { causalConvModule } from './kernels/causal-conv.js';
import { selectiveScanModule } from './kernels/selective-scan.js';
import { gatedDeltaRuleModule } from './kernels/gated-delta-rule.js';
import { softmaxNormModule } from './kernels/softmax-norm.js';

/** Every CUDA module of tensor-core, e.g. to compile them all ahead of use (warm the disk cache). */
export const CUDA_MODULES: readonly CudaModuleDefinition[] = [
  layoutModule,
  elementwiseModule,
  reduceModule,
  softmaxNormModule,
  matmulModule,
  matmulMma256Module,
  indexedMatmulModule,
  ropeModule,
  causalConvModule,
  selectiveScanModule,
  gatedDeltaRuleModule,
  indexingModule,
  packingModule,
  attentionModule,
];
