// The ops modules declare the kernel signatures (declaration merging); bring them all into scope.
import type {} from '../../index.js';
import { type KernelImpl, type KernelName, registerKernel } from '../../kernel-registry.js';
import type { WebGpuBackend } from '../backend.js';
import { attentionTensor } from './attention.js';
import { causalConvTensor } from './causal-conv.js';
import { binaryOp, unaryOp } from './elementwise.js';
import { indexedMatmulTensor } from './indexed-matmul.js';
import { gatherTensor, scatterTensor } from './indexing.js';
import { assignInto, castTensor, concatTensors, contiguousCopy, fillTensor } from './layout.js';
import { matmulTensor } from './matmul.js';
import { packBitsTensor, unpackBitsTensor } from './packing.js';
import { argReduceTensor, reduceTensor } from './reduce.js';
import { ropeTensor } from './rope.js';
import { selectiveScanTensor } from './selective-scan.js';
import { gatedDeltaRuleTensor } from './gated-delta-rule.js';
import { layerNormTensor, rmsNormTensor, softmaxTensor } from './softmax-norm.js';
import { topkTensor } from './topk.js';

type Impl<K extends KernelName> = KernelImpl<K, WebGpuBackend>;

// Module-level constants: registering twice registers the same functions, which is a no-op.
const KERNELS: { [K in KernelName]?: Impl<K> } = {
  contiguous: (b, [x]) => contiguousCopy(b, x),
  cast: (b, [x], { dtype }) => castTensor(b, x, dtype),
  concat: (b, inputs, { axis }) => concatTensors(b, inputs, axis),
  assign: (b, [target, source]) => assignInto(b, target, source),
  fill: (b, _inputs, { shape, dtype, value }) => fillTensor(b, shape, dtype, value),
  binary: (b, [x, y], { op, shape }) => binaryOp(b, x, y, op, shape),
  unary: (b, [x], attrs) => unaryOp(b, x, attrs),
  reduce: (b, [x], { op, axes, keepDims }) => reduceTensor(b, x, op, axes, keepDims),
  argReduce: (b, [x], { op, axis, keepDims }) => argReduceTensor(b, x, op, axis, keepDims),
  topk: (b, [x], { k, largest }) => topkTensor(b, x, k, largest),
  softmax: (b, [x], { axis, log }) => softmaxTensor(b, x, axis, log),
  rmsNorm: (b, [x, weight], { eps }) => rmsNormTensor(b, x, weight, eps),
  layerNorm: (b, [x, weight, bias], { eps }) => layerNormTensor(b, x, weight, bias, eps),
  matmul: (b, [x, y], attrs) => matmulTensor(b, x, y, attrs),
  indexedMatmul: (b, [x, weights, indices], attrs) => indexedMatmulTensor(b, x, weights, indices, attrs),
  rope: (b, [x, positions, invFreq], { layout }) => ropeTensor(b, x, positions, invFreq, layout),
  causalConv1d: (b, [window, weight, bias]) => causalConvTensor(b, window, weight, bias),
  selectiveScan: (b, inputs) => selectiveScanTensor(b, inputs),
  gatedDeltaRule: (b, inputs) => gatedDeltaRuleTensor(b, inputs),
  gather: (b, [x, indices], { axis }) => gatherTensor(b, x, indices, axis),
  scatter: (b, [x, indices, updates], { axis, mode }) => scatterTensor(b, x, indices, updates, axis, mode),
  packBits: (b, [codes], { bits, groupSize }) => packBitsTensor(b, codes, bits, groupSize),
  unpackBits: (b, [words], { bits, groupSize, length }) => unpackBitsTensor(b, words, bits, groupSize, length),
  attention: (b, inputs, attrs) => attentionTensor(b, inputs, attrs),
};

/** Names of the kernels tensor-core registers for 'webgpu' (every kernel of `KernelSignatures`). */
export const WEBGPU_KERNELS = Object.keys(KERNELS) as KernelName[];

/** Registers every WGSL kernel of tensor-core for the 'webgpu' backend (idempotent). */
export function registerWebGpuKernels(): void {
  for (const name of WEBGPU_KERNELS) registerKernel(name, 'webgpu', KERNELS[name] as Impl<typeof name>);
}
