// Every CUDA kernel of tensor-core, run on the CPU emulator (kernels compiled with g++, one fiber
// per CUDA thread; barriers, shuffles, ldmatrix and mma by their documented semantics) against the
// CPU backend on fresh random inputs. This checks kernel logic and the launchers on machines
// without a GPU; tooling/gpu/cuda-check.sh runs the same cases on a real device.
import { createRng, DeviceLostError, gather, IndexOutOfRangeError, indexedMatmul, InvalidConfigError, packBits, randomNormal, tensor, toBackend, zeros } from '@kvkit/tensor-core';
import { arg, CUDA_MODULES, type CudaBackend, createCudaBackend, defineCudaModule } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCudaRuntime } from '../src/index.js';
import { parityCases, runParityCase } from './parity-cases.js';

const seed = freshSeed();
const rng = createRng(seed);
let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  for (const module of CUDA_MODULES) cuda.module(module); // compile (or read from the disk cache) up front
}, 600_000);

describe(`parity of every CUDA kernel with the CPU backend, on the emulator (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const c of parityCases()) {
    it(c.name, async () => {
      const result = await runParityCase(c, cuda, rng);
      if (!result.pass) throw new Error(`${c.name}: relative error ${result.error} > ${result.tolerance} [seed ${seed}]${result.detail ? `\n${result.detail}` : ''}`);
      expect(result.error).toBeLessThanOrEqual(c.tolerance);
    });
  }
});

describe('the emulated runtime', () => {
  it('reports bad indices and codes found on the device as typed errors, and stays usable', async () => {
    const x = tensor([1, 2, 3, 4], [4], { backend: cuda });
    await expect(gather(x, tensor([0, 4], [2], { dtype: 'i32', backend: cuda }), 0).read()).rejects.toBeInstanceOf(IndexOutOfRangeError);
    await expect(packBits(tensor(Uint8Array.of(1, 8), [2], { backend: cuda }), 3).read()).rejects.toBeInstanceOf(InvalidConfigError);
    expect([...(await gather(x, tensor([3, 0], [2], { dtype: 'i32', backend: cuda }), 0).read())]).toEqual([4, 1]);
  });

  it('indexedMatmul gives zeros for a row whose index is outside the stack (checked on the CPU only), reading nothing', async () => {
    const r = createRng(seed + 2);
    const x = randomNormal([3, 40], r);
    const w = randomNormal([2, 29, 40], r);
    const expected = await indexedMatmul(x, w, tensor([1, 0, 0], [3], { dtype: 'i32' })).readFloat32();
    const [cx, cw] = await Promise.all([toBackend(x, cuda), toBackend(w, cuda)]);
    const got = await indexedMatmul(cx, cw, tensor([1, 2, -1], [3], { dtype: 'i32', backend: cuda })).readFloat32();
    expect([...got.subarray(0, 29)].map((v, i) => Math.abs(v - expected[i]) <= 1e-4 * (1 + Math.abs(expected[i])))).not.toContain(false);
    expect([...got.subarray(29)]).toEqual(new Array(58).fill(0));
  });

  it('allocating and freeing many tensors leaves nothing resident', async () => {
    const start = cuda.bytesInUse();
    const r = createRng(seed + 1);
    const live = [];
    for (let i = 0; i < 400; i++) {
      if (live.length > 20 || (live.length > 0 && r.uniform() < 0.4)) live.splice(r.int(live.length), 1)[0].dispose();
      else live.push(zeros([1 + r.int(5000)], { backend: cuda, dtype: r.uniform() < 0.5 ? 'f32' : 'bf16' }));
    }
    for (const t of live) t.dispose();
    expect(cuda.bytesInUse()).toBe(start);
    const info = cuda.runtime.memoryInfo();
    expect(info.inUse).toBeLessThan(64 * 1024); // only the device-check flag and cached scratch stay
  });

  it('cp.async copies land when a wait releases their group, not when issued (so a missing wait reads stale data here too)', async () => {
    const module = defineCudaModule({
      name: 'emulator-async-copy',
      source: `#include "kvkit/async-copy.cuh"
extern "C" __global__ void stages(kv_i32* out, const kv_i32* src) {
  KV_DYNAMIC_SHARED(smem);
  kv_i32* first = reinterpret_cast<kv_i32*>(smem);
  kv_i32* second = first + 128;
  const int t = threadIdx.x;
  for (int i = 0; i < 4; i++) first[4 * t + i] = second[4 * t + i] = -1;
  __syncthreads();
  cp_async16(smem_address(first + 4 * t), src + 4 * t);
  cp_async_commit();
  cp_async16(smem_address(second + 4 * t), src + 128 + 4 * t, t % 2 == 0);  // odd threads: zero fill
  out[t] = first[4 * t];  // issued, not waited for
  cp_async_commit();
  cp_async_wait<1>();  // the first group has landed, the second not
  out[32 + t] = first[4 * t];
  out[64 + t] = second[4 * t];
  cp_async_wait<0>();
  out[96 + t] = second[4 * t];
}
`,
    });
    const src = tensor(Int32Array.from({ length: 256 }, (_, i) => i + 1), [256], { dtype: 'i32', backend: cuda });
    const out = zeros([128], { dtype: 'i32', backend: cuda });
    cuda.launch(module, 'stages', { grid: 1, block: 32, sharedBytes: 1024 }, [arg.ptr(cuda.address(out)), arg.ptr(cuda.address(src))]);
    const got = [...(await out.read())];
    const threads = Array.from({ length: 32 }, (_, t) => t);
    expect(got.slice(0, 32)).toEqual(threads.map(() => -1));
    expect(got.slice(32, 64)).toEqual(threads.map((t) => 4 * t + 1));
    expect(got.slice(64, 96)).toEqual(threads.map(() => -1));
    expect(got.slice(96, 128)).toEqual(threads.map((t) => (t % 2 === 0 ? 129 + 4 * t : 0)));
    src.dispose();
    out.dispose();
  });

  it('a kernel whose threads wait at different barriers is reported, not hung', () => {
    const broken = defineCudaModule({
      name: 'emulator-deadlock',
      // Lane 0 waits for the whole block while the rest of its warp waits for lane 0.
      source: '#include "kvkit/prelude.cuh"\nextern "C" __global__ void divergent() { if (threadIdx.x == 0) __syncthreads(); else if (threadIdx.x < 32) __syncwarp(); else __syncthreads(); }\n',
    });
    expect(() => cuda.launch(broken, 'divergent', { grid: 1, block: 64 }, [])).toThrow(DeviceLostError);
    expect(() => cuda.launch(broken, 'divergent', { grid: 1, block: 64 }, [])).toThrow(/divergent|deadlock/);
  });
});
