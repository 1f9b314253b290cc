/**
 * The WebGPU backend for Node test suites: Dawn (npm `webgpu`) on whatever Vulkan driver is here —
 * SwiftShader from Debian's chromium package on machines without a GPU. Without an adapter the
 * suite skips with a visible message, except under KVKIT_REQUIRE_WEBGPU=1 (CI), where it fails.
 */
import type { WebGpuBackend, WebGpuBackendOptions } from '../webgpu/index.js';
import { prepareSwiftShaderEnvironment } from './swiftshader-env.js';

/** KVKIT_REQUIRE_WEBGPU=1: a missing WebGPU device fails the suite instead of skipping it. */
export const webgpuRequired = typeof process !== 'undefined' && process.env.KVKIT_REQUIRE_WEBGPU === '1';

/**
 * Dawn toggle for test devices (Node and Chromium): skip the zero-initialization of workgroup
 * memory. SwiftShader compiles that initialization very slowly (an 8 KiB matmul tile: ~3 s per
 * pipeline, ~0.1 s without), which would dominate the suites. Every kvkit kernel writes its
 * workgroup memory before reading it, so this makes the tests stricter, not looser: a
 * read-before-write would see garbage here instead of zeros. Users get Dawn's default.
 */
export const TEST_DAWN_FEATURES = 'disable_workgroup_init';

/**
 * A WebGPU backend for a test suite, or undefined (with a warning naming `suite`) when this machine
 * has no adapter and KVKIT_REQUIRE_WEBGPU is not set.
 */
export async function openWebGpuForTests(suite: string, options: WebGpuBackendOptions = {}): Promise<WebGpuBackend | undefined> {
  prepareSwiftShaderEnvironment();
  try {
    const { createWebGpuBackend } = await import('../webgpu/index.js');
    return await createWebGpuBackend({ dawnFlags: [`enable-dawn-features=${TEST_DAWN_FEATURES}`], ...options });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (webgpuRequired) throw new Error(`KVKIT_REQUIRE_WEBGPU=1 but no WebGPU device could be created: ${message}`, { cause: error });
    console.warn(`[webgpu] ${suite} WebGPU suite skipped, no device: ${message}`);
    return undefined;
  }
}
