// Every CUDA kernel of tensor-core, run on the CPU emulator (kernels compiled with g++, one fiber
// per CUDA thread; barriers, shuffles, ldmatrix and mma by their documented semantics) against the
// CPU backend on fresh random inputs. This checks kernel logic and the launchers on machines
// without a GPU; tooling/gpu/cuda-check.sh runs the same cases on a real device.
import { createRng, DeviceLostError, gather, IndexOutOfRangeError, InvalidConfigError, packBits, tensor, zeros } from '@kvkit/tensor-core';
import { CUDA_MODULES, type CudaBackend, createCudaBackend, defineCudaModule } from '@kvkit/tensor-core/cuda';
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
