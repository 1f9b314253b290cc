/**
 * Parity cases aimed at the WebGPU decode that reads keys and values as 16-byte words
 * (src/webgpu/word-rows.ts, split-k.ts): head dims 64 and 128, GQA 1/4/8, f32/f16/bf16, lengths that
 * divide neither the 128-key tile nor the partition, a cache of 1 token, rows that do not start on a
 * 16-byte boundary (read element by element), paged and ragged sources, KIVI at 2 and 4 bits with a
 * residual window, and shared prefixes of several 512-token runs. Same harness as parity-cases.ts
 * (fresh seeded inputs, the CPU kernels as reference).
 */
import { type DType, getBackend, randomNormal, slice, type Tensor, transpose } from '@kvkit/tensor-core';
import { decodeAttention } from '../../src/index.js';
import { batchedCase, compareResults, decodeCase, type GpuParityCase, kiviCase, onGpu, pagedCase, prefixCase, tolerance } from './parity-cases.js';

/** Rows of d channels inside rows of d + 2 (offset 1): no row starts on a 16-byte boundary, so the kernel reads them element by element. */
function unalignedRowsCase(dtype: DType, d: number): GpuParityCase {
  return {
    name: `decodeAttention: ${dtype} rows off the 16-byte grid (channels 1..${d} of ${d + 2}-wide rows), GQA 4, n = 300`,
    kernel: 'decodeAttention',
    tolerance: tolerance(dtype),
    async run(gpu, rng) {
      const cpu = getBackend('cpu');
      const [kvHeads, group, n] = [2, 4, 300];
      const q = randomNormal([kvHeads * group, 1, d], rng, { dtype, backend: cpu });
      const k = randomNormal([kvHeads, n, d + 2], rng, { dtype, backend: cpu });
      const v = randomNormal([kvHeads, n, d + 2], rng, { dtype, backend: cpu });
      const inner = (t: Tensor) => slice(t, [0, 0, 1], [kvHeads, n, d + 1]);
      const options = { partitionSize: 256, returnLse: true };
      const ref = decodeAttention(q, inner(k), inner(v), options);
      const [gq, gk, gv] = await Promise.all([q, k, v].map((t) => onGpu(gpu, t)));
      return compareResults(decodeAttention(gq, inner(gk), inner(gv), options), ref);
    },
  };
}

/** K/V views whose channels are strided (transposes of [kvHeads, d, n] buffers): the kernel reads row-major copies. */
function stridedChannelsCase(dtype: DType): GpuParityCase {
  return {
    name: `decodeAttention: ${dtype} k/v with strided channels (transposed [kvHeads, d, n] buffers), head dim 64, GQA 4, n = 200`,
    kernel: 'decodeAttention',
    tolerance: tolerance(dtype),
    async run(gpu, rng) {
      const cpu = getBackend('cpu');
      const [kvHeads, group, n, d] = [2, 4, 200, 64];
      const q = randomNormal([kvHeads * group, 1, d], rng, { dtype, backend: cpu });
      const k = randomNormal([kvHeads, d, n], rng, { dtype, backend: cpu });
      const v = randomNormal([kvHeads, d, n], rng, { dtype, backend: cpu });
      const rows = (t: Tensor) => transpose(t, [0, 2, 1]);
      const options = { returnLse: true };
      const ref = decodeAttention(q, rows(k), rows(v), options);
      const [gq, gk, gv] = await Promise.all([q, k, v].map((t) => onGpu(gpu, t)));
      return compareResults(decodeAttention(gq, rows(gk), rows(gv), options), ref);
    },
  };
}

/**
 * Shared runs longer than a partition (chunks over 512 tokens: each run one chunk), so the
 * prefix-shared decode cuts every slot into pieces of ≤ 512 keys: 4 or 5 requests sharing the prompt,
 * each with a ragged suffix of its own (own groups of a chunk's length, cut into pieces as well).
 */
