// The tensor-core split-K pass 1 (src/cuda/mma-decode-pass.cuh) on @kvkit/cuda-runtime's CPU
// emulator against the CPU kernels, on fresh random inputs: head dims 64 and 128 (and 32, a value
// dim ≠ key dim), GQA 1/4/8, one query and several (more than 16 rows per KV head: several blocks),
// lengths 1–1500 that divide neither the 16-key steps nor the partitions, f16 and bf16 K/V, f32/f16/
// bf16 queries, causal, sliding window, soft-cap, log weights, rows that see no key; dense, ragged
// (batchedDecodeAttention) and paged (pagedAttention) sources; lse. Every case checks that dispatch
// really took the tensor-core kernel; the shapes it does not serve must take the old ones.
//
// The pass rounds the scaled query and the probabilities to the K/V dtype (mma operands), so every
// case is held to the half-precision tolerance, whatever the query dtype.
import { createRng, type DType, getBackend, randomNormal, runKernel } from '@kvkit/tensor-core';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it, vi } from 'vitest';
import { MMA_ROWS, mmaDecodeLaunch, mmaDecodeServes, mmaDecodeSharedBytes } from '../src/cuda/mma-decode-plan.js';
import { decodeAttentionModule, splitKMergeModule } from '../src/cuda/split-k.js';
import { batchedDecodeAttention, decodeAttention, type DecodeAttentionOptions, ensureAttentionKernels, type KernelResult } from '../src/index.js';
import { tolerance } from './gpu/parity-cases.js';
import { pagedInputs } from './gpu/paged-inputs.js';
import { gappedPositions } from './helpers/reference.js';
import { expectPassOne, ints, passOneSuite } from './helpers/emulated-pass-one.js';

const seed = freshSeed();
const rng = createRng(seed);
const CASE_TIMEOUT_MS = 240_000;
const cpu = getBackend('cpu');
const suite = passOneSuite([decodeAttentionModule, splitKMergeModule]);
const { launched, onCuda } = suite;

interface Shape {
  kvHeads?: number;
  group: number;
  m: number;
  d: number;
  dv?: number;
  kv: DType;
  q: DType;
}

const label = (s: Shape, extra: string) => `d ${s.d}${s.dv ? `/${s.dv}` : ''}, GQA ${s.group}, m ${s.m}, ${s.kv} K/V, ${s.q} q, ${extra}`;

/** Worst relative error against the CPU, and that pass 1 ran the kernel `expected` names (a prefix). */
const check = (got: KernelResult, ref: KernelResult, s: Shape, expected: string) => expectPassOne(got, ref, launched, expected, tolerance(s.kv), seed);

// ---- dense -------------------------------------------------------------------------------------

type DenseOptions = Omit<DecodeAttentionOptions, 'queryPositions' | 'keyPositions'> & { logWeights?: boolean; queryStart?: number };

async function dense(s: Shape & { n: number }, options: DenseOptions, expected: string): Promise<void> {
  const kvHeads = s.kvHeads ?? 2;
  const q = randomNormal([kvHeads * s.group, s.m, s.d], rng, { dtype: s.q, backend: cpu });
  const k = randomNormal([kvHeads, s.n, s.d], rng, { dtype: s.kv, backend: cpu });
  const v = randomNormal([kvHeads, s.n, s.dv ?? s.d], rng, { dtype: s.kv, backend: cpu });
  const kPos = gappedPositions(rng, s.n);
  const { logWeights, queryStart, ...rest } = options;
  const start = queryStart ?? kPos[s.n - 1] - 2 * (s.m - 1);
  const qPos = Int32Array.from({ length: s.m }, (_, i) => start + 2 * i);
  const lw = logWeights ? randomNormal([kvHeads, s.n], rng, { backend: cpu }) : undefined;
  const ref = decodeAttention(q, k, v, { ...rest, queryPositions: qPos, keyPositions: kPos, keyLogWeights: lw });
  const [gq, gk, gv] = await Promise.all([q, k, v].map(onCuda));
  const got = decodeAttention(gq, gk, gv, {
    ...rest,
    queryPositions: await onCuda(ints(qPos, [s.m])),
    keyPositions: await onCuda(ints(kPos, [s.n])),
    keyLogWeights: lw && (await onCuda(lw)),
  });
  await check(got, ref, s, expected);
}

