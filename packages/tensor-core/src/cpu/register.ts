import { registerAttentionKernel } from './kernels/attention.js';
import { registerCausalConvKernel } from './kernels/causal-conv.js';
import { registerElementwiseKernels } from './kernels/elementwise.js';
import { registerIndexedMatmulKernel } from './kernels/indexed-matmul.js';
import { registerIndexingKernels } from './kernels/indexing.js';
import { registerLayoutKernels } from './kernels/layout.js';
import { registerMatmulKernel } from './kernels/matmul.js';
import { registerPackingKernels } from './kernels/packing.js';
import { registerReduceKernels } from './kernels/reduce.js';
import { registerRopeKernel } from './kernels/rope.js';
import { registerSelectiveScanKernel } from './kernels/selective-scan.js';
import { registerGatedDeltaRuleKernel } from './kernels/gated-delta-rule.js';
import { registerSoftmaxNormKernels } from './kernels/softmax-norm.js';

/** Registers every CPU kernel of tensor-core (called once, when the CPU backend is created). */
export function registerCpuKernels(): void {
  registerLayoutKernels();
  registerElementwiseKernels();
  registerReduceKernels();
  registerSoftmaxNormKernels();
  registerMatmulKernel();
  registerIndexedMatmulKernel();
  registerRopeKernel();
  registerCausalConvKernel();
  registerSelectiveScanKernel();
  registerGatedDeltaRuleKernel();
  registerIndexingKernels();
  registerPackingKernels();
  registerAttentionKernel();
}
