// kv-quant's LUT and outlier CUDA kernels (src/cuda/lut.cu, outliers.cu) on @kvkit/cuda-runtime's CPU
// emulator — the same source NVRTC compiles on a device — bit for bit against the CPU kernels on
// fresh random inputs (the cases of gpu-lut-cases.ts, which the WebGPU suite runs too).
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { createRng, tensor, UnsupportedDTypeError } from '@kvkit/tensor-core';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeOutliers, quantizeLut, splitOutliers } from '../src/index.js';
import { lutCudaModule } from '../src/cuda/lut.js';
import { outliersCudaModule } from '../src/cuda/outliers.js';
import { gpuLutCases, kvquantLayerError } from './gpu-lut-cases.js';

const seed = freshSeed();
const rng = createRng(seed);
let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  for (const module of [lutCudaModule, outliersCudaModule]) cuda.module(module); // compile up front (g++ for the emulator, cached on disk)
}, 600_000);

describe(`kv-quant LUT and outlier CUDA kernels = CPU kernels, bit for bit, on the emulator (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const c of gpuLutCases()) {
    it(c.name, async () => {
      const mismatch = await c.run(cuda, rng);
      expect(mismatch, `${c.name} [seed ${seed}]`).toBeUndefined();
    });
  }

  it('a kvquant layer with its tensors on CUDA (normalizer, outlier split, LUT codes, merge there) attends like the CPU layer (relative error < 1e-5)', async () => {
    expect(await kvquantLayerError(cuda, rng), `seed ${seed}`).toBeLessThan(1e-5);
  });

  it('runs on tensors that live on the CUDA backend, and the results stay there', () => {
    const levels = tensor([-1, -0.25, 0.25, 1], [4], { backend: cuda });
    const q = quantizeLut(tensor([0.5, -1, 2, 3], [1, 4], { backend: cuda }), levels, { bits: 2, groupSize: 4, normalize: 'minmax', paramDType: 'f16' });
    const split = splitOutliers(tensor([0.5, -1, 2, 3], [1, 4], { backend: cuda }), { count: 1, center: 'zero', valueDType: 'f16', indexDType: 'u8' });
    expect([q.codes, q.scale!, q.zero!, split.indices, split.values, split.inliers].map((t) => t.backend)).toEqual(Array(6).fill(cuda));
  });

  it('non-float inputs and indices other than u8/i32 are typed errors', () => {
    const levels = tensor([-1, 1], [2], { backend: cuda });
    const ints = tensor([1, 2, 3, 4], [1, 4], { dtype: 'i32', backend: cuda });
    expect(() => quantizeLut(ints, levels, { bits: 1, groupSize: 4, normalize: 'none', paramDType: 'f32' })).toThrow(UnsupportedDTypeError);
    const dense = tensor([0, 0, 0, 0], [1, 4], { backend: cuda });
    const floatIndices = tensor([1], [1, 1], { backend: cuda });
    expect(() => mergeOutliers(dense, floatIndices, tensor([5], [1, 1], { backend: cuda }))).toThrow(UnsupportedDTypeError);
  });
});