function splitRunCases(): GpuParityCase[] {
  return [
    prefixCase('a shared prompt of 1502 tokens (one chunk of 1500: 3 pieces of ≤ 512 keys), 5 requests with own suffixes of 1–1100 tokens, GQA 4, head dim 128, f16 pool', { group: 4, m: 1, d: 128, chunkSize: 1500, dtype: 'f16', sharedChunks: 1, suffixes: { requests: 5, maxLength: 1100 } }),
    prefixCase('a shared prompt of 3002 tokens (3 chunks of 1000: 3 runs of 2 pieces), 4 requests with own suffixes of 1–700 tokens, GQA 4, 2 queries, head dim 64, f32 pool', { group: 4, m: 2, d: 64, chunkSize: 1000, dtype: 'f32', sharedChunks: 3, suffixes: { requests: 4, maxLength: 700 } }),
    prefixCase('with per-key statistics, a shared prompt of 1502 tokens (one chunk of 1500 in 3 pieces), 4 requests with own suffixes of 1–600 tokens, GQA 4, head dim 64, f32 pool', { group: 4, m: 1, d: 64, chunkSize: 1500, dtype: 'f32', sharedChunks: 1, suffixes: { requests: 4, maxLength: 600 }, statistics: true }),
    prefixCase('with statistics and a window of 700 + soft-cap, a shared prompt of 3002 tokens (chunks of 1000), 3 requests, GQA 4, head dim 128, f16 pool', { group: 4, m: 1, d: 128, chunkSize: 1000, dtype: 'f16', sharedChunks: 3, suffixes: { requests: 3, maxLength: 400 }, window: 700, softcap: 10, statistics: { window: 1, decay: 0.9 } }),
  ];
}

/**
 * KIVI with the key tile staged in workgroup memory (codes copied 16 bytes at a time, scales and
 * minima as octets): 2 and 4 bits, key and value groups of 32/64/128, head dims 64/128, residual
 * windows empty and not (keys' residual can exceed a tile), lengths that divide neither the tile nor
 * the partition; one head dim whose code blocks are not 16-byte multiples (codes copied word by word).
 */
function stagedKiviCases(): GpuParityCase[] {
  return [
    kiviCase('staged keys: 2-bit, key/value groups of 32, head dim 128, GQA 4, n = 1000 (residual 40), f16 scales', { bits: 2, group: 4, m: 1, n: 1000, residual: 40, groupSize: 32, valueGroupSize: 32, d: 128, floatDType: 'f16', qDType: 'f16' }, { returnLse: true }),
    kiviCase('staged keys: 2-bit, key/value groups of 64, head dim 64, GQA 4, n = 704 (11 groups, no residual)', { bits: 2, group: 4, m: 1, n: 704, residual: 0, groupSize: 64, valueGroupSize: 64, d: 64, floatDType: 'f32', qDType: 'f32' }, { returnLse: true }),
    kiviCase('staged keys: 2-bit, key/value groups of 128, head dim 128, GQA 8, n = 1300 (10 groups + 20 residual), partitions of 256, f16 scales', { bits: 2, group: 8, m: 1, n: 1300, residual: 20, groupSize: 128, valueGroupSize: 128, d: 128, floatDType: 'f16', qDType: 'f32' }, { partitionSize: 256, returnLse: true }),
    kiviCase('staged keys: 4-bit, key groups of 32, value groups of 64, head dim 64, MHA, n = 333 (keys: 13 residual; values: none)', { bits: 4, group: 1, m: 1, n: 333, residual: 0, groupSize: 32, valueGroupSize: 64, d: 64, floatDType: 'f32', qDType: 'f32' }, { returnLse: true }),
    kiviCase('staged keys: 4-bit, key groups of 64, value groups of 32, head dim 128, GQA 4, n = 900 (keys: 12 groups + 132 residual), f16 scales', { bits: 4, group: 4, m: 1, n: 900, residual: 100, groupSize: 64, valueGroupSize: 32, d: 128, floatDType: 'f16', qDType: 'f16' }, { returnLse: true }),
    kiviCase('staged keys: 4-bit, key/value groups of 128, head dim 128, GQA 4, 2 queries, n = 1088 (8 groups + 64 residual), f16 scales', { bits: 4, group: 4, m: 2, n: 1088, residual: 64, groupSize: 128, valueGroupSize: 128, d: 128, floatDType: 'f16', qDType: 'f32' }, { returnLse: true }),
    kiviCase('staged keys: 4-bit, key groups of 128, value groups of 64, head dim 64, GQA 8, n = 1152 (9 groups, no residual), partitions of 384', { bits: 4, group: 8, m: 1, n: 1152, residual: 0, groupSize: 128, valueGroupSize: 64, d: 64, floatDType: 'f32', qDType: 'f32' }, { partitionSize: 384, returnLse: true }),
    kiviCase('staged keys copied word by word: 2-bit, head dim 42 (code blocks of 42 words), key groups of 16, value groups of 14, GQA 2, n = 300 (residual 12)', { bits: 2, group: 2, m: 1, n: 300, residual: 12, groupSize: 16, valueGroupSize: 14, d: 42, floatDType: 'f32', qDType: 'f32' }, { returnLse: true }),
  ];
}

