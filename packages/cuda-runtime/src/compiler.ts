import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { CudaSource } from '@kvkit/tensor-core/cuda';
import { CudaCompileError } from './errors.js';

/** Compiled device code: a cubin for the exact architecture, PTX the driver JIT-compiles, or an emulator shared object. */
export interface CompiledImage {
  readonly image: Uint8Array;
  readonly format: 'cubin' | 'ptx' | 'so';
}

/** A way to turn CUDA C into device code (NVRTC in-process, or nvcc from the PATH). */
export interface CudaCompiler {
  /** Names the compiler and its version; part of the cache key, so a new compiler never reuses old code. */
  readonly id: string;
  compile(source: CudaSource, arch: string): CompiledImage;
}

/** The disk cache directory: $KVKIT_CUDA_CACHE, else ~/.cache/kvkit/cuda. */
export function defaultCacheDir(): string {
  const fromEnv = process.env.KVKIT_CUDA_CACHE;
  return fromEnv && fromEnv !== '' ? fromEnv : join(homedir(), '.cache', 'kvkit', 'cuda');
}

/**
 * The cache key of a compilation: a SHA-256 over the source, every header (by include name, in a
 * fixed order), the options, the architecture and the compiler's identity.
 */
export function cacheKey(source: CudaSource, arch: string, compilerId: string): string {
  const hash = createHash('sha256');
  const field = (label: string, value: string): void => {
    hash.update(`${label}\0${value.length}\0${value}\0`);
  };
  field('source', source.source);
  for (const name of Object.keys(source.headers ?? {}).sort()) field(`header:${name}`, source.headers![name]);
  for (const option of source.options ?? []) field('option', option);
  field('arch', arch);
  field('compiler', compilerId);
  return hash.digest('hex');
}

/**
 * Compiles through the disk cache: a hit reads `<key>.<format>`; a miss compiles and writes the file
 * atomically (temp file + rename), so concurrent processes never read half a file. An unreadable
 * cache directory only costs the cache, never the compile.
 */
export function compileCached(
  source: CudaSource,
  arch: string,
  compiler: CudaCompiler,
  dir: string = defaultCacheDir(),
): CompiledImage & { key: string; fromCache: boolean } {
  const key = cacheKey(source, arch, compiler.id);
  for (const format of ['cubin', 'ptx', 'so'] as const) {
    const file = join(dir, `${key}.${format}`);
    if (existsSync(file)) {
      try {
        return { image: new Uint8Array(readFileSync(file)), format, key, fromCache: true };
      } catch {
        // unreadable entry: compile again below
      }
    }
  }
  const compiled = compiler.compile(source, arch);
  try {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${key}.${compiled.format}`);
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, compiled.image);
    renameSync(temp, file);
  } catch {
    // read-only or full disk: run without the cache
  }
  return { ...compiled, key, fromCache: false };
}

/** Removes a cache entry (after the driver rejected it as corrupt). */
export function evictCached(key: string, dir: string = defaultCacheDir()): void {
  for (const format of ['cubin', 'ptx', 'so']) rmSync(join(dir, `${key}.${format}`), { force: true });
}

export interface NvrtcBinding {
  nvrtcCompile(
    source: string,
    name: string,
    headers: string[],
    includeNames: string[],
    options: string[],
    cubin: boolean,
  ): { status: number; error: string; log: string; image?: Uint8Array };
}

/** NVRTC in-process: sm_XX gives a cubin directly. */
export function nvrtcCompiler(binding: NvrtcBinding, version: readonly [number, number]): CudaCompiler {
  const id = `nvrtc ${version[0]}.${version[1]}`;
  return {
    id,
    compile(source, arch) {
      const names = Object.keys(source.headers ?? {}).sort();
      const options = [`--gpu-architecture=${arch}`, '-std=c++17', ...(source.options ?? [])];
      const result = binding.nvrtcCompile(
        source.source,
        `${source.name}.cu`,
        names.map((n) => source.headers![n]),
        names,
        options,
        true,
      );
      if (result.status !== 0 || !result.image) {
        throw new CudaCompileError(source.name, id, result.log || result.error, { arch, options, status: result.status });
      }
      return { image: new Uint8Array(result.image), format: 'cubin' };
    },
  };
}

/** Where nvcc is: on the PATH, else under $CUDA_HOME/bin or /usr/local/cuda/bin; undefined when absent. */
export function findNvcc(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), process.env.CUDA_HOME ? join(process.env.CUDA_HOME, 'bin') : '', '/usr/local/cuda/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'nvcc');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** `release 13.0` from `nvcc --version`. */
export function nvccVersion(nvcc: string): string {
  const out = execFileSync(nvcc, ['--version'], { encoding: 'utf8' });
  return /release ([0-9.]+)/.exec(out)?.[1] ?? 'unknown';
}

/** Writes the source and its headers into a fresh directory, laid out by include name. */
export function writeSourceTree(source: CudaSource, dir: string): string {
  const main = join(dir, `${source.name.replace(/[^A-Za-z0-9_.-]/g, '_')}.cu`);
  writeFileSync(main, source.source);
  for (const [name, text] of Object.entries(source.headers ?? {})) {
    const file = join(dir, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  return main;
}

/** nvcc from the PATH (`nvcc --cubin -arch=sm_XX`), for machines with the toolkit but no NVRTC library. */
export function nvccCompiler(nvcc: string, version = nvccVersion(nvcc)): CudaCompiler {
  const id = `nvcc ${version}`;
  return {
    id,
    compile(source, arch) {
      const dir = mkdtempSync(join(tmpdir(), 'kvkit-nvcc-'));
      try {
        const main = writeSourceTree(source, dir);
        const out = join(dir, 'module.cubin');
        const args = ['--cubin', `-arch=${arch}`, '-std=c++17', '-I', dir, ...(source.options ?? []), '-o', out, main];
        try {
          execFileSync(nvcc, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        } catch (error) {
          const e = error as { stderr?: string; stdout?: string; message: string };
          throw new CudaCompileError(source.name, id, `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message, { arch, args });
        }
        return { image: new Uint8Array(readFileSync(out)), format: 'cubin' };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
