// Core types
export { type DType, DTYPES, type HostArray, type HostArrayOf, bytesPerElement, isDType, isFloatDType, isIntegerDType, allocateHostArray } from './dtype.js';
export * from './errors.js';
export { Tensor } from './tensor.js';
export { TensorScope } from './tensor-scope.js';
export { type Shape, sizeOf, contiguousStrides, broadcastShapes, shapesEqual, formatShape } from './shape.js';
export { Rng, createRng } from './rng.js';
export { erf, normalCdf } from './special-functions.js';

// Numbers
export {
  numberToF16Bits,
  f16BitsToNumber,
  numberToBf16Bits,
  bf16BitsToNumber,
  f32ArrayToF16,
  f16ArrayToF32,
  f32ArrayToBf16,
  bf16ArrayToF32,
} from './float16.js';
export { SUPPORTED_BITS, valuesPerWord, wordsPerGroup, wordsPerRow, codeLocation, packCodes, unpackCodes } from './packing.js';
export {
  type RopeScaling,
  type RopeScalingContext,
  type RopeLayout,
  type RotaryEmbedding,
  SUPPORTED_ROPE_SCALING,
  parseRopeScaling,
  ropeAttentionFactor,
  ropeInverseFrequencies,
} from './rope-config.js';

// Backends and kernels
export type { Backend, Storage } from './backend.js';
export { requireSynchronousBackend } from './require-synchronous.js';
export {
  type BackendFactory,
  type BackendRegistration,
  registerBackend,
  registeredBackends,
  resolveBackend,
  getBackend,
  defaultBackend,
  setDefaultBackend,
} from './backend-registry.js';
export { openBackend } from './open-backend.js';
export { type KernelSignatures, type KernelName, type KernelImpl, registerKernel, runKernel, hasKernel, kernelBackends, listKernels } from './kernel-registry.js';
export { CpuBackend, CpuStorage, cpuBackend } from './cpu/cpu-backend.js';
export { keyVisible } from './cpu/kernels/attention.js';
export { hostView, hostFloat32, tensorFromHost } from './cpu/host-view.js';
export { WeightPool } from './cpu/kernels/weight-pool.js';

// Operations
export * from './ops/creation.js';
export * from './ops/layout.js';
export * from './ops/elementwise.js';
export * from './ops/reduce.js';
export * from './ops/softmax.js';
export * from './ops/norm.js';
export * from './ops/matmul.js';
export * from './ops/indexed-matmul.js';
export * from './ops/causal-conv.js';
export * from './ops/selective-scan.js';
export * from './ops/gated-delta-rule.js';
export * from './ops/rope.js';
export * from './ops/indexing.js';
export * from './ops/packing.js';
export * from './ops/attention.js';

// The safetensors file format (Hugging Face checkpoints, fitted projections)
export * from './safetensors/index.js';

// Linear algebra (float64, host)
export * from './linalg/index.js';
export * from './simd/index.js';

// The KV-cache contract
export type { StepInfo, AttendOptions, AttendResult, LayerObservation, KVCacheLayer, KVCache, CacheSpec, LayerSpec, CacheLayerFactory } from './kv/contract.js';
export { type MemoryReport, type CacheMemoryReport, memoryReport, combineReports, denseF16Bytes, formatBytes } from './kv/memory-report.js';
export { assertValuesAreKeys, validateAppend, validateAttend } from './kv/validate.js';
export { type DenseCacheOptions, DenseCacheLayer, denseCache, denseMethod } from './kv/dense-cache.js';
export { type CacheMethod, createCache } from './kv/create-cache.js';
export { type RecurrentSlotSpec, type RecurrentStateSpec, RecurrentState } from './kv/recurrent-state.js';
export { type StoreSpec, type HeadView, type TokenCodes, type TokenStore, type TokenStoreFactory, validateKeepIndices } from './kv/token-store.js';
export {
  type ParamSpec,
  type MethodParams,
  type MethodDescriptor,
  type MethodContext,
  type StoreDescriptor,
  parseMethodSpec,
  resolveParams,
  formatMethodSpec,
} from './kv/method-descriptor.js';
