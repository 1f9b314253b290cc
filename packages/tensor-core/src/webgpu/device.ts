import { BackendUnavailable } from '../errors.js';

/** How the backend gets its GPU; every field is optional. */
export interface WebGpuDeviceOptions {
  /** Use this device (the caller keeps ownership: `dispose()` does not destroy it). */
  device?: GPUDevice;
  /** The `GPU` entry point to use instead of `navigator.gpu` / the `webgpu` package. */
  gpu?: GPU;
  /** Adapter choice (e.g. `{ powerPreference: 'high-performance' }`). */
  adapter?: GPURequestAdapterOptions;
  /** Node only: flags for the `webgpu` package's `create()` (Dawn toggles, backend choice). */
  dawnFlags?: string[];
  /** Use `shader-f16` for f16 storage when the adapter has it (default true). */
  shaderF16?: boolean;
  /** Enable `timestamp-query` when the adapter has it (default true). */
  timestampQuery?: boolean;
}

export interface AcquiredDevice {
  device: GPUDevice;
  /**
   * The GPU entry point the device came from. It must stay reachable while the device lives: the
   * `webgpu` package frees its native instance when this object is garbage-collected, and Dawn
   * then crashes in its event loop (mutex EINVAL / segfault) on the next callback.
   */
  gpu?: GPU;
  /** True when the backend created the device and must destroy it. */
  owned: boolean;
  info: { vendor: string; architecture: string; description: string };
}

/** The numeric limits the backend raises to the adapter's maximum (the defaults are far lower). */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

interface NodeWebGpuModule {
  create(flags: string[]): GPU;
}

/**
 * `navigator.gpu` in browsers (and Deno); in Node the Dawn file named by KVKIT_DAWN_NODE, else the
 * optional peer dependency `webgpu` (Dawn), imported only here so installing tensor-core never
 * pulls a native binary.
 */
async function findGpu(options: WebGpuDeviceOptions): Promise<GPU> {
  if (options.gpu) return options.gpu;
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (!isNode) throw new BackendUnavailable('webgpu: navigator.gpu is missing (this browser has no WebGPU, or the page is not a secure context)');
  const dawnNode = process.env.KVKIT_DAWN_NODE;
  if (dawnNode) {
    // A Dawn build given as a file (a machine without node_modules, a custom Dawn): the same
    // create(flags) entry point the `webgpu` package exposes.
    try {
      const { createRequire } = process.getBuiltinModule('node:module');
      return (createRequire(import.meta.url)(dawnNode) as NodeWebGpuModule).create(options.dawnFlags ?? []);
    } catch (error) {
      throw new BackendUnavailable(`webgpu: KVKIT_DAWN_NODE=${dawnNode} could not be loaded as Dawn for Node (${(error as Error).message})`, [], { cause: error });
    }
  }
  let module: NodeWebGpuModule;
  try {
    // A non-literal specifier keeps bundlers from resolving the native package for browser builds.
    const specifier = 'webgpu';
    module = (await import(/* @vite-ignore */ specifier)) as NodeWebGpuModule;
  } catch (error) {
    throw new BackendUnavailable('webgpu: the optional package `webgpu` (Dawn for Node) is not installed', [], { cause: error });
  }
  return module.create(options.dawnFlags ?? []);
}

export async function acquireDevice(options: WebGpuDeviceOptions): Promise<AcquiredDevice> {
  if (options.device) {
    const info = (options.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    return { device: options.device, owned: false, info: describe(info) };
  }
  const gpu = await findGpu(options);
  const adapter = await gpu.requestAdapter(options.adapter);
  if (!adapter) {
    throw new BackendUnavailable(
      'webgpu: no GPU adapter found (in Node, Dawn needs a Vulkan, Metal or D3D12 driver; on Linux without a GPU, SwiftShader: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)',
    );
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (options.shaderF16 !== false && adapter.features.has('shader-f16')) requiredFeatures.push('shader-f16');
  if (options.timestampQuery !== false && adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  return { device, gpu, owned: true, info: describe(adapter.info) };
}

function describe(info: GPUAdapterInfo | undefined): AcquiredDevice['info'] {
  return { vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', description: info?.description ?? '' };
}
