// kv-quant's LUT and outlier WGSL kernels (src/webgpu/lut.ts, outliers.ts) on a real WebGPU device —
// Dawn in Node, on SwiftShader where there is no GPU (CI sets KVKIT_REQUIRE_WEBGPU=1, so a missing
// device fails rather than skips) — bit for bit against the CPU kernels on fresh random inputs: the
// cases of gpu-lut-cases.ts, which the CUDA emulator suite runs too.
import { createRng, tensor, toBackend, UnsupportedDTypeError } from '@kvkit/tensor-core';
import { freshSeed, openWebGpuForTests } from '@kvkit/tensor-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeOutliers, quantizeLut, splitOutliers } from '../src/index.js';
import { gpuLutCases, kvquantLayerError } from './gpu-lut-cases.js';

const gpu = await openWebGpuForTests('kv-quant');
const seed = freshSeed();
const rng = createRng(seed);

describe.skipIf(!gpu)(`kv-quant LUT and outlier WGSL kernels = CPU kernels, bit for bit (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  afterAll(() => gpu?.dispose());

  for (const c of gpuLutCases()) {
    it(c.name, async () => {
      const mismatch = await c.run(gpu!, rng);
      expect(mismatch, `${c.name} [seed ${seed}]`).toBeUndefined();
    });
  }

  it('a kvquant layer with its tensors on WebGPU (normalizer, outlier split, LUT codes, merge there) attends like the CPU layer (relative error < 1e-5)', async () => {
    expect(await kvquantLayerError(gpu!, rng), `seed ${seed}`).toBeLessThan(1e-5);
  }, 120_000);

  it('runs on tensors that live on the WebGPU backend, and the results stay there', async () => {
    const x = await toBackend(tensor([0.5, -1, 2, 3], [1, 4]), gpu!);
    const levels = await toBackend(tensor([-1, -0.25, 0.25, 1], [4]), gpu!);
    const q = quantizeLut(x, levels, { bits: 2, groupSize: 4, normalize: 'minmax', paramDType: 'f16' });
    const split = splitOutliers(x, { count: 1, center: 'zero', valueDType: 'f16', indexDType: 'u8' });
    expect([q.codes, q.scale!, q.zero!, split.indices, split.values, split.inliers].map((t) => t.backend)).toEqual(Array(6).fill(gpu));
  });

  it('non-float inputs and indices other than u8/i32 are typed errors', async () => {
    const levels = await toBackend(tensor([-1, 1], [2]), gpu!);
    const ints = await toBackend(tensor([1, 2, 3, 4], [1, 4], { dtype: 'i32' }), gpu!);
    expect(() => quantizeLut(ints, levels, { bits: 1, groupSize: 4, normalize: 'none', paramDType: 'f32' })).toThrow(UnsupportedDTypeError);
    const dense = await toBackend(tensor([0, 0, 0, 0], [1, 4]), gpu!);
    const floatIndices = await toBackend(tensor([1], [1, 1]), gpu!);
    expect(() => mergeOutliers(dense, floatIndices, floatIndices)).toThrow(UnsupportedDTypeError);
  });
});
