export { type LoadCudaRuntimeOptions, loadCudaRuntime, probeCuda } from './load.js';
export { type CudaEvent, CudaRuntime } from './runtime.js';
export { CachingAllocator, type DeviceMemory, sizeClass, formatBytes } from './allocator.js';
export { type PackedArgs, packArgs } from './args.js';
export {
  type CompiledImage,
  type CudaCompiler,
  cacheKey,
  compileCached,
  defaultCacheDir,
  findNvcc,
  nvccCompiler,
  nvccVersion,
  writeSourceTree,
} from './compiler.js';
export { emulatorCompiler, emulatorHeaderPath } from './emulator.js';
export { CudaCompileError, type CudaErrorContext, translateCudaError } from './errors.js';
export type {
  CudaDeviceInfo,
  CudaFunction,
  CudaMemoryInfo,
  CudaModule,
  CudaRuntimeLike,
  CudaSource,
  DeviceAllocation,
  Dim3,
  KernelArg,
  LaunchConfig,
} from '@kvkit/tensor-core/cuda';
