import { describe, expect, it } from 'vitest';
import { cpuBackend, requireSynchronousBackend } from '../src/index.js';
import { asAsynchronousBackend } from '../src/testing/index.js';

describe('requireSynchronousBackend', () => {
  it('passes a synchronous backend and refuses an asynchronous one with a typed error naming both', () => {
    const cpu = cpuBackend();
    expect(() => requireSynchronousBackend(cpu, 'h2o', 'scores tokens on the host')).not.toThrow();
    const async = asAsynchronousBackend(cpu, 'gpu-like');
    expect(async.synchronous).toBe(false);
    expect(async.bytesInUse()).toBe(cpu.bytesInUse()); // still the CPU underneath
    expect(() => requireSynchronousBackend(async, 'h2o', 'scores tokens on the host')).toThrow(
      expect.objectContaining({
        code: 'BACKEND_UNAVAILABLE',
        message: expect.stringMatching(/^h2o scores tokens on the host, which needs a backend that reads back synchronously \(the CPU\); "gpu-like" is asynchronous/),
        reasons: [{ backend: 'gpu-like', reason: expect.stringContaining('h2o') }],
      }),
    );
  });
});