const denseCases: Array<{ shape: Shape & { n: number }; options: DenseOptions; name: string }> = [
  { name: 'one token', shape: { group: 1, m: 1, d: 128, kv: 'f16', q: 'f32', n: 1 }, options: { returnLse: true } },
  { name: '15 keys, causal', shape: { group: 1, m: 3, d: 64, kv: 'bf16', q: 'f32', n: 15 }, options: { returnLse: true } },
  { name: '16 keys (one step), 20 rows: 2 row blocks', shape: { group: 4, m: 5, d: 128, kv: 'f16', q: 'bf16', n: 16 }, options: { partitionSize: 16 } },
  { name: '17 keys over partitions of 16, log weights, non-causal', shape: { group: 4, m: 2, d: 128, kv: 'bf16', q: 'f16', n: 17 }, options: { partitionSize: 16, causal: false, logWeights: true, returnLse: true } },
  { name: '100 keys, sliding window 9 + soft-cap 4, 24 rows', shape: { group: 8, m: 3, d: 64, kv: 'f16', q: 'f16', n: 100 }, options: { partitionSize: 48, window: 9, softcap: 4, scale: 0.2, returnLse: true } },
  { name: '700 keys, partitions sized by the backend (no partitionSize)', shape: { group: 8, m: 1, d: 64, kv: 'bf16', q: 'bf16', n: 700 }, options: { returnLse: true } },
  { name: '1500 keys, the decode shape, partitions sized by the backend', shape: { group: 4, m: 1, d: 128, kv: 'f16', q: 'f16', n: 1500 }, options: { returnLse: true } },
  { name: '700 keys, 32 rows, window 300, partitions of 256', shape: { kvHeads: 1, group: 8, m: 4, d: 128, kv: 'bf16', q: 'f32', n: 700 }, options: { window: 300, partitionSize: 256, returnLse: true } },
  { name: 'sliding window 200 (the first partitions are skipped whole)', shape: { group: 4, m: 1, d: 128, kv: 'bf16', q: 'bf16', n: 1500 }, options: { window: 200, returnLse: true } },
  { name: 'causal chunk of 40 queries at the start of 300 keys (later partitions skipped whole)', shape: { kvHeads: 1, group: 1, m: 40, d: 64, kv: 'f16', q: 'f16', n: 300 }, options: { queryStart: 0, partitionSize: 64, returnLse: true } },
  { name: 'value dim 128 ≠ key dim 64, log weights', shape: { group: 2, m: 2, d: 64, dv: 128, kv: 'f16', q: 'f32', n: 100 }, options: { logWeights: true, partitionSize: 64, returnLse: true } },
  { name: 'head dim 32, rows that see no key (zeros, lse −∞) beside rows that see some', shape: { kvHeads: 1, group: 2, m: 5, d: 32, kv: 'f16', q: 'f16', n: 9 }, options: { queryStart: -5, partitionSize: 4, returnLse: true } },
];

