import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { NvrtcBinding } from './compiler.js';

/** The functions of build/Release/kvkit_cuda.node (see native/addon.cc). */
export interface NativeAddon extends NvrtcBinding {
  probe(): {
    driver: { ok: boolean; reason: string; version?: number };
    nvrtc: { ok: boolean; reason: string; path: string; version?: [number, number] };
  };
  open(ordinal: number): NativeDeviceInfo;
  close(): void;
  memAlloc(bytes: number): number;
  memFree(address: number): void;
  memGetInfo(): [number, number];
  memcpyHtoD(dst: number, data: ArrayBufferView): void;
  memcpyDtoD(dst: number, src: number, bytes: number): void;
  memcpyDtoH(into: ArrayBufferView, src: number): Promise<void>;
  memset(dst: number, value: number, count: number, width: number): void;
  synchronize(): Promise<void>;
  synchronizeBlocking(): void;
  moduleLoad(image: Uint8Array): number;
  moduleUnload(module: number): void;
  moduleGetFunction(module: number, name: string): number;
  funcAttributes(fn: number): { maxThreadsPerBlock: number; registers: number; staticSharedBytes: number; maxDynamicSharedBytes: number };
  funcSetMaxDynamicShared(fn: number, bytes: number): void;
  launch(fn: number, gx: number, gy: number, gz: number, bx: number, by: number, bz: number, shared: number, args: Uint8Array, offsets: Uint32Array): void;
  eventCreate(): number;
  eventRecord(event: number): void;
  eventElapsed(start: number, end: number): number;
  eventDestroy(event: number): void;
  errorName(code: number): string;
  // The CPU emulator (see emulator.ts).
  hostAlloc(bytes: number): number;
  hostFree(address: number): void;
  hostWrite(dst: number, data: ArrayBufferView): void;
  hostRead(into: ArrayBufferView, src: number): void;
  hostCopy(dst: number, src: number, bytes: number): void;
  hostSet(dst: number, value: number, count: number, width: number): void;
  emuLoad(path: string): number;
  emuUnload(module: number): void;
  emuFunction(module: number, kernel: string): number;
  emuLaunch(module: number, fn: number, gx: number, gy: number, gz: number, bx: number, by: number, bz: number, shared: number, args: Uint8Array, offsets: Uint32Array): void;
}

/** The device calls the runtime makes: the driver through the addon, or the CPU emulator. */
export type DeviceOps = Pick<
  NativeAddon,
  | 'close'
  | 'memAlloc'
  | 'memFree'
  | 'memGetInfo'
  | 'memcpyHtoD'
  | 'memcpyDtoD'
  | 'memcpyDtoH'
  | 'memset'
  | 'synchronize'
  | 'synchronizeBlocking'
  | 'moduleLoad'
  | 'moduleUnload'
  | 'moduleGetFunction'
  | 'funcAttributes'
  | 'funcSetMaxDynamicShared'
  | 'launch'
  | 'eventCreate'
  | 'eventRecord'
  | 'eventElapsed'
  | 'eventDestroy'
>;

export interface NativeDeviceInfo {
  ordinal: number;
  name: string;
  major: number;
  minor: number;
  multiprocessors: number;
  totalMemory: number;
  driverVersion: number;
  maxThreadsPerBlock: number;
  maxSharedMemoryPerBlock: number;
  maxSharedMemoryPerBlockOptin: number;
  l2CacheBytes: number;
  memoryBusWidth: number;
  warpSize: number;
}

/** Where the addon is looked for: $KVKIT_CUDA_ADDON, then build/Release next to this package. */
export function addonCandidates(): string[] {
  const fromEnv = process.env.KVKIT_CUDA_ADDON;
  const here = fileURLToPath(new URL('.', import.meta.url));
  return [
    ...(fromEnv ? [fromEnv] : []),
    fileURLToPath(new URL('../build/Release/kvkit_cuda.node', import.meta.url)),
    `${here}kvkit_cuda.node`,
  ];
}

let cached: NativeAddon | undefined;

/** Loads the addon once; throws a plain Error saying where it looked when it is missing. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const candidates = addonCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error(
      `the @kvkit/cuda-runtime native addon is not built (looked for ${candidates.join(', ')}); ` +
        'build it with `npm run build -w @kvkit/cuda-runtime` (needs a C++ compiler and Node headers, no CUDA toolkit)',
    );
  }
  const require = createRequire(import.meta.url);
  cached = require(path) as NativeAddon;
  return cached;
}
