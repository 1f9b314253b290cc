// The fused KIVI decode's 16-byte CUDA pass (src/cuda/kivi-vec-pass.cuh) on @kvkit/cuda-runtime's
// CPU emulator against the CPU kernel, on fresh random caches: 2- and 4-bit, head dims 64 and 128,
// GQA 1/4/8, lengths that divide neither the key groups nor the 128-key tiles, a single token,
// residual windows empty and not, several tiles and partitions; plus shapes the pass leaves to the
// generic loop (groups of 6 tokens, head dim 256), which must still agree.
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { createRng } from '@kvkit/tensor-core';
import { type CudaBackend, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { kiviVecPlan } from '../src/cuda/kivi-vec-plan.js';
import { kiviDecodeModule } from '../src/cuda/kivi-decode.js';
import { splitKMergeModule } from '../src/cuda/split-k.js';
import { type KiviDecodeOptions } from '../src/index.js';
import { tolerance } from './gpu/parity-cases.js';
import { kiviCaseLabel, kiviCudaParity, type KiviCudaShape } from './helpers/kivi-cuda-parity.js';

const seed = freshSeed();
const rng = createRng(seed);
const KV_HEADS = 2;
let cuda: CudaBackend;

beforeAll(async () => {
  vi.stubEnv('KVKIT_CUDA_DECODE', 'vec'); // served shapes with f16/bf16 queries would take the tensor-core pass (cuda-kivi-mma.test.ts)
  cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  for (const module of [kiviDecodeModule, splitKMergeModule]) cuda.module(module);
}, 600_000);
afterAll(() => {
  vi.unstubAllEnvs();
});

type Shape = KiviCudaShape;

const parity = (s: Shape, options: KiviDecodeOptions) => kiviCudaParity(rng, cuda, s, options, KV_HEADS);

const label = kiviCaseLabel;

// Lengths and windows; every one meets every (bits, head dim, GQA) combination.
const scenarios: Array<Pick<Shape, 'n' | 'residual' | 'groupSize' | 'm'> & { options: KiviDecodeOptions }> = [
  { n: 1, residual: 1, groupSize: 32, m: 1, options: { returnLse: true } },
  { n: 77, residual: 13, groupSize: 32, m: 1, options: { partitionSize: 32, returnLse: true } },
  { n: 300, residual: 0, groupSize: 16, m: 2, options: { partitionSize: 160 } },
  { n: 700, residual: 45, groupSize: 32, m: 1, options: { returnLse: true } },
  { n: 1, residual: 0, groupSize: 32, m: 1, options: {} }, // the key still waits in the residual, its value is quantized
  { n: 261, residual: 70, groupSize: 24, m: 3, options: { partitionSize: 96, window: 500, softcap: 4, returnLse: true } },
];

const cases: Array<{ shape: Shape; options: KiviDecodeOptions }> = [];
let k = 0;
for (const bits of [2, 4] as const) {
  for (const d of [64, 128]) {
    for (const group of [1, 4, 8]) {
      for (const { options, ...scenario } of scenarios) {
        // f16 scales, residual and queries in a third of the cases, bf16 queries in another
        const floatDType = k % 3 === 1 ? 'f16' : 'f32';
        const qDType = (['f32', 'f16', 'bf16'] as const)[k % 3];
        cases.push({ shape: { bits, d, group, ...scenario, valueGroupSize: d === 64 ? 16 : 32, floatDType, qDType, capacity: k % 4 === 2 ? 3 : 0 }, options });
        k++;
      }
    }
  }
}

describe(`the 16-byte KIVI pass on the CUDA emulator matches the CPU kernel (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const { shape, options } of cases) {
    it(label(shape, options), async () => {
      expect(kiviVecPlan({ headDim: shape.d, bits: shape.bits, groupSize: shape.groupSize, valueGroupSize: shape.valueGroupSize, residualAddresses: [0] })).toBeDefined();
      const error = await parity(shape, options);
      const limit = tolerance(shape.qDType);
      if (!(error <= limit)) throw new Error(`${label(shape, options)}: relative error ${error} > ${limit} [seed ${seed}]`);
    }, 240_000);
  }

  const fallbacks: Array<{ shape: Shape; options: KiviDecodeOptions }> = [
    { shape: { bits: 2, d: 64, group: 4, m: 1, n: 100, residual: 10, groupSize: 6, valueGroupSize: 16, floatDType: 'f32', qDType: 'f32' }, options: { returnLse: true } },
    { shape: { bits: 4, d: 256, group: 2, m: 1, n: 90, residual: 20, groupSize: 32, valueGroupSize: 32, floatDType: 'f32', qDType: 'f32' }, options: { partitionSize: 64 } },
  ];
  for (const { shape, options } of fallbacks) {
    it(`generic loop (the pass does not serve it): ${label(shape, options)}`, async () => {
      expect(kiviVecPlan({ headDim: shape.d, bits: shape.bits, groupSize: shape.groupSize, valueGroupSize: shape.valueGroupSize, residualAddresses: [0] })).toBeUndefined();
      const error = await parity(shape, options);
      if (!(error <= tolerance(shape.qDType))) throw new Error(`${label(shape, options)}: relative error ${error} [seed ${seed}]`);
    }, 240_000);
  }
});

describe('kiviVecPlan', () => {
  it('sizes the shared memory of the benchmark shape (2-bit, d 128, groups 32/32) and refuses misaligned residual buffers', () => {
    const shape = { headDim: 128, bits: 2, groupSize: 32, valueGroupSize: 32, residualAddresses: [256, 512] };
    expect(kiviVecPlan(shape)?.sharedBytes).toBeLessThanOrEqual(48 * 1024);
    expect(kiviVecPlan({ ...shape, residualAddresses: [256, 520] })).toBeUndefined();
  });
});
