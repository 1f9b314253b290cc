import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCudaModule } from '@kvkit/tensor-core/cuda';
import { afterAll, describe, expect, it } from 'vitest';
import { type CudaCompiler, CudaCompileError, cacheKey, compileCached, defaultCacheDir, findNvcc, nvccCompiler } from '../src/index.js';
import { requireCuda } from './support.js';

const scratch = mkdtempSync(join(tmpdir(), 'kvkit-cuda-cache-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const base = { name: 'm', source: 'extern "C" __global__ void k() {}', headers: { 'a.cuh': 'A', 'b.cuh': 'B' }, options: ['-DX=1'] };

describe('cacheKey', () => {
  it('changes with the source, any header, the options, the architecture and the compiler', () => {
    const key = cacheKey(base, 'sm_90', 'nvrtc 13.0');
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const variants = [
      cacheKey({ ...base, source: `${base.source} ` }, 'sm_90', 'nvrtc 13.0'),
      cacheKey({ ...base, headers: { ...base.headers, 'b.cuh': 'B2' } }, 'sm_90', 'nvrtc 13.0'),
      cacheKey({ ...base, headers: { ...base.headers, 'c.cuh': '' } }, 'sm_90', 'nvrtc 13.0'),
      cacheKey({ ...base, options: ['-DX=2'] }, 'sm_90', 'nvrtc 13.0'),
      cacheKey(base, 'sm_80', 'nvrtc 13.0'),
      cacheKey(base, 'sm_90', 'nvrtc 12.8'),
    ];
    expect(new Set([key, ...variants]).size).toBe(variants.length + 1);
  });

  it('does not depend on the order headers were given in, nor on the module name', () => {
    const reordered = { ...base, name: 'other', headers: { 'b.cuh': 'B', 'a.cuh': 'A' } };
    expect(cacheKey(reordered, 'sm_90', 'x')).toBe(cacheKey(base, 'sm_90', 'x'));
  });

  it('does not confuse a header body with the next field', () => {
    const a = { ...base, headers: { 'a.cuh': 'AB' } };
    const b = { ...base, headers: { 'a.cuh': 'A', B: '' } };
    expect(cacheKey(a, 'sm_90', 'x')).not.toBe(cacheKey(b, 'sm_90', 'x'));
  });
});

describe('compileCached', () => {
  it('compiles once, then serves the image from the disk cache', () => {
    let compiles = 0;
    const compiler: CudaCompiler = {
      id: 'fake 1.0',
      compile: () => {
        compiles++;
        return { image: Uint8Array.of(1, 2, 3, compiles), format: 'cubin' };
      },
    };
    const dir = join(scratch, 'fake');
    const first = compileCached(base, 'sm_90', compiler, dir);
    const second = compileCached(base, 'sm_90', compiler, dir);
    expect(first.fromCache).toBe(false);
    expect(second.fromCache).toBe(true);
    expect([...second.image]).toEqual([1, 2, 3, 1]);
    expect(compiles).toBe(1);
    expect(readdirSync(dir)).toEqual([`${first.key}.cubin`]);
    compileCached(base, 'sm_80', compiler, dir);
    expect(compiles).toBe(2);
  });

  it('still compiles when the cache directory cannot be written', () => {
    const blocker = join(scratch, 'not-a-dir');
    writeFileSync(blocker, 'file');
    const compiler: CudaCompiler = { id: 'fake', compile: () => ({ image: Uint8Array.of(9), format: 'ptx' }) };
    expect([...compileCached(base, 'sm_90', compiler, join(blocker, 'sub')).image]).toEqual([9]);
  });

  it('defaults to $KVKIT_CUDA_CACHE, else ~/.cache/kvkit/cuda', () => {
    const saved = process.env.KVKIT_CUDA_CACHE;
    try {
      process.env.KVKIT_CUDA_CACHE = '/tmp/somewhere';
      expect(defaultCacheDir()).toBe('/tmp/somewhere');
      delete process.env.KVKIT_CUDA_CACHE;
      expect(defaultCacheDir()).toMatch(/\.cache\/kvkit\/cuda$/);
    } finally {
      if (saved === undefined) delete process.env.KVKIT_CUDA_CACHE;
      else process.env.KVKIT_CUDA_CACHE = saved;
    }
  });
});

const nvcc = findNvcc();
describe.runIf(nvcc !== undefined || requireCuda)('the nvcc fallback compiler', () => {
  it('builds a cubin for the requested architecture from a module with the prelude, and caches it', () => {
    const module = defineCudaModule({
      name: 'nvcc-smoke',
      source: '#include "kvkit/prelude.cuh"\nextern "C" __global__ void twice(float* x, kv_i64 n) { KV_GRID_LOOP(i, n) x[i] *= 2.0f; }\n',
    });
    const compiler = nvccCompiler(nvcc!);
    expect(compiler.id).toMatch(/^nvcc \d+\.\d+/);
    const dir = join(scratch, 'nvcc');
    const result = compileCached(module, 'sm_80', compiler, dir);
    expect(result.format).toBe('cubin');
    expect([...result.image.subarray(0, 4)]).toEqual([0x7f, 0x45, 0x4c, 0x46]); // an ELF image
    expect(compileCached(module, 'sm_80', compiler, dir).fromCache).toBe(true);
  }, 120_000);

  it('turns a compile error into CudaCompileError with the log', () => {
    const module = defineCudaModule({ name: 'broken', source: 'extern "C" __global__ void k() { undeclared_name(); }' });
    let caught: unknown;
    try {
      nvccCompiler(nvcc!).compile(module, 'sm_80');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CudaCompileError);
    expect((caught as CudaCompileError).code).toBe('INVALID_CONFIG');
    expect((caught as CudaCompileError).log).toMatch(/undeclared_name/);
    expect((caught as Error).message).toMatch(/module "broken"/);
  }, 120_000);
});