describe(`tensor-core decode pass 1 on the CUDA emulator matches the CPU kernels (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const { name, shape, options } of denseCases) {
    it(`decodeAttention: ${label(shape, `n ${shape.n}, ${name}`)}`, () => dense(shape, options, 'kv_decode_mma_partial_'), CASE_TIMEOUT_MS);
  }

  // ---- ragged ----------------------------------------------------------------------------------
  const raggedCases: Array<{ shape: Shape; lengths: number[]; options: { logWeights?: boolean; window?: number; partitionSize?: number } }> = [
    { shape: { group: 4, m: 1, d: 128, kv: 'f16', q: 'f16' }, lengths: [130, 1, 700], options: {} },
    { shape: { group: 8, m: 3, d: 64, kv: 'bf16', q: 'f32' }, lengths: [45, 17, 0, 260], options: { logWeights: true, window: 40, partitionSize: 96 } },
  ];
  for (const { shape, lengths, options } of raggedCases) {
    it(`batchedDecodeAttention (ragged): ${label(shape, `lengths ${lengths.join('/')}, ${JSON.stringify(options)}`)}`, async () => {
      const kvHeads = 2;
      const total = lengths.reduce((a, b) => a + b, 0);
      const q = randomNormal([lengths.length, kvHeads * shape.group, shape.m, shape.d], rng, { dtype: shape.q, backend: cpu });
      const k = randomNormal([kvHeads, total, shape.d], rng, { dtype: shape.kv, backend: cpu });
      const v = randomNormal([kvHeads, total, shape.d], rng, { dtype: shape.kv, backend: cpu });
      const lw = options.logWeights ? randomNormal([kvHeads, total], rng, { backend: cpu }) : undefined;
      const common = { kvLengths: lengths, window: options.window, partitionSize: options.partitionSize, returnLse: true };
      const ref = batchedDecodeAttention(q, k, v, { ...common, keyLogWeights: lw });
      const [gq, gk, gv] = await Promise.all([q, k, v].map(onCuda));
      const got = batchedDecodeAttention(gq, gk, gv, { ...common, keyLogWeights: lw && (await onCuda(lw)) });
      await check(got, ref, shape, 'kv_ragged_decode_mma_partial_');
    }, CASE_TIMEOUT_MS);
  }

  // ---- paged -----------------------------------------------------------------------------------
  const pagedCases: Array<{ shape: Shape & { batch: number; pageSize: number; maxLength: number }; window?: number; softcap?: number }> = [
    { shape: { batch: 2, group: 4, m: 1, d: 128, kv: 'f16', q: 'f16', pageSize: 16, maxLength: 700 }, window: 500 },
    { shape: { batch: 3, group: 8, m: 2, d: 64, kv: 'bf16', q: 'f32', pageSize: 5, maxLength: 77 }, softcap: 5 },
    // pages of one token: every key of a step has its own table entry, looked up a step ahead of its copies
    { shape: { batch: 2, group: 2, m: 3, d: 64, kv: 'f16', q: 'bf16', pageSize: 1, maxLength: 600 } },
  ];
  for (const { shape: s, window, softcap } of pagedCases) {
    it(`pagedAttention: ${label(s, `batch ${s.batch}, pages of ${s.pageSize}, ragged lengths up to ${s.maxLength}, window ${window ?? 0}, soft-cap ${softcap ?? 0}`)}`, async () => {
      const { inputs, attrs } = pagedInputs(rng, { ...s, kvHeads: 2, window, softcap }, (r) => (r === 0 ? s.maxLength : rng.int(s.maxLength + 1)));
      ensureAttentionKernels(cpu);
      ensureAttentionKernels(suite.cuda);
      const ref = runKernel('pagedAttention', inputs, attrs);
      const got = runKernel('pagedAttention', await Promise.all(inputs.map(onCuda)), attrs);
      await check(got, ref, s, 'kv_paged_decode_mma_partial_');
    }, CASE_TIMEOUT_MS);
  }

  // ---- what the pass does not serve ------------------------------------------------------------
  const fallbacks: Array<{ shape: Shape & { n: number }; kernel: string; why: string }> = [
    { shape: { group: 4, m: 1, d: 64, kv: 'f32', q: 'f32', n: 100 }, kernel: 'kv_decode_partial_f32_f32', why: 'f32 K/V' },
    { shape: { group: 2, m: 1, d: 96, kv: 'f16', q: 'f16', n: 70 }, kernel: 'kv_decode_partial_f16_f16', why: 'head dim 96' },
    { shape: { group: 2, m: 1, d: 256, kv: 'bf16', q: 'bf16', n: 40 }, kernel: 'kv_decode_partial_bf16_bf16', why: 'head dim 256' },
  ];
  for (const { shape, kernel, why } of fallbacks) {
    it(`falls back to the old pass 1 (${why}): ${label(shape, `n ${shape.n}`)}`, () => dense(shape, { returnLse: true }, kernel), CASE_TIMEOUT_MS);
  }

  it('KVKIT_CUDA_DECODE=vec forces the 16-byte pass on a shape the tensor-core pass serves', async () => {
    vi.stubEnv('KVKIT_CUDA_DECODE', 'vec');
    await dense({ group: 4, m: 1, d: 128, kv: 'f16', q: 'f16', n: 40 }, { returnLse: true }, 'kv_decode_partial_f16_f16');
  }, CASE_TIMEOUT_MS);
});

describe('mmaDecodeServes / mmaDecodeLaunch', () => {
  const served = { keyDtype: 'f16' as DType, d: 128, dv: 128, addresses: [0, 4096], maxSharedBytes: 227 * 1024 };
  it('serve f16/bf16 at head dims 16–128 (powers of two), 16-byte aligned, within the device\'s shared memory', () => {
    expect(mmaDecodeServes(served)).toBe(true);
    expect(mmaDecodeServes({ ...served, keyDtype: 'bf16', d: 64, dv: 32 })).toBe(true);
    expect(mmaDecodeServes({ ...served, keyDtype: 'f32' })).toBe(false);
    expect(mmaDecodeServes({ ...served, d: 96, dv: 96 })).toBe(false);
    expect(mmaDecodeServes({ ...served, addresses: [0, 4104] })).toBe(false);
    // consumer GPUs allow 99 KiB per block: head dim 128 (103.5 KiB) keeps the 16-byte pass there, 64 fits
    expect(mmaDecodeSharedBytes(128, 128)).toBe(105_984);
    expect(mmaDecodeServes({ ...served, maxSharedBytes: 99 * 1024 })).toBe(false);
    expect(mmaDecodeServes({ ...served, d: 64, dv: 64, maxSharedBytes: 99 * 1024 })).toBe(true);
  });
  it('regroups the launch by 16 query rows per KV row', () => {
    const launch = mmaDecodeLaunch({ grid: [64, 64, 1] as [number, number, number], block: 128, sharedBytes: 0 }, { rowsPerKvRow: 4 * 9, d: 128, dv: 128 });
    expect(launch).toEqual({ grid: [64, 64, Math.ceil(36 / MMA_ROWS)], block: 128, sharedBytes: 105_984 });
  });
});
