import { BackendUnavailable, DeviceLostError, InvalidConfigError, type KvkitError, OutOfMemoryError } from '@kvkit/tensor-core';

/** A kernel that did not compile: the compiler's log, the module and the options. */
export class CudaCompileError extends InvalidConfigError {
  readonly log: string;
  constructor(module: string, compiler: string, log: string, details: Record<string, unknown> = {}) {
    super(`cuda: module "${module}" failed to compile with ${compiler}:\n${log.trim()}`, { module, compiler, ...details });
    this.log = log;
  }
}

/** The shape of the errors the addon throws. */
export interface NativeCudaError extends Error {
  cudaCode?: number;
  cudaName?: string;
  operation?: string;
}

export interface CudaErrorContext {
  /** What the runtime was doing ("launch", "alloc", "download" ...). */
  operation: string;
  /** The kernel that was launched, or the recent ones when the error surfaced later. */
  kernel?: string;
  /** Extra facts for the message and details (requested bytes, free memory ...). */
  details?: Record<string, unknown>;
}

// Driver status codes (cuda.h's CUresult), grouped by what the caller can do about them.
const OUT_OF_MEMORY = new Set([2]); // CUDA_ERROR_OUT_OF_MEMORY
const UNAVAILABLE = new Set([3, 4, 34, 35, 46, 100, 101, 222, 803, 804]); // not initialized, deinitialized, stub library, insufficient driver, busy, no device, invalid device, unsupported PTX version, system driver mismatch, compat not supported
// Sticky faults (the context is gone): uncorrectable ECC / NVLink errors, illegal address, launch
// timeout, hardware stack error, illegal instruction, misaligned address, invalid address space,
// invalid PC, launch failure (traps included), unknown.
const DEVICE_LOST = new Set([214, 220, 700, 702, 714, 715, 716, 717, 718, 719, 999]);

/**
 * Maps a driver status to a typed kvkit error that names the operation and the kernel:
 * out of memory → OutOfMemoryError; no usable driver/device → BackendUnavailable; sticky faults
 * (illegal address, launch failure, ECC) → DeviceLostError; anything else (bad launch
 * configuration, too many resources, invalid values) → InvalidConfigError.
 */
export function translateCudaError(error: unknown, context: CudaErrorContext): KvkitError | Error {
  const native = error as NativeCudaError;
  if (typeof native?.cudaCode !== 'number') return error instanceof Error ? error : new Error(String(error));
  const code = native.cudaCode;
  const name = native.cudaName ?? `CUDA_ERROR_${code}`;
  const where = context.kernel ? `${context.operation} (kernel "${context.kernel}")` : context.operation;
  const details = { cudaCode: code, cudaError: name, operation: context.operation, kernel: context.kernel, ...context.details };
  const message = `cuda: ${where} failed: ${native.message}`;
  if (OUT_OF_MEMORY.has(code)) return new OutOfMemoryError(message, details);
  if (UNAVAILABLE.has(code)) return new BackendUnavailable(message, [{ backend: 'cuda', reason: `${name}: ${native.message}` }], { cause: error });
  if (DEVICE_LOST.has(code)) return new DeviceLostError(`${message} — the CUDA context is unusable; create a new runtime`, details);
  return new InvalidConfigError(message, details);
}

/** Runs a native call, rethrowing its CUDA failures as typed errors. */
export function cudaCall<T>(context: CudaErrorContext, body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw translateCudaError(error, context);
  }
}
