import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CudaDeviceInfo } from '@kvkit/tensor-core/cuda';
import type { DeviceOps, NativeAddon } from './addon.js';
import { type CudaCompiler, writeSourceTree } from './compiler.js';
import { CudaCompileError } from './errors.js';

/**
 * The CPU emulator: kernels compile with the host C++ compiler against emulator/kvkit_emulator.h
 * (every CUDA thread a fiber; barriers, shuffles, ldmatrix and mma by their documented semantics)
 * and run on the CPU, with host memory as device memory. For testing kernel logic without a GPU —
 * not for speed, and blind to races and the GPU memory model. The header is found next to this
 * package, or at $KVKIT_CUDA_EMULATOR_HEADER (bundled scripts).
 */
export function emulatorHeaderPath(): string {
  return process.env.KVKIT_CUDA_EMULATOR_HEADER || fileURLToPath(new URL('../emulator/kvkit_emulator.h', import.meta.url));
}

/** Compiles a module into a shared object exporting kvemu_launch_<kernel> for every `extern "C" __global__` kernel. */
export function emulatorCompiler(cxx: string = process.env.CXX ?? 'g++'): CudaCompiler {
  const version = execFileSync(cxx, ['-dumpfullversion'], { encoding: 'utf8' }).trim();
  const headerPath = emulatorHeaderPath();
  const header = readFileSync(headerPath, 'utf8');
  const id = `emulator ${cxx} ${version} ${createHash('sha256').update(header).digest('hex').slice(0, 16)}`;
  return {
    id,
    compile(source) {
      const dir = mkdtempSync(join(tmpdir(), 'kvkit-emu-'));
      try {
        const main = writeSourceTree(source, dir);
        const flags = ['-std=c++17', '-DKVKIT_EMULATOR', '-include', headerPath, '-I', dir, ...(source.options ?? [])];
        let preprocessed: string;
        try {
          preprocessed = execFileSync(cxx, ['-E', ...flags, '-x', 'c++', main], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
        } catch (error) {
          throw new CudaCompileError(source.name, id, (error as { stderr?: string }).stderr ?? String(error));
        }
        const kernels = [...new Set([...preprocessed.matchAll(/KVEMU_GLOBAL\s+void\s+(\w+)\s*\(/g)].map((m) => m[1]))];
        const stubs = kernels
          .map(
            (k) =>
              `extern "C" __attribute__((visibility("default"))) int kvemu_launch_${k}(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared, void** args) {\n` +
              `  return kvemu::launch(&${k}, kvemu::Dim3{gx, gy, gz}, kvemu::Dim3{bx, by, bz}, shared, args);\n}\n`,
          )
          .join('');
        const unit = join(dir, 'module.ii');
        writeFileSync(
          unit,
          `${preprocessed.replaceAll('KVEMU_GLOBAL', '')}\n${stubs}extern "C" __attribute__((visibility("default"))) const char* kvemu_last_error() { return kvemu::g_error; }\n`,
        );
        const out = join(dir, 'module.so');
        try {
          execFileSync(cxx, ['-std=c++17', '-O1', '-shared', '-fPIC', '-fvisibility=hidden', '-w', '-x', 'c++', unit, '-o', out], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
          });
        } catch (error) {
          throw new CudaCompileError(source.name, id, (error as { stderr?: string }).stderr ?? String(error));
        }
        return { image: new Uint8Array(readFileSync(out)), format: 'so' };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Device calls served by host memory and the emulated kernels (everything completes synchronously). */
export function emulatedDevice(addon: NativeAddon): DeviceOps {
  const moduleOf = new Map<number, number>();
  const events = new Map<number, number>();
  const modules = new Map<number, string>();
  let nextEvent = 1;
  return {
    close: () => {
      for (const [handle, dir] of modules) {
        addon.emuUnload(handle);
        rmSync(dir, { recursive: true, force: true });
      }
      modules.clear();
    },
    memAlloc: (bytes) => addon.hostAlloc(bytes),
    memFree: (address) => addon.hostFree(address),
    memGetInfo: () => [freemem(), totalmem()],
    memcpyHtoD: (dst, data) => addon.hostWrite(dst, data),
    memcpyDtoD: (dst, src, bytes) => addon.hostCopy(dst, src, bytes),
    memcpyDtoH: async (into, src) => addon.hostRead(into, src),
    memset: (dst, value, count, width) => addon.hostSet(dst, value, count, width),
    synchronize: async () => {},
    synchronizeBlocking: () => {},
    moduleLoad: (image) => {
      const dir = mkdtempSync(join(tmpdir(), 'kvkit-emu-module-'));
      const file = join(dir, 'module.so');
      writeFileSync(file, image);
      const handle = addon.emuLoad(file);
      modules.set(handle, dir);
      return handle;
    },
    moduleUnload: (handle) => {
      addon.emuUnload(handle);
      rmSync(modules.get(handle) ?? '', { recursive: true, force: true });
      modules.delete(handle);
    },
    moduleGetFunction: (module, name) => {
      const fn = addon.emuFunction(module, name);
      moduleOf.set(fn, module);
      return fn;
    },
    funcAttributes: () => ({ maxThreadsPerBlock: 1024, registers: 0, staticSharedBytes: 0, maxDynamicSharedBytes: 227 * 1024 }),
    funcSetMaxDynamicShared: () => {},
    launch: (fn, gx, gy, gz, bx, by, bz, shared, args, offsets) => addon.emuLaunch(moduleOf.get(fn)!, fn, gx, gy, gz, bx, by, bz, shared, args, offsets),
    eventCreate: () => nextEvent++,
    eventRecord: (event) => void events.set(event, performance.now()),
    eventElapsed: (start, end) => (events.get(end) ?? 0) - (events.get(start) ?? 0),
    eventDestroy: (event) => void events.delete(event),
  };
}

/** Device facts for the emulator: an sm_80-class device with the host's memory. */
export function emulatorDeviceInfo(compilerId: string): CudaDeviceInfo {
  return {
    kind: 'emulator',
    ordinal: 0,
    name: `kvkit CUDA emulator (${cpus()[0]?.model ?? 'host CPU'})`,
    computeCapability: [8, 0],
    arch: 'sm_80',
    multiprocessors: 2,
    totalMemory: totalmem(),
    driverVersion: 0,
    maxThreadsPerBlock: 1024,
    maxSharedMemoryPerBlock: 48 * 1024,
    maxSharedMemoryPerBlockOptin: 227 * 1024,
    l2CacheBytes: 0,
    memoryBusWidth: 0,
    compiler: compilerId,
  };
}
