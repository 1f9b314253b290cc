/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend of kvkit: `registerWebGpuBackend()` makes 'webgpu' resolvable; every kernel of
 * tensor-core runs on it, and other packages add their own WGSL kernels with `backend.program()` +
 * `backend.dispatch()` (or the `runMap` elementwise template) behind `registerKernel(name, 'webgpu', impl)`.
 */
import { registerBackend } from '../backend-registry.js';
import { WebGpuBackend, type WebGpuBackendOptions } from './backend.js';
import { registerWebGpuKernels } from './kernels/register.js';

export { WebGpuBackend, WebGpuStorage, type WebGpuBackendOptions, type WebGpuMemoryStats, type GpuTiming } from './backend.js';
export type { WebGpuDeviceOptions } from './device.js';
export { WebGpuValidationError } from './errors.js';
export { Program, type ProgramSpec } from './program.js';
export type { TensorBindingSpec } from './wgsl/bindings.js';
export { type UniformField, type UniformValues, UniformLayout } from './wgsl/uniforms.js';
export { type WgslScalar, computeType, decodeExpr, encodeExpr, elementsPerWord, rawAlias } from './wgsl/dtypes.js';
export {
  coalesceDims,
  indexFunction,
  isRowMajor,
  lastAxisFunction,
  lastAxisUniforms,
  lastAxisValues,
  operandUniforms,
  unravelFunction,
} from './wgsl/strided.js';
export { type MapOperand, type MapSpec, runMap } from './kernels/map.js';
export { STATUS_WGSL, StatusCounters, statusBinding } from './status-counters.js';
export { registerWebGpuKernels };

export const WEBGPU_INSTALL_HINT =
  'in Node: npm install webgpu (Dawn; needs a Vulkan, Metal or D3D12 driver — on a Linux machine without a GPU, ' +
  "SwiftShader from the chromium package: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json); in browsers: one with WebGPU enabled, on a secure (https or localhost) page";

/** Creates the backend on a device and registers tensor-core's WGSL kernels for it. */
export async function createWebGpuBackend(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
  const backend = await WebGpuBackend.create(options);
  registerWebGpuKernels();
  return backend;
}

/**
 * Registers 'webgpu' in tensor-core's backend registry (priority 10: above the CPU, so
 * `resolveBackend()` prefers it where it works). The device is acquired on first resolve:
 * `navigator.gpu` in browsers, the optional `webgpu` package in Node.
 */
export function registerWebGpuBackend(options: WebGpuBackendOptions & { priority?: number } = {}): void {
  const { priority = 10, ...backendOptions } = options;
  registerBackend('webgpu', () => createWebGpuBackend(backendOptions), { priority, installHint: WEBGPU_INSTALL_HINT });
}
