/**
 * The WebGPU test backend for Node suites: Dawn on whatever Vulkan driver is here (SwiftShader on
 * machines without a GPU, see swiftshader-env.ts). Without an adapter the suites skip with a
 * visible message, except under KVKIT_REQUIRE_WEBGPU=1 (CI), where they fail.
 */
import { createWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from '../../src/webgpu/index.js';
import { prepareSwiftShaderEnvironment } from './swiftshader-env.js';

export const webgpuRequired = process.env.KVKIT_REQUIRE_WEBGPU === '1';

export async function openTestBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend | undefined> {
  prepareSwiftShaderEnvironment();
  try {
    return await createWebGpuBackend(options);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (webgpuRequired) throw new Error(`KVKIT_REQUIRE_WEBGPU=1 but no WebGPU device could be created: ${message}`, { cause: error });
    console.warn(`[webgpu] WebGPU suites skipped, no device: ${message}`);
    return undefined;
  }
}
