import { registerBackend } from '../backend-registry.js';
import { BackendUnavailable } from '../errors.js';
import { CudaBackend } from './cuda-backend.js';
import { registerCudaAttentionKernel } from './kernels/attention.js';
import { registerCudaElementwiseKernels } from './kernels/elementwise.js';
import { registerCudaIndexedMatmulKernel } from './kernels/indexed-matmul.js';
import { registerCudaIndexingKernels } from './kernels/indexing.js';
import { registerCudaLayoutKernels } from './kernels/layout.js';
import { registerCudaMatmulKernel } from './kernels/matmul.js';
import { registerCudaPackingKernels } from './kernels/packing.js';
import { registerCudaReduceKernels } from './kernels/reduce.js';
import { registerCudaRopeKernel } from './kernels/rope.js';
import { registerCudaCausalConvKernel } from './kernels/causal-conv.js';
import { registerCudaSelectiveScanKernel } from './kernels/selective-scan.js';
import { registerCudaGatedDeltaRuleKernel } from './kernels/gated-delta-rule.js';
import { registerCudaSoftmaxNormKernels } from './kernels/softmax-norm.js';
import type { CudaRuntimeLike, CudaRuntimeModule } from './runtime-contract.js';

let kernelsRegistered = false;

/** Registers tensor-core's CUDA kernels (every kernel of the CPU backend); idempotent. */
export function registerCudaKernels(): void {
  if (kernelsRegistered) return;
  kernelsRegistered = true;
  registerCudaLayoutKernels();
  registerCudaElementwiseKernels();
  registerCudaReduceKernels();
  registerCudaSoftmaxNormKernels();
  registerCudaMatmulKernel();
  registerCudaIndexedMatmulKernel();
  registerCudaRopeKernel();
  registerCudaCausalConvKernel();
  registerCudaSelectiveScanKernel();
  registerCudaGatedDeltaRuleKernel();
  registerCudaIndexingKernels();
  registerCudaPackingKernels();
  registerCudaAttentionKernel();
}

export const CUDA_INSTALL_HINT =
  'npm install @kvkit/cuda-runtime (Linux with an NVIDIA GPU, its driver, and NVRTC or nvcc)';

// Kept in a variable so bundlers leave the optional peer dependency to run time.
const RUNTIME_PACKAGE = '@kvkit/cuda-runtime';

async function importRuntime(): Promise<CudaRuntimeModule> {
  try {
    return (await import(/* @vite-ignore */ RUNTIME_PACKAGE)) as CudaRuntimeModule;
  } catch (error) {
    throw new BackendUnavailable(`cuda: ${RUNTIME_PACKAGE} is not installed (${(error as Error).message})`, [
      { backend: 'cuda', reason: `${RUNTIME_PACKAGE} is not installed` },
    ], { cause: error });
  }
}

export interface RegisterCudaOptions {
  /** Device ordinal (default: $KVKIT_CUDA_DEVICE or 0). */
  device?: number;
  /** Priority among registered backends (default 20: tried before WebGPU and CPU). */
  priority?: number;
  /** A runtime to use instead of loading @kvkit/cuda-runtime (tests, custom runtimes). */
  runtime?: () => CudaRuntimeLike | Promise<CudaRuntimeLike>;
}

/** A CUDA backend over a runtime, with tensor-core's CUDA kernels registered. */
export async function createCudaBackend(options: RegisterCudaOptions = {}): Promise<CudaBackend> {
  const runtime = options.runtime ? await options.runtime() : (await importRuntime()).loadCudaRuntime({ device: options.device });
  registerCudaKernels();
  return new CudaBackend(runtime);
}

/**
 * Registers 'cuda' in the backend registry. Nothing native loads until `resolveBackend('cuda')`;
 * then a missing package, driver, device or compiler surfaces as `BackendUnavailable` with the reason.
 */
export function registerCudaBackend(options: RegisterCudaOptions = {}): void {
  registerBackend('cuda', () => createCudaBackend(options), { priority: options.priority ?? 20, installHint: CUDA_INSTALL_HINT });
}
