// The tensor-core prefill pass 1 (src/cuda/mma-prefill-pass.cuh: blocks of 64 query rows sharing
// each K/V tile) on @kvkit/cuda-runtime's CPU emulator against the CPU kernels, on fresh random
// inputs: causal prefill with n = m (64, 65, 130, 300: full and partial row blocks, partial key
// tiles) and chunked prefill (queries at the end of the keys), GQA 1/4/8, head dims 64 and 128 (and
// a value dim ≠ key dim), f16 and bf16 K/V, f32/f16/bf16 queries, sliding window, soft-cap, log
// weights, gapped positions, several partitions, lse; dense (flashAttention, decodeAttention),
// ragged (batchedDecodeAttention) and paged (pagedAttention) sources. Every case checks that pass 1
// ran the prefill kernel; shapes under 64 rows per KV row keep the 16-row pass, and
// KVKIT_CUDA_DECODE=mma16 forces it.
//
// As for the 16-row pass, the scaled query and the probabilities are rounded to the K/V dtype (mma
// operands), so every case is held to the half-precision tolerance.
import { createRng, type DType, getBackend, randomNormal, runKernel, type Tensor } from '@kvkit/tensor-core';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it, vi } from 'vitest';
import { MMA_PREFILL_ROWS, mmaPrefillLaunch, mmaPrefillServes, mmaPrefillSharedBytes } from '../src/cuda/mma-decode-plan.js';
import { decodeAttentionModule, splitKMergeModule } from '../src/cuda/split-k.js';
import { batchedDecodeAttention, decodeAttention, type DecodeAttentionOptions, ensureAttentionKernels, flashAttention, type FlashAttentionOptions, type KernelResult } from '../src/index.js';
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
  n: number;
  d: number;
  dv?: number;
  kv: DType;
  q: DType;
}

const label = (s: Shape) => `d ${s.d}${s.dv ? `/${s.dv}` : ''}, GQA ${s.group}, m ${s.m}, n ${s.n}, ${s.kv} K/V, ${s.q} q`;

/** Worst relative error against the CPU, and that pass 1 ran the kernel `expected` names (a prefix). */
const check = (got: KernelResult, ref: KernelResult, s: Pick<Shape, 'kv'>, expected: string) => expectPassOne(got, ref, launched, expected, tolerance(s.kv), seed);

function qkv(s: Shape): [Tensor, Tensor, Tensor] {
  const kvHeads = s.kvHeads ?? 2;
  return [
    randomNormal([kvHeads * s.group, s.m, s.d], rng, { dtype: s.q, backend: cpu }),
    randomNormal([kvHeads, s.n, s.d], rng, { dtype: s.kv, backend: cpu }),
    randomNormal([kvHeads, s.n, s.dv ?? s.d], rng, { dtype: s.kv, backend: cpu }),
  ];
}

// ---- flashAttention: default positions (keys 0 … n − 1, queries the last m) ------------------------

type FlashOptions = Omit<FlashAttentionOptions, 'keyLogWeights' | 'queryPositions' | 'keyPositions'> & { logWeights?: boolean };

async function flash(s: Shape, options: FlashOptions, expected = 'kv_decode_mma_prefill_partial_'): Promise<void> {
  const [q, k, v] = qkv(s);
  const { logWeights, ...rest } = options;
  const lw = logWeights ? randomNormal([s.kvHeads ?? 2, s.n], rng, { backend: cpu }) : undefined;
  const ref = flashAttention(q, k, v, { ...rest, keyLogWeights: lw });
  const [gq, gk, gv] = await Promise.all([q, k, v].map(onCuda));
  const got = flashAttention(gq, gk, gv, { ...rest, keyLogWeights: lw && (await onCuda(lw)) });
  await check(got, ref, s, expected);
}