export function wordDecodeCases(): GpuParityCase[] {
  return [
    decodeCase('16-byte rows: f16, head dim 128, GQA 4, n = 1100 (partitions of 512: 2 full + 76; tiles of 128: 8 full + 76), lse', { kvHeads: 2, group: 4, m: 1, n: 1100, d: 128, dtype: 'f16' }, { returnLse: true }),
    decodeCase('16-byte rows: f32, head dim 64, MHA, n = 1', { kvHeads: 3, group: 1, m: 1, n: 1, d: 64, dtype: 'f32' }, { returnLse: true }),
    decodeCase('16-byte rows: f16, head dim 64, GQA 8, n = 777 over partitions of 300', { kvHeads: 1, group: 8, m: 1, n: 777, d: 64, dtype: 'f16' }, { partitionSize: 300, returnLse: true }),
    decodeCase('16-byte rows: f32, head dim 128, GQA 8 × 2 queries (2 row chunks), n = 390', { kvHeads: 2, group: 8, m: 2, n: 390, d: 128, dtype: 'f32' }, { partitionSize: 200, returnLse: true }),
    decodeCase('16-byte rows: bf16, head dim 128, GQA 4, n = 257', { kvHeads: 2, group: 4, m: 1, n: 257, d: 128, dtype: 'bf16' }, { returnLse: true }),
    decodeCase('head dim 20 (not a multiple of 8: element reads), f32, GQA 2, n = 131', { kvHeads: 2, group: 2, m: 1, n: 131, d: 20, dtype: 'f32' }, { partitionSize: 64, returnLse: true }),
    unalignedRowsCase('f16', 64),
    unalignedRowsCase('f32', 128),
    unalignedRowsCase('bf16', 64),
    stridedChannelsCase('f16'),
    pagedCase('16-byte rows: f16 pool, head dim 128, GQA 4, batch 3, pages of 16, ragged lengths up to 1100', { batch: 3, kvHeads: 2, group: 4, m: 1, pageSize: 16, maxLength: 1100, d: 128, dtype: 'f16' }),
    pagedCase('16-byte rows: f32 pool, head dim 64, MHA, batch 2, pages of 7, lengths up to 600', { batch: 2, kvHeads: 2, group: 1, m: 1, pageSize: 7, maxLength: 600, d: 64, dtype: 'f32' }),
    batchedCase('16-byte rows: f16, head dim 128, GQA 8, requests of 1, 700 and 129 tokens', { lengths: [1, 700, 129], kvHeads: 1, group: 8, m: 1, d: 128, dtype: 'f16', partitionSize: 512 }),
    kiviCase('2-bit, head dim 128, GQA 4, n = 1100 (34 groups of 32 + 12 keys; values: 76 residual), f16 scales, partitions of 512', { bits: 2, group: 4, m: 1, n: 1100, residual: 76, groupSize: 32, valueGroupSize: 32, d: 128, floatDType: 'f16', qDType: 'f16' }, { returnLse: true }),
    kiviCase('4-bit, head dim 64, GQA 8, n = 555 (residual 43), value groups of 16, f32', { bits: 4, group: 8, m: 1, n: 555, residual: 43, groupSize: 32, valueGroupSize: 16, d: 64, floatDType: 'f32', qDType: 'f32' }, { partitionSize: 256, returnLse: true }),
    kiviCase('2-bit, head dim 48, value groups of 12 (octets cross groups: channel reads), MHA, n = 200', { bits: 2, group: 1, m: 1, n: 200, residual: 20, groupSize: 24, valueGroupSize: 12, d: 48, floatDType: 'f32', qDType: 'f32' }, { returnLse: true }),
    kiviCase('4-bit, a cache of 1 token (residual), head dim 128, GQA 4', { bits: 4, group: 4, m: 1, n: 1, residual: 1, groupSize: 32, valueGroupSize: 32, d: 128, floatDType: 'f16', qDType: 'f32' }, { returnLse: true }),
    prefixCase('a shared prompt of 1282 tokens (40 chunks of 32: runs of 512 + 512 + 258) then own suffixes, GQA 4, head dim 128, f16 pool', { group: 4, m: 1, d: 128, chunkSize: 32, dtype: 'f16', sharedChunks: 40 }),
    prefixCase('a shared prompt of 1154 tokens (18 chunks of 64), MHA, head dim 64, f32 pool', { group: 1, m: 1, d: 64, chunkSize: 64, dtype: 'f32', sharedChunks: 18 }),
    ...splitRunCases(),
    ...stagedKiviCases(),
  ];
}
