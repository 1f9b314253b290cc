// The fused KIVI decode's tensor-core CUDA pass (src/cuda/kivi-mma-pass.cuh) on @kvkit/cuda-runtime's
// CPU emulator against the CPU kernel, on fresh random caches: 2- and 4-bit, head dims 64 and 128,
// GQA 1/4/8, one query and more rows than a block's 16, caches quantized throughout and with a
// residual window (those blocks take the 16-byte pass inside the same kernel), key groups of 16, 32, 64
// and 128, value groups of 16 to 128, several partitions, causal rows, windows, soft-cap, f32/f16/
// bf16 queries, f16/f32 scales, lse. The pass multiplies f16 operands (Q' = q·s, p, p·vs) with f32
// accumulation, so it serves f16 and bf16 queries (held to their tolerance); f32 queries keep the
// 16-byte pass and its f32 tolerance. Dispatch must pick the pass for a served shape (and
// `KVKIT_CUDA_DECODE=vec` must not), and leave an unserved one to the others.
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { createRng } from '@kvkit/tensor-core';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { kiviDecodeModule } from '../src/cuda/kivi-decode.js';
import { kiviMmaPlan } from '../src/cuda/kivi-mma-plan.js';
import { splitKMergeModule } from '../src/cuda/split-k.js';
import { type KiviDecodeOptions } from '../src/index.js';
import { tolerance } from './gpu/parity-cases.js';
import { kiviCaseLabel, kiviCudaParity, type KiviCudaShape } from './helpers/kivi-cuda-parity.js';

const seed = freshSeed();
const rng = createRng(seed);
const KV_HEADS = 2;
let cuda: CudaBackend;

beforeAll(async () => {
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  for (const module of [kiviDecodeModule, splitKMergeModule]) cuda.module(module);
}, 600_000);

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

type Shape = KiviCudaShape;

/** From now on, the pass-1 kernels the CUDA decode launches (the merges left out). */
function watchKernels(): () => string[] {
  const launch = vi.spyOn(cuda, 'launch');
  return () => launch.mock.calls.map((call) => String(call[1])).filter((kernel) => !kernel.startsWith('kv_decode_merge'));
}

const parity = (s: Shape, options: KiviDecodeOptions) => kiviCudaParity(rng, cuda, s, options, KV_HEADS);

const planOf = (s: Shape, options: KiviDecodeOptions) =>
  kiviMmaPlan({
    headDim: s.d, bits: s.bits, groupSize: s.groupSize, valueGroupSize: s.valueGroupSize, residualAddresses: [0],
    partitionSize: Math.ceil((options.partitionSize ?? 512) / s.groupSize) * s.groupSize, scaleBytes: s.floatDType === 'f16' ? 2 : 4, queryDtype: s.qDType,
  });

const label = kiviCaseLabel;

// Lengths, groups and masks; every one meets every (bits, head dim, GQA) combination. Value groups
// cycle through 16/32/64/128 (those that divide the head dim).
const scenarios: Array<Pick<Shape, 'n' | 'residual' | 'groupSize' | 'm'> & { options: KiviDecodeOptions; queryPositions?: boolean }> = [
  { n: 512, residual: 0, groupSize: 32, m: 1, options: { partitionSize: 128, causal: true, returnLse: true } }, // quantized throughout, 4 partitions, every key visible
  { n: 700, residual: 45, groupSize: 64, m: 1, options: { returnLse: true } }, // one quantized partition, one reaching the residual
  { n: 300, residual: 0, groupSize: 16, m: 5, options: { partitionSize: 96, causal: true, returnLse: true }, queryPositions: true }, // > 16 rows, causal
  { n: 420, residual: 36, groupSize: 128, m: 1, options: { partitionSize: 128, window: 400, softcap: 4, returnLse: true } },
  { n: 200, residual: 0, groupSize: 16, m: 2, options: { partitionSize: 64, softcap: 3 } },
  { n: 1, residual: 1, groupSize: 32, m: 1, options: { returnLse: true } }, // all residual
];

const cases: Array<{ shape: Shape; options: KiviDecodeOptions }> = [];
let k = 0;
for (const bits of [2, 4] as const) {
  for (const d of [64, 128]) {
    for (const group of [1, 4, 8]) {
      for (const { options, queryPositions, ...scenario } of scenarios) {
        const floatDType = k % 2 === 1 ? 'f16' : 'f32';
        const qDType = (['f16', 'bf16', 'f32', 'f16', 'bf16'] as const)[k % 5]; // f32 queries check the hand-over to the 16-byte pass
        const valueGroupSize = [16, 32, 64, 128].filter((gv) => gv <= d)[k % (d === 64 ? 3 : 4)];
        // causal rows over the middle of the cache, so that some keys are past some rows
        const withRows = queryPositions ? { ...options, queryPositions: Int32Array.from({ length: scenario.m }, (_, i) => 3 * (scenario.n >> 1) + 40 * i) } : options;
        cases.push({ shape: { bits, d, group, ...scenario, valueGroupSize, floatDType, qDType, capacity: k % 4 === 2 ? 3 : 0 }, options: withRows });
        k++;
      }
    }
  }
}

