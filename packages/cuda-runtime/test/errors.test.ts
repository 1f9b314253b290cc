import { BackendUnavailable, DeviceLostError, InvalidConfigError, OutOfMemoryError } from '@kvkit/tensor-core';
import { describe, expect, it } from 'vitest';
import { translateCudaError } from '../src/index.js';

function nativeError(code: number, name: string, operation = 'cuLaunchKernel'): Error {
  return Object.assign(new Error(`${operation} failed: ${name} (${code}): text`), { cudaCode: code, cudaName: name, operation });
}

describe('translateCudaError', () => {
  it('maps each class of driver status to a typed error naming the operation and kernel', () => {
    const cases: [number, string, new (...args: never[]) => Error, string][] = [
      [2, 'CUDA_ERROR_OUT_OF_MEMORY', OutOfMemoryError, 'OUT_OF_MEMORY'],
      [100, 'CUDA_ERROR_NO_DEVICE', BackendUnavailable, 'BACKEND_UNAVAILABLE'],
      [35, 'CUDA_ERROR_INSUFFICIENT_DRIVER', BackendUnavailable, 'BACKEND_UNAVAILABLE'],
      [700, 'CUDA_ERROR_ILLEGAL_ADDRESS', DeviceLostError, 'DEVICE_LOST'],
      [719, 'CUDA_ERROR_LAUNCH_FAILED', DeviceLostError, 'DEVICE_LOST'],
      [701, 'CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES', InvalidConfigError, 'INVALID_CONFIG'],
      [1, 'CUDA_ERROR_INVALID_VALUE', InvalidConfigError, 'INVALID_CONFIG'],
      [218, 'CUDA_ERROR_INVALID_PTX', InvalidConfigError, 'INVALID_CONFIG'],
      [716, 'CUDA_ERROR_MISALIGNED_ADDRESS', DeviceLostError, 'DEVICE_LOST'],
    ];
    for (const [code, name, type, kvCode] of cases) {
      const error = translateCudaError(nativeError(code, name), { operation: 'launch', kernel: 'kv_unary_f32' });
      expect(error, name).toBeInstanceOf(type);
      expect((error as { code: string }).code, name).toBe(kvCode);
      expect(error.message, name).toContain('kernel "kv_unary_f32"');
      expect(error.message, name).toContain(name);
    }
  });

  it('keeps the CUDA status in the details', () => {
    const error = translateCudaError(nativeError(1, 'CUDA_ERROR_INVALID_VALUE'), { operation: 'launch', kernel: 'k', details: { grid: [1, 1, 1] } }) as InvalidConfigError;
    expect(error.details).toMatchObject({ cudaCode: 1, cudaError: 'CUDA_ERROR_INVALID_VALUE', operation: 'launch', kernel: 'k', grid: [1, 1, 1] });
  });

  it('passes errors that did not come from the driver through', () => {
    const plain = new Error('plain');
    expect(translateCudaError(plain, { operation: 'x' })).toBe(plain);
    expect(translateCudaError('text', { operation: 'x' }).message).toBe('text');
  });
});
