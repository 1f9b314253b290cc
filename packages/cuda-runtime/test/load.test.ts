import { BackendUnavailable, registeredBackends, resolveBackend } from '@kvkit/tensor-core';
import { CUDA_INSTALL_HINT, registerCudaBackend } from '@kvkit/tensor-core/cuda';
import { describe, expect, it } from 'vitest';
import { addonCandidates, loadAddon } from '../src/addon.js';
import { loadCudaRuntime, probeCuda } from '../src/index.js';
import { deviceStatus, requireCuda } from './support.js';

const status = deviceStatus();

describe('the addon', () => {
  it('is built and loads without CUDA on the machine', () => {
    const addon = loadAddon();
    expect(typeof addon.probe).toBe('function');
    const probe = addon.probe();
    expect(typeof probe.driver.ok).toBe('boolean');
    expect(typeof probe.nvrtc.ok).toBe('boolean');
    if (!probe.driver.ok) expect(probe.driver.reason).toMatch(/libcuda\.so\.1/);
    if (!probe.nvrtc.ok) expect(probe.nvrtc.reason).toMatch(/libnvrtc/);
    expect(addonCandidates().some((p) => p.endsWith('kvkit_cuda.node'))).toBe(true);
  });

  it('probeCuda reports each piece', () => {
    const probe = probeCuda();
    expect(probe.addon).toBe('loaded');
    expect(probe.driver).toMatch(/driver|libcuda/);
  });
});

describe('without a usable device', () => {
  it.runIf(!status.available)('loadCudaRuntime throws BackendUnavailable naming the missing piece', () => {
    let caught: unknown;
    try {
      loadCudaRuntime();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BackendUnavailable);
    const error = caught as BackendUnavailable;
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(error.reasons[0].backend).toBe('cuda');
    // On a machine without the driver (CI) the reason names libcuda; elsewhere it names the device or compiler.
    if (!loadAddon().probe().driver.ok) expect(error.message).toMatch(/libcuda\.so\.1/);
    else expect(error.message).toMatch(/device|NVRTC|nvcc|driver/);
  });

  it.runIf(!status.available)("resolveBackend('cuda') throws BackendUnavailable with the reason and the install hint", async () => {
    registerCudaBackend();
    expect(registeredBackends()).toContain('cuda');
    const error = await resolveBackend('cuda').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BackendUnavailable);
    const reason = (error as BackendUnavailable).reasons.find((r) => r.backend === 'cuda')!.reason;
    expect(reason).toContain(CUDA_INSTALL_HINT);
    if (!loadAddon().probe().driver.ok) expect(reason).toMatch(/libcuda\.so\.1/);
    // A preference list falls through to the CPU.
    expect((await resolveBackend(['cuda', 'cpu'])).name).toBe('cpu');
  });

  if (!status.available && !requireCuda) console.warn(`[cuda] no device here; the device suites skip (set KVKIT_REQUIRE_CUDA=1 to fail instead): ${status.reason}`);
  it.runIf(requireCuda)('KVKIT_REQUIRE_CUDA=1: a CUDA device must open', () => {
    expect(status.available ? 'available' : status.reason).toBe('available');
  });
});