describe(`the tensor-core KIVI pass on the CUDA emulator matches the CPU kernel (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const { shape, options } of cases) {
    it(label(shape, options), async () => {
      // served but for f32 queries
      const mma = planOf(shape, options) !== undefined;
      const kernels = watchKernels();
      const error = await parity(shape, options);
      expect(kernels().includes('kv_kivi_decode_mma_partial')).toBe(mma);
      const limit = tolerance(shape.qDType);
      if (!(error <= limit)) throw new Error(`${label(shape, options)}: relative error ${error} > ${limit} [seed ${seed}]`);
    }, 240_000);
  }

  // Long partitions (16+ whole tiles through the 3-stage ring, staged warp by warp): the output
  // accumulators run for the whole partition. The benchmark shape (2-bit, d 128, groups 32/32, f16
  // scales) and a causal bf16 one with f32 scales whose rows end inside the cache.
  const long: Array<{ shape: Shape; options: KiviDecodeOptions }> = [
    { shape: { bits: 2, d: 128, group: 4, m: 1, n: 4096, residual: 0, groupSize: 32, valueGroupSize: 32, floatDType: 'f16', qDType: 'f16' }, options: { partitionSize: 2048, returnLse: true } },
    {
      shape: { bits: 2, d: 128, group: 2, m: 2, n: 2560, residual: 0, groupSize: 32, valueGroupSize: 64, floatDType: 'f32', qDType: 'bf16' },
      options: { partitionSize: 2048, causal: true, queryPositions: Int32Array.from([3 * 2400, 3 * 2500]) },
    },
  ];
  for (const { shape, options } of long) {
    it(`long partitions: ${label(shape, options)}`, async () => {
      expect(planOf(shape, options)).toBeDefined();
      const kernels = watchKernels();
      const error = await parity(shape, options);
      expect(kernels()).toContain('kv_kivi_decode_mma_partial');
      const limit = tolerance(shape.qDType);
      if (!(error <= limit)) throw new Error(`${label(shape, options)}: relative error ${error} > ${limit} [seed ${seed}]`);
    }, 240_000);
  }

  it('the parity cases above with f16 and bf16 queries all run the tensor-core pass', () => {
    expect(cases.filter(({ shape, options }) => shape.qDType !== 'f32' && planOf(shape, options) === undefined)).toEqual([]);
  });

  const served: Shape = { bits: 2, d: 128, group: 4, m: 1, n: 256, residual: 0, groupSize: 32, valueGroupSize: 32, floatDType: 'f16', qDType: 'f16' };
  it('dispatch picks the tensor-core pass for a served shape', async () => {
    const kernels = watchKernels();
    const error = await parity(served, {});
    expect(kernels()).toEqual(['kv_kivi_decode_mma_partial']);
    expect(error).toBeLessThanOrEqual(tolerance('f16'));
  }, 240_000);

  it('KVKIT_CUDA_DECODE=vec keeps a served shape on the 16-byte pass', async () => {
    vi.stubEnv('KVKIT_CUDA_DECODE', 'vec');
    const kernels = watchKernels();
    const error = await parity(served, {});
    expect(kernels()).toEqual(['kv_kivi_decode_vec_partial']);
    expect(error).toBeLessThanOrEqual(tolerance('f16'));
  }, 240_000);

  const fallback: Shape = { bits: 2, d: 64, group: 4, m: 1, n: 100, residual: 10, groupSize: 24, valueGroupSize: 16, floatDType: 'f32', qDType: 'f32' };
  it(`leaves an unserved shape to the other passes: ${label(fallback, {})}`, async () => {
    expect(planOf(fallback, {})).toBeUndefined();
    const kernels = watchKernels();
    const error = await parity(fallback, {});
    expect(kernels()).not.toContain('kv_kivi_decode_mma_partial');
    expect(error).toBeLessThanOrEqual(tolerance('f32'));
  }, 240_000);
});

describe('kiviMmaPlan', () => {
  const shape = { headDim: 128, bits: 2, groupSize: 32, valueGroupSize: 32, residualAddresses: [256, 512], partitionSize: 512, scaleBytes: 2, queryDtype: 'f16' as const };
  it('serves the benchmark shape (2-bit, d 128, groups 32/32) with 3 stages', () => {
    expect(kiviMmaPlan(shape)).toEqual({ sharedBytes: expect.any(Number), stages: 3 });
    expect(kiviMmaPlan(shape)!.sharedBytes).toBeLessThanOrEqual(96 * 1024);
  });
  it('falls to 2 stages where 3 would pass 96 KiB (4-bit, groups of 16/16, f32 scales)', () => {
    expect(kiviMmaPlan({ ...shape, bits: 4, groupSize: 16, valueGroupSize: 16, scaleBytes: 2 })?.stages).toBe(3);
    expect(kiviMmaPlan({ ...shape, bits: 4, groupSize: 16, valueGroupSize: 16, scaleBytes: 4 })?.stages).toBe(2);
  });
  it('refuses f32 queries, 8 bits, head dim 256, groups off 16, partitions off a 16-key step and misaligned residual buffers', () => {
    expect(kiviMmaPlan({ ...shape, queryDtype: 'f32' })).toBeUndefined();
    expect(kiviMmaPlan({ ...shape, bits: 8 })).toBeUndefined();
    expect(kiviMmaPlan({ ...shape, headDim: 256 })).toBeUndefined();
    expect(kiviMmaPlan({ ...shape, groupSize: 24 })).toBeUndefined();
    expect(kiviMmaPlan({ ...shape, valueGroupSize: 8 })).toBeUndefined();
    expect(kiviMmaPlan({ ...shape, partitionSize: 520 })).toBeUndefined();
    expect(kiviMmaPlan({ ...shape, residualAddresses: [256, 520] })).toBeUndefined();
  });
});
