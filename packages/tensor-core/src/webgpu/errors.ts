import { DeviceLostError, KvkitError, OutOfMemoryError } from '../errors.js';

/**
 * A WebGPU validation error: an invalid WGSL program or pipeline (a bug in a kernel, ours or a
 * package's), reported at the next read or `synchronize()` with the GPU's message.
 */
export class WebGpuValidationError extends KvkitError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_CONFIG', message, details);
  }
}

/** The typed error for an error the device reported asynchronously. */
export function fromGpuError(error: GPUError, where: string): KvkitError {
  const kind = (error as { constructor?: { name?: string } }).constructor?.name ?? '';
  if (kind === 'GPUOutOfMemoryError') {
    return new OutOfMemoryError(`webgpu: the device ran out of memory (${where}): ${error.message}`);
  }
  return new WebGpuValidationError(`webgpu: ${where}: ${error.message}`);
}

export function deviceLost(reason: string, message: string): DeviceLostError {
  return new DeviceLostError(
    `webgpu: the GPU device was lost (${reason}${message ? `: ${message}` : ''}); its tensors are gone. ` +
      'Register the backend again (registerWebGpuBackend()) and resolve it to get a new device.',
    { reason, message },
  );
}
