/**
 * The WebGPU test backend for Node suites: Dawn on whatever Vulkan driver is here (SwiftShader on
 * machines without a GPU, see swiftshader-env.ts). Without an adapter the suites skip with a
 * visible message, except under KVKIT_REQUIRE_WEBGPU=1 (CI), where they fail.
 */
import { createWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from '../../src/webgpu/index.js';
import { prepareSwiftShaderEnvironment } from './swiftshader-env.js';

export const webgpuRequired = process.env.KVKIT_REQUIRE_WEBGPU === '1';

/**
 * Dawn toggle for the test devices (Node and Chromium): skip the zero-initialization of workgroup
 * memory. SwiftShader compiles that initialization very slowly (an 8 KiB matmul tile: ~3 s per
 * pipeline, ~0.1 s without), which would dominate the suite. Every tensor-core kernel writes its
 * workgroup memory before reading it, so this makes the tests stricter, not looser: a
 * read-before-write would see garbage here instead of zeros. Users get Dawn's default.
 */
export const TEST_DAWN_FEATURES = 'disable_workgroup_init';

export async function openTestBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend | undefined> {
  prepareSwiftShaderEnvironment();
  try {
    return await createWebGpuBackend({ dawnFlags: [`enable-dawn-features=${TEST_DAWN_FEATURES}`], ...options });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (webgpuRequired) throw new Error(`KVKIT_REQUIRE_WEBGPU=1 but no WebGPU device could be created: ${message}`, { cause: error });
    console.warn(`[webgpu] WebGPU suites skipped, no device: ${message}`);
    return undefined;
  }
}
