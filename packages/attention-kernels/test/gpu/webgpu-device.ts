/**
 * A WebGPU backend for the Node suites: Dawn (npm `webgpu`) on whatever Vulkan driver is here —
 * SwiftShader from Debian's chromium package on machines without a GPU. Without an adapter the
 * suite skips with a visible message, except under KVKIT_REQUIRE_WEBGPU=1, where it fails.
 * (tensor-core's own test setup does the same against its sources; this one uses the built package.)
 */
import { existsSync } from 'node:fs';
import { createWebGpuBackend, type WebGpuBackend } from '@kvkit/tensor-core/webgpu';

const CHROMIUM = '/usr/lib/chromium';

/** Loads a shared library into the process for good (Dawn later finds libvulkan by soname). */
function pin(path: string): boolean {
  try {
    process.dlopen({ exports: {} }, path, 2 /* RTLD_NOW */ | 0x1000 /* RTLD_NODELETE */);
    return true;
  } catch (error) {
    return /did not self-register/.test(String((error as Error).message)); // loaded, just not a Node addon
  }
}

export async function openWebGpuForTests(): Promise<WebGpuBackend | undefined> {
  if (process.platform === 'linux') {
    if (!process.env.VK_ICD_FILENAMES && existsSync(`${CHROMIUM}/vk_swiftshader_icd.json`)) process.env.VK_ICD_FILENAMES = `${CHROMIUM}/vk_swiftshader_icd.json`;
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    if (!pin('libvulkan.so.1') && existsSync(`${CHROMIUM}/libvulkan.so.1`)) pin(`${CHROMIUM}/libvulkan.so.1`);
  }
  try {
    // Workgroup memory is written before it is read by every kernel here; skipping Dawn's zero
    // initialization keeps SwiftShader's pipeline compiles fast (and would expose a read-before-write).
    return await createWebGpuBackend({ dawnFlags: ['enable-dawn-features=disable_workgroup_init'] });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (process.env.KVKIT_REQUIRE_WEBGPU === '1') throw new Error(`KVKIT_REQUIRE_WEBGPU=1 but no WebGPU device could be created: ${message}`, { cause: error });
    console.warn(`[webgpu] attention-kernels WebGPU suite skipped, no device: ${message}`);
    return undefined;
  }
}