const flashCases: Array<{ shape: Shape; options: FlashOptions; name: string }> = [
  { name: 'causal, one full row block', shape: { group: 1, m: 64, n: 64, d: 64, kv: 'f16', q: 'f32' }, options: { returnLse: true } },
  { name: 'causal, 65 queries of 4 heads: a 4-row last block', shape: { group: 4, m: 65, n: 65, d: 128, kv: 'bf16', q: 'f16' }, options: { returnLse: true } },
  { name: 'causal, 130 queries: a 2-row last block, 3 key tiles', shape: { group: 1, m: 130, n: 130, d: 128, kv: 'f16', q: 'bf16' }, options: { returnLse: true } },
  { name: 'causal, 300 queries, window 50, soft-cap 5', shape: { kvHeads: 1, group: 8, m: 300, n: 300, d: 64, kv: 'bf16', q: 'f32' }, options: { window: 50, softcap: 5, returnLse: true } },
  { name: 'chunked prefill: 100 queries at the end of 400 keys, log weights', shape: { kvHeads: 1, group: 4, m: 100, n: 400, d: 128, kv: 'f16', q: 'f16' }, options: { logWeights: true, returnLse: true } },
  { name: 'chunked prefill: 64 queries at the end of 1100 keys (3 partitions, tiles every row sees)', shape: { kvHeads: 1, group: 1, m: 64, n: 1100, d: 64, kv: 'bf16', q: 'bf16' }, options: { returnLse: true } },
  { name: 'non-causal, 70 queries over 150 keys', shape: { kvHeads: 1, group: 1, m: 70, n: 150, d: 64, kv: 'f16', q: 'f32' }, options: { causal: false, returnLse: true } },
];

