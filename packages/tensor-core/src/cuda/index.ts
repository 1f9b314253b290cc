/**
 * @kvkit/tensor-core/cuda — the CUDA backend (TypeScript side) and the API packages use to ship
 * their own CUDA kernels. The native runtime comes from the optional peer @kvkit/cuda-runtime,
 * loaded only when the backend is resolved.
 */
export { CudaBackend, CudaStorage, DEVICE_CHECK } from './cuda-backend.js';
export { type RegisterCudaOptions, CUDA_INSTALL_HINT, createCudaBackend, registerCudaBackend, registerCudaKernels } from './register.js';
export { type CudaModuleDefinition, PRELUDE_INCLUDE, arg, BLOCK, defineCudaModule, gridFor, registerCudaKernel } from './kernel-api.js';
export { LAYOUT_BYTES, MAX_RANK, type StridedView, collapseViews, contiguousView, layoutArg, layoutBytes } from './layout-arg.js';
export { materialize, rowMajor, stridedCopy, viewOf } from './kernels/layout.js';
export { CUDA_MODULES } from './modules.js';
export type {
  CudaDeviceInfo,
  CudaFunction,
  CudaMemoryInfo,
  CudaModule,
  CudaRuntimeLike,
  CudaRuntimeModule,
  CudaSource,
  DeviceAllocation,
  Dim3,
  KernelArg,
  LaunchConfig,
} from './runtime-contract.js';
