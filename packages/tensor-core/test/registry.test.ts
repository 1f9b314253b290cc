import { describe, expect, it } from 'vitest';
import {
  BackendUnavailable, CpuBackend, KvkitError, getBackend, hasKernel, kernelBackends, listKernels, registerBackend, registerKernel,
  registeredBackends, resolveBackend, runKernel, tensor, add,
} from '../src/index.js';

describe('backend registry', () => {
  it('always has the CPU backend, synchronously', async () => {
    expect(getBackend('cpu')).toBeInstanceOf(CpuBackend);
    expect(await resolveBackend('cpu')).toBe(getBackend('cpu'));
    expect(registeredBackends()).toContain('cpu');
  });

  it('resolves by preference with fallback and aggregates every failure', async () => {
    registerBackend('broken-a', () => {
      throw new Error('no adapter found');
    }, { priority: 10, installHint: 'install the `webgpu` package' });
    registerBackend('broken-b', async () => Promise.reject(new Error('driver missing')), { priority: 5 });
    expect((await resolveBackend(['broken-a', 'broken-b', 'cpu'])).name).toBe('cpu');
    expect((await resolveBackend()).name).toBe('cpu'); // by priority: broken ones fail, cpu remains
    const error = await resolveBackend(['broken-a', 'broken-b', 'nope']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailable);
    const bu = error as BackendUnavailable;
    expect(bu.code).toBe('BACKEND_UNAVAILABLE');
    expect(bu.reasons.map((r) => r.backend)).toEqual(['broken-a', 'broken-b', 'nope']);
    expect(bu.message).toMatch(/no adapter found — install the `webgpu` package/);
    expect(bu.message).toMatch(/driver missing/);
    expect(bu.message).toMatch(/no backend named "nope" is registered/);
  });

  it('retries a failed factory later and caches a successful one', async () => {
    let attempts = 0;
    registerBackend('flaky', () => {
      attempts += 1;
      if (attempts === 1) throw new Error('not yet');
      return new CpuBackend();
    });
    await expect(resolveBackend('flaky')).rejects.toThrow(/not yet/);
    const b = await resolveBackend('flaky');
    expect(await resolveBackend('flaky')).toBe(b);
    expect(attempts).toBe(2);
  });

  it('getBackend refuses a backend that was never initialized, naming what to do', () => {
    registerBackend('lazy', () => new CpuBackend());
    expect(() => getBackend('lazy')).toThrow(/call await resolveBackend\('lazy'\) first/);
    expect(() => getBackend('missing')).toThrow(expect.objectContaining({ code: 'BACKEND_UNAVAILABLE' }));
  });
});

describe('kernel registry', () => {
  it('dispatches by (kernel, backend), refuses duplicates and names where a kernel exists', () => {
    tensor([1], [1]); // CPU kernels registered
    expect(hasKernel('matmul', 'cpu')).toBe(true);
    expect(listKernels('cpu')).toEqual(expect.arrayContaining(['matmul', 'attention', 'rope', 'packBits', 'softmax']));
    const impl = () => tensor([42], [1]);
    registerKernel('fill', 'test-backend', impl as never);
    registerKernel('fill', 'test-backend', impl as never); // same function again: fine
    expect(() => registerKernel('fill', 'test-backend', (() => tensor([0], [1])) as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(kernelBackends('fill')).toEqual(expect.arrayContaining(['cpu', 'test-backend']));
    const fake = Object.assign(new CpuBackend(), { name: 'elsewhere' });
    expect(() => runKernel('fill', [], { shape: [1], dtype: 'f32', value: 0 }, fake)).toThrow(
      expect.objectContaining({ code: 'KERNEL_NOT_FOUND', message: expect.stringMatching(/registered for: cpu, test-backend/) }),
    );
  });

  it('refuses inputs from different backends', async () => {
    const other = await resolveBackend('flaky');
    const a = tensor([1], [1]);
    const b = tensor([1], [1], { backend: other });
    expect(() => add(a, b)).toThrow(expect.objectContaining({ code: 'BACKEND_MISMATCH' }));
  });
});

describe('typed errors', () => {
  it('carry stable codes and details', () => {
    try {
      tensor([1, 2, 3], [2]);
    } catch (e) {
      expect(e).toBeInstanceOf(KvkitError);
      expect((e as KvkitError).code).toBe('SHAPE_MISMATCH');
      expect((e as KvkitError).details).toMatchObject({ length: 3, shape: [2] });
      expect((e as Error).name).toBe('ShapeMismatchError');
      return;
    }
    throw new Error('expected a ShapeMismatchError');
  });
});