describe(`tensor-core prefill pass 1 on the CUDA emulator matches the CPU kernels (seed ${seed}; reproduce with KVKIT_SEED=${seed})`, () => {
  for (const { name, shape, options } of flashCases) {
    it(`flashAttention: ${label(shape)}, ${name}`, () => flash(shape, options), CASE_TIMEOUT_MS);
  }

  // ---- decodeAttention: gapped positions, small partitions, value dim ≠ key dim -------------------
  type DenseOptions = Omit<DecodeAttentionOptions, 'queryPositions' | 'keyPositions'> & { logWeights?: boolean };
  const denseCases: Array<{ shape: Shape; options: DenseOptions; name: string }> = [
    { name: 'gapped positions, partitions of 96 (some skipped whole), window 40', shape: { kvHeads: 1, group: 1, m: 80, n: 300, d: 128, kv: 'f16', q: 'f16' }, options: { partitionSize: 96, window: 40, returnLse: true } },
    { name: '8 heads × 8 queries = 64 rows per KV row, value dim 128 ≠ key dim 64, log weights', shape: { kvHeads: 1, group: 8, m: 8, n: 90, d: 64, dv: 128, kv: 'bf16', q: 'f32' }, options: { logWeights: true, returnLse: true } },
  ];
  for (const { name, shape: s, options } of denseCases) {
    it(`decodeAttention: ${label(s)}, ${name}`, async () => {
      const [q, k, v] = qkv(s);
      const kPos = gappedPositions(rng, s.n);
      const { logWeights, ...rest } = options;
      // Queries every other position up to the last key: a causal diagonal through gapped keys.
      const qPos = Int32Array.from({ length: s.m }, (_, i) => kPos[s.n - 1] - 2 * (s.m - 1 - i));
      const lw = logWeights ? randomNormal([s.kvHeads ?? 2, s.n], rng, { backend: cpu }) : undefined;
      const ref = decodeAttention(q, k, v, { ...rest, queryPositions: qPos, keyPositions: kPos, keyLogWeights: lw });
      const [gq, gk, gv] = await Promise.all([q, k, v].map(onCuda));
      const got = decodeAttention(gq, gk, gv, {
        ...rest,
        queryPositions: await onCuda(ints(qPos, [s.m])),
        keyPositions: await onCuda(ints(kPos, [s.n])),
        keyLogWeights: lw && (await onCuda(lw)),
      });
      await check(got, ref, s, 'kv_decode_mma_prefill_partial_');
    }, CASE_TIMEOUT_MS);
  }

  // ---- ragged ----------------------------------------------------------------------------------
  it('batchedDecodeAttention (ragged): d 64, GQA 1, m 64, lengths 130/0/200, window 70, log weights', async () => {
    const kvHeads = 2, group = 1, m = 64, d = 64;
    const lengths = [130, 0, 200];
    const total = lengths.reduce((a, b) => a + b, 0);
    const q = randomNormal([lengths.length, kvHeads * group, m, d], rng, { dtype: 'f16', backend: cpu });
    const k = randomNormal([kvHeads, total, d], rng, { dtype: 'bf16', backend: cpu });
    const v = randomNormal([kvHeads, total, d], rng, { dtype: 'bf16', backend: cpu });
    const lw = randomNormal([kvHeads, total], rng, { backend: cpu });
    const common = { kvLengths: lengths, window: 70, partitionSize: 128, returnLse: true };
    const ref = batchedDecodeAttention(q, k, v, { ...common, keyLogWeights: lw });
    const [gq, gk, gv] = await Promise.all([q, k, v].map(onCuda));
    const got = batchedDecodeAttention(gq, gk, gv, { ...common, keyLogWeights: await onCuda(lw) });
    await check(got, ref, { kv: 'bf16' }, 'kv_ragged_decode_mma_prefill_partial_');
  }, CASE_TIMEOUT_MS);

  // ---- paged -----------------------------------------------------------------------------------
  const pagedCases: Array<{ shape: Omit<Shape, 'n'> & { batch: number; pageSize: number; maxLength: number }; window?: number; softcap?: number }> = [
    { shape: { batch: 2, group: 4, m: 20, d: 128, kv: 'f16', q: 'f16', pageSize: 16, maxLength: 200 }, window: 90 },
    { shape: { batch: 2, group: 1, m: 70, d: 64, kv: 'bf16', q: 'f32', pageSize: 5, maxLength: 150 }, softcap: 5 },
  ];
  for (const { shape: s, window, softcap } of pagedCases) {
    it(`pagedAttention: d ${s.d}, GQA ${s.group}, m ${s.m}, batch ${s.batch}, pages of ${s.pageSize}, lengths up to ${s.maxLength}, window ${window ?? 0}, soft-cap ${softcap ?? 0}`, async () => {
      const { inputs, attrs } = pagedInputs(rng, { ...s, kvHeads: 2, window, softcap }, (r) => (r === 0 ? s.maxLength : s.m + rng.int(s.maxLength - s.m + 1)));
      ensureAttentionKernels(cpu);
      ensureAttentionKernels(suite.cuda);
      const ref = runKernel('pagedAttention', inputs, attrs);
      const got = runKernel('pagedAttention', await Promise.all(inputs.map(onCuda)), attrs);
      await check(got, ref, s, 'kv_paged_decode_mma_prefill_partial_');
    }, CASE_TIMEOUT_MS);
  }

  // ---- what stays on the 16-row pass -----------------------------------------------------------
  it('keeps the 16-row pass under 64 rows per KV row (4 heads × 15 queries)', () => flash({ kvHeads: 1, group: 4, m: 15, n: 40, d: 64, kv: 'f16', q: 'f16' }, { returnLse: true }, 'kv_decode_mma_partial_'), CASE_TIMEOUT_MS);

  it('KVKIT_CUDA_DECODE=mma16 forces the 16-row tensor-core pass on a prefill shape', async () => {
    vi.stubEnv('KVKIT_CUDA_DECODE', 'mma16');
    await flash({ kvHeads: 1, group: 1, m: 70, n: 70, d: 64, kv: 'bf16', q: 'bf16' }, { returnLse: true }, 'kv_decode_mma_partial_');
  }, CASE_TIMEOUT_MS);

  it('KVKIT_CUDA_DECODE=vec still forces the 16-byte pass on a prefill shape', async () => {
    vi.stubEnv('KVKIT_CUDA_DECODE', 'vec');
    await flash({ kvHeads: 1, group: 1, m: 70, n: 70, d: 64, kv: 'f16', q: 'f16' }, { returnLse: true }, 'kv_decode_partial_f16_f16');
  }, CASE_TIMEOUT_MS);
});

describe('mmaPrefillServes / mmaPrefillLaunch', () => {
  it('serve 64 rows per KV row and more, within the device\'s shared memory', () => {
    const served = { rowsPerKvRow: 64, d: 128, dv: 128, maxSharedBytes: 227 * 1024 };
    expect(mmaPrefillServes(served)).toBe(true);
    expect(mmaPrefillServes({ ...served, rowsPerKvRow: 63 })).toBe(false);
    // 3 stages of 64 keys at head dim 128 (K, V, positions, log weights, row tables) and the scratch: 105.1 KiB
    expect(mmaPrefillSharedBytes(128, 128)).toBe(107_584);
    expect(mmaPrefillServes({ ...served, maxSharedBytes: 99 * 1024 })).toBe(false);
  });
  it('regroups the launch by 64 query rows per KV row', () => {
    const launch = mmaPrefillLaunch({ grid: [3, 8, 1] as [number, number, number], block: 128, sharedBytes: 0 }, { rowsPerKvRow: 4 * 65, d: 128, dv: 128 });
    expect(launch).toEqual({ grid: [3, 8, Math.ceil(260 / MMA_PREFILL_ROWS)], block: 128, sharedBytes: 107_584 });
  });
});
