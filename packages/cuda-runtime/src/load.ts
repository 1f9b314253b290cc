import { BackendUnavailable } from '@kvkit/tensor-core';
import type { CudaDeviceInfo } from '@kvkit/tensor-core/cuda';
import { loadAddon, type NativeAddon } from './addon.js';
import { type CudaCompiler, defaultCacheDir, findNvcc, nvccCompiler, nvrtcCompiler } from './compiler.js';
import { emulatedDevice, emulatorCompiler, emulatorDeviceInfo } from './emulator.js';
import type { NativeCudaError } from './errors.js';
import { CudaRuntime, setDisposeHook } from './runtime.js';

export interface LoadCudaRuntimeOptions {
  /** Device ordinal; default $KVKIT_CUDA_DEVICE or 0. */
  device?: number;
  /** Compiled-kernel cache; default $KVKIT_CUDA_CACHE or ~/.cache/kvkit/cuda. */
  cacheDir?: string;
  /** 'nvrtc' (default when the library is there) or 'nvcc' (the toolkit's compiler on the PATH). */
  compiler?: 'nvrtc' | 'nvcc';
  /**
   * Run on the CPU emulator instead of a GPU (kernels compiled with the host C++ compiler, one fiber
   * per CUDA thread): for testing kernels on machines without a GPU. Default: $KVKIT_CUDA_EMULATE === '1'.
   */
  emulate?: boolean;
}

const INSTALL_HINT = 'CUDA needs an NVIDIA GPU with its driver (libcuda.so.1) and NVRTC (libnvrtc.so from the CUDA toolkit or the nvidia-cuda-nvrtc package) or nvcc on the PATH';

function unavailable(reason: string, cause?: unknown): BackendUnavailable {
  return new BackendUnavailable(`cuda is not available: ${reason}`, [{ backend: 'cuda', reason }], { cause });
}

let instance: CudaRuntime | undefined;
setDisposeHook((runtime) => {
  if (instance === runtime) instance = undefined;
});

/** Why the driver could not open a device, in words a user can act on. */
function openFailure(error: unknown): string {
  const e = error as NativeCudaError & { stage?: string; deviceCount?: number };
  if (e.stage === 'device') return `no CUDA device: ${e.message}`;
  if (e.cudaName === 'CUDA_ERROR_NO_DEVICE') return `no CUDA device: the driver is installed but found no GPU (${e.message})`;
  if (e.cudaName === 'CUDA_ERROR_INSUFFICIENT_DRIVER' || e.cudaName === 'CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE') {
    return `the NVIDIA driver is too old for this GPU or library (${e.message})`;
  }
  return `the NVIDIA driver could not open a device (${e.message})`;
}

function chooseCompiler(addon: NativeAddon, probe: ReturnType<NativeAddon['probe']>, wanted: LoadCudaRuntimeOptions['compiler']): CudaCompiler {
  const nvcc = findNvcc();
  if (wanted !== 'nvcc' && probe.nvrtc.ok && probe.nvrtc.version) return nvrtcCompiler(addon, probe.nvrtc.version);
  if (nvcc) return nvccCompiler(nvcc);
  throw unavailable(
    wanted === 'nvcc' ? 'nvcc was asked for but is not on the PATH' : `${probe.nvrtc.reason}, and no nvcc on the PATH to fall back to — ${INSTALL_HINT}`,
  );
}

/**
 * Opens the CUDA device (once per process) and returns its runtime. Throws tensor-core's
 * `BackendUnavailable` with the precise reason when it cannot: the addon is not built, no driver
 * (libcuda.so.1), no device, or no compiler (NVRTC nor nvcc).
 */
export function loadCudaRuntime(options: LoadCudaRuntimeOptions = {}): CudaRuntime {
  const emulate = options.emulate ?? process.env.KVKIT_CUDA_EMULATE === '1';
  if (instance && !instance.isDisposed && (instance.device.kind === 'emulator') === emulate) return instance;
  let addon: NativeAddon;
  try {
    addon = loadAddon();
  } catch (error) {
    throw unavailable((error as Error).message, error);
  }
  if (emulate) {
    let compiler: CudaCompiler;
    try {
      compiler = emulatorCompiler();
    } catch (error) {
      throw unavailable(`the CUDA emulator cannot start (it needs a host C++ compiler, $CXX or g++, and emulator/kvkit_emulator.h): ${(error as Error).message}`, error);
    }
    instance = new CudaRuntime(emulatedDevice(addon), emulatorDeviceInfo(compiler.id), compiler, options.cacheDir ?? defaultCacheDir());
    return instance;
  }
  const probe = addon.probe();
  if (!probe.driver.ok) throw unavailable(`${probe.driver.reason} — ${INSTALL_HINT}`);
  const ordinal = options.device ?? Number(process.env.KVKIT_CUDA_DEVICE ?? 0);
  let info: ReturnType<NativeAddon['open']>;
  try {
    info = addon.open(ordinal);
  } catch (error) {
    throw unavailable(openFailure(error), error);
  }
  let compiler: CudaCompiler;
  try {
    compiler = chooseCompiler(addon, probe, options.compiler);
  } catch (error) {
    addon.close();
    throw error;
  }
  const device: CudaDeviceInfo = {
    kind: 'cuda',
    ordinal: info.ordinal,
    name: info.name,
    computeCapability: [info.major, info.minor],
    arch: `sm_${info.major}${info.minor}`,
    multiprocessors: info.multiprocessors,
    totalMemory: info.totalMemory,
    driverVersion: info.driverVersion,
    maxThreadsPerBlock: info.maxThreadsPerBlock,
    maxSharedMemoryPerBlock: info.maxSharedMemoryPerBlock,
    maxSharedMemoryPerBlockOptin: info.maxSharedMemoryPerBlockOptin,
    l2CacheBytes: info.l2CacheBytes,
    memoryBusWidth: info.memoryBusWidth,
    compiler: compiler.id,
  };
  instance = new CudaRuntime(addon, device, compiler, options.cacheDir ?? defaultCacheDir());
  return instance;
}

/** What this machine offers, without opening a device: for diagnostics and tests. */
export function probeCuda(): { addon: string; driver: string; nvrtc: string; nvcc: string } {
  let addon: NativeAddon;
  try {
    addon = loadAddon();
  } catch (error) {
    return { addon: (error as Error).message, driver: 'unknown', nvrtc: 'unknown', nvcc: findNvcc() ?? 'not on the PATH' };
  }
  const probe = addon.probe();
  return {
    addon: 'loaded',
    driver: probe.driver.ok ? `driver ${probe.driver.version}` : probe.driver.reason,
    nvrtc: probe.nvrtc.ok ? `NVRTC ${probe.nvrtc.version?.join('.')} (${probe.nvrtc.path})` : probe.nvrtc.reason,
    nvcc: findNvcc() ?? 'not on the PATH',
  };
}
