/**
 * Parity of the GPU kernels (WebGPU, CUDA) with this package's CPU kernels on fresh random inputs:
 * each case builds its inputs on the CPU, runs the op there and on the GPU backend, and reports the
 * worst relative error ‖gpu − cpu‖ / ‖cpu‖ over the outputs it compares (NaN never passes, and a
 * −∞ log-sum-exp must be −∞ on both). Used by the vitest suites (emulator, SwiftShader) and by
 * tooling/gpu/attention-check.ts on a real GPU.
 */
import { attention, type AttentionMask, type Backend, cast, createRng, type DType, getBackend, randomNormal, reshape, type Rng, runKernel, slice, type Tensor, tensor, toBackend, transpose } from '@kvkit/tensor-core';
import { relativeError } from '@kvkit/tensor-core/testing';
import { type AttentionState, attentionStatistics, type AttentionStatisticsOptions, batchedDecodeAttention, decodeAttention, type DecodeAttentionOptions, flashAttention, type FlashAttentionOptions, type KernelResult, type KeyStatistics, type KiviCacheView, type StatisticsOptions, ensureAttentionKernels, kiviDecodeAttention, type KiviDecodeOptions, latentAttention, mergeAttentionStates, pagedAttention, PagedKVPool, PagedSequence, poolKeyScores, PrefixKVTree, prefixSharedAttention } from '../../src/index.js';
import { randomKiviView } from '../helpers/random-kivi.js';
import { gappedPositions } from '../helpers/reference.js';
import { pagedInputs } from './paged-inputs.js';

export interface GpuParityCase {
  name: string;
  /** The kernel it covers (as registered). */
  kernel: string;
  tolerance: number;
  /** Worst relative error of the GPU result against the CPU kernel's. */
  run(gpu: Backend, rng: Rng): Promise<number>;
}

/** Relative error that treats matching infinities (lse of a row that sees no key) as exact. */
function errorOf(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  const a: number[] = [];
  const e: number[] = [];
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] === -Infinity || expected[i] === Infinity) {
      if (actual[i] !== expected[i]) return Infinity;
      continue;
    }
    a.push(actual[i]);
    e.push(expected[i]);
  }
  if (e.length === 0) return 0;
  if (e.every((x) => x === 0)) return a.every((x) => x === 0) ? 0 : Infinity;
  return relativeError(a, e);
}

/** Worst error over output (and lse when both have it). */
export async function compareResults(got: KernelResult, ref: KernelResult): Promise<number> {
  if (got.output.dtype !== ref.output.dtype || got.output.shape.join() !== ref.output.shape.join()) return Infinity;
  let worst = errorOf(await got.output.readFloat32(), await ref.output.readFloat32());
  if (ref.lse) worst = Math.max(worst, got.lse ? errorOf(await got.lse.readFloat32(), await ref.lse.readFloat32()) : Infinity);
  if (ref.statistics) worst = Math.max(worst, got.statistics ? await statisticsError(got.statistics, ref.statistics) : Infinity);
  return Number.isNaN(worst) ? Infinity : worst;
}

/** Worst error over keySum, keyMax, queryCount and the probability rows (present on both or neither). */
async function statisticsError(got: KeyStatistics, ref: KeyStatistics): Promise<number> {
  let worst = 0;
  for (const part of ['keySum', 'keyMax', 'queryCount', 'rowProbabilities'] as const) {
    const [a, b] = [got[part], ref[part]];
    if (!a !== !b) return Infinity;
    if (a && b) worst = Math.max(worst, a.shape.join() === b.shape.join() ? errorOf(await a.readFloat32(), await b.readFloat32()) : Infinity);
  }
  return worst;
}

export const tolerance = (dtype: DType): number => (dtype === 'f32' ? 1e-5 : 1e-2);

interface DenseShape {
  kvHeads: number;
  group: number;
  m: number;
  n: number;
  d: number;
  dv?: number;
  dtype: DType;
  /** Query i at queryStart + 2i (default: the last query at the last key). */
  queryStart?: number;
}

/** Random q/k/v on the CPU plus positions: keys gapped, queries at the end (each a little apart). */
function denseInputs(rng: Rng, s: DenseShape) {
  const cpu = getBackend('cpu');
  const q = randomNormal([s.kvHeads * s.group, s.m, s.d], rng, { dtype: s.dtype, backend: cpu });
  const k = randomNormal([s.kvHeads, s.n, s.d], rng, { dtype: s.dtype, backend: cpu });
  const v = randomNormal([s.kvHeads, s.n, s.dv ?? s.d], rng, { dtype: s.dtype, backend: cpu });
  const kPos = gappedPositions(rng, s.n);
  const last = s.n > 0 ? kPos[s.n - 1] : 0;
  const start = s.queryStart ?? last - 2 * (s.m - 1);
  const qPos = Int32Array.from({ length: s.m }, (_, i) => start + 2 * i);
  return { q, k, v, kPos, qPos };
}

export async function onGpu(gpu: Backend, t: Tensor): Promise<Tensor> {
  return toBackend(t, gpu);
}

export function decodeCase(name: string, shape: DenseShape, options: Omit<DecodeAttentionOptions, 'queryPositions' | 'keyPositions'> & { logWeights?: boolean } = {}): GpuParityCase {
  return {
    name: `decodeAttention: ${name}`,
    kernel: 'decodeAttention',
    tolerance: tolerance(shape.dtype),
    async run(gpu, rng) {
      const { q, k, v, kPos, qPos } = denseInputs(rng, shape);
      const { logWeights, ...rest } = options;
      const cpuOptions: DecodeAttentionOptions = { ...rest, queryPositions: qPos, keyPositions: kPos };
      const lw = logWeights ? randomNormal([shape.kvHeads, shape.n], rng, { backend: getBackend('cpu') }) : undefined;
      const ref = decodeAttention(q, k, v, { ...cpuOptions, keyLogWeights: lw });
      const [gq, gk, gv] = await Promise.all([q, k, v].map((t) => onGpu(gpu, t)));
      const glw = lw && (await onGpu(gpu, lw));
      const gpuOptions: DecodeAttentionOptions = {
        ...rest,
        queryPositions: await onGpu(gpu, tensor(qPos, [shape.m], { dtype: 'i32' })),
        keyPositions: await onGpu(gpu, tensor(kPos, [shape.n], { dtype: 'i32' })),
        keyLogWeights: glw,
      };
      return compareResults(decodeAttention(gq, gk, gv, gpuOptions), ref);
    },
  };
}

/** Views (non-contiguous k/v): the CPU reference runs on the same views of the same data. */
function decodeViewCase(dtype: DType): GpuParityCase {
  return {
    name: `decodeAttention: k/v are strided views (a window of a longer cache), ${dtype}`,
    kernel: 'decodeAttention',
    tolerance: tolerance(dtype),
    async run(gpu, rng) {
      const cpu = getBackend('cpu');
      const [kvHeads, group, m, full, from, n, d] = [2, 3, 2, 90, 13, 61, 64];
      const q = randomNormal([kvHeads * group, m, d], rng, { dtype, backend: cpu });
      const k = randomNormal([kvHeads, full, d], rng, { dtype, backend: cpu });
      const v = randomNormal([kvHeads, full, d], rng, { dtype, backend: cpu });
      const window = (t: Tensor) => slice(t, [0, from, 0], [kvHeads, from + n, d]);
      const options = { partitionSize: 16, returnLse: true };
      const ref = decodeAttention(q, window(k), window(v), options);
      const [gq, gk, gv] = await Promise.all([q, k, v].map((t) => onGpu(gpu, t)));
      return compareResults(decodeAttention(gq, window(gk), window(gv), options), ref);
    },
  };
}

export function decodeAttentionCases(): GpuParityCase[] {
  return [
    decodeCase('MHA, one query, n = 77 over partitions of 32, f32', { kvHeads: 2, group: 1, m: 1, n: 77, d: 64, dtype: 'f32' }, { partitionSize: 32, returnLse: true }),
    decodeCase('GQA 4, one query, n = 1000, head dim 128, f32', { kvHeads: 2, group: 4, m: 1, n: 1000, d: 128, dtype: 'f32' }, { partitionSize: 256 }),
    decodeCase('GQA 8 × 3 queries (24 rows: 3 row chunks), n = 123, f32', { kvHeads: 1, group: 8, m: 3, n: 123, d: 32, dtype: 'f32' }, { partitionSize: 50, returnLse: true }),
    decodeCase('value dim ≠ key dim (96 vs 64), n = 45, single partition', { kvHeads: 2, group: 2, m: 2, n: 45, d: 64, dv: 96, dtype: 'f32' }, {}),
    decodeCase('sliding window 9 + soft-cap 4 + scale 0.2 on gapped positions', { kvHeads: 2, group: 2, m: 4, n: 70, d: 48, dtype: 'f32' }, { window: 9, softcap: 4, scale: 0.2, partitionSize: 16, returnLse: true }),
    decodeCase('non-causal, per-key log weights', { kvHeads: 2, group: 2, m: 3, n: 55, d: 40, dtype: 'f32' }, { causal: false, logWeights: true, partitionSize: 24, returnLse: true }),
    decodeCase('queries before every key (rows see nothing: zeros, lse −∞) mixed with rows that see some', { kvHeads: 1, group: 2, m: 5, n: 9, d: 16, dtype: 'f32', queryStart: -5 }, { partitionSize: 4, returnLse: true }),
    decodeCase('f16, GQA 4, n = 300', { kvHeads: 2, group: 4, m: 1, n: 300, d: 128, dtype: 'f16' }, { partitionSize: 64, returnLse: true }),
    decodeCase('bf16, GQA 2, n = 129', { kvHeads: 2, group: 2, m: 2, n: 129, d: 64, dtype: 'bf16' }, { partitionSize: 64 }),
    decodeViewCase('f32'),
    decodeCase('with per-key statistics (window of 2 queries, 1 probability row) and lse', { kvHeads: 2, group: 2, m: 3, n: 90, d: 32, dtype: 'f32' }, { statistics: { window: 2, rowProbabilities: 1 }, partitionSize: 32, returnLse: true }),
  ];
}

/** The view with every buffer moved to `gpu`. */
async function kiviOnGpu(gpu: Backend, view: KiviCacheView): Promise<KiviCacheView> {
  const names = ['keyCodes', 'keyScale', 'keyMin', 'valueCodes', 'valueScale', 'valueMin', 'residualKeys', 'residualValues', 'positions'] as const;
  const moved = await Promise.all(names.map((name) => onGpu(gpu, view[name])));
  return { ...view, ...Object.fromEntries(names.map((name, i) => [name, moved[i]])) };
}

export function kiviCase(
  name: string,
  shape: { bits: 2 | 4 | 8; group: number; m: number; n: number; residual: number; groupSize: number; valueGroupSize: number; d: number; capacity?: number; floatDType: 'f32' | 'f16'; qDType: DType },
  options: Omit<KiviDecodeOptions, 'queryPositions'> & { queryPositions?: Int32Array } = {},
): GpuParityCase {
  return {
    name: `kiviDecodeAttention: ${name}`,
    kernel: 'kiviDecodeAttention',
    tolerance: tolerance(shape.qDType),
    async run(gpu, rng) {
      const kvHeads = 2;
      const { view } = randomKiviView(rng, {
        bits: shape.bits, groupSize: shape.groupSize, valueGroupSize: shape.valueGroupSize, kvHeads, headDim: shape.d, length: shape.n,
        residual: shape.residual, extraCapacity: shape.capacity, floatDType: shape.floatDType, positions: gappedPositions(rng, shape.n + (shape.capacity ?? 0)),
      });
      const q = randomNormal([kvHeads * shape.group, shape.m, shape.d], rng, { dtype: shape.qDType, backend: getBackend('cpu') });
      const { queryPositions, ...rest } = options;
      const ref = kiviDecodeAttention(q, view, { ...rest, queryPositions });
      const gpuPositions = queryPositions && (await onGpu(gpu, tensor(queryPositions, [queryPositions.length], { dtype: 'i32' })));
      return compareResults(kiviDecodeAttention(await onGpu(gpu, q), await kiviOnGpu(gpu, view), { ...rest, queryPositions: gpuPositions }), ref);
    },
  };
}

export function kiviDecodeAttentionCases(): GpuParityCase[] {
  return [
    kiviCase('2-bit, GQA 4, n = 77 (2 groups of 32 + 13 residual), f32', { bits: 2, group: 4, m: 1, n: 77, residual: 13, groupSize: 32, valueGroupSize: 16, d: 64, floatDType: 'f32', qDType: 'f32' }, { partitionSize: 32, returnLse: true }),
    kiviCase('4-bit, 3 queries, n = 100, group 24, spare capacity, f16 scales', { bits: 4, group: 2, m: 3, n: 100, residual: 37, groupSize: 24, valueGroupSize: 32, d: 128, capacity: 2, floatDType: 'f16', qDType: 'f32' }, { partitionSize: 48, returnLse: true }),
    kiviCase('8-bit, GQA 8, no residual, n = 130 (groups of 16)', { bits: 8, group: 8, m: 1, n: 130, residual: 0, groupSize: 16, valueGroupSize: 16, d: 64, floatDType: 'f32', qDType: 'f32' }, { partitionSize: 64 }),
    kiviCase('2-bit, all tokens residual (n = 20 < one group)', { bits: 2, group: 2, m: 2, n: 20, residual: 20, groupSize: 32, valueGroupSize: 16, d: 32, floatDType: 'f32', qDType: 'f32' }, { returnLse: true }),
    kiviCase('2-bit, window + soft-cap + explicit query position, f16 queries', { bits: 2, group: 4, m: 1, n: 150, residual: 20, groupSize: 32, valueGroupSize: 32, d: 64, floatDType: 'f16', qDType: 'f16' }, { window: 50, softcap: 3, queryPositions: Int32Array.of(260), partitionSize: 64 }),
    kiviCase('with per-key statistics (H2O sums), 2-bit, GQA 4, n = 77, head dim 64', { bits: 2, group: 4, m: 1, n: 77, residual: 13, groupSize: 32, valueGroupSize: 16, d: 64, floatDType: 'f32', qDType: 'f32' }, { statistics: true, partitionSize: 32, returnLse: true }),
    kiviCase('with statistics (window of 2 queries, decay 0.9, 1 probability row), 4-bit, MHA, 3 queries, head dim 128, f16 scales', { bits: 4, group: 1, m: 3, n: 100, residual: 37, groupSize: 24, valueGroupSize: 32, d: 128, floatDType: 'f16', qDType: 'f32' }, { statistics: { window: 2, decay: 0.9, rowProbabilities: 1 }, window: 40 }),
    kiviCase('with statistics, GQA 8, a cache of 1 token (all residual)', { bits: 2, group: 8, m: 1, n: 1, residual: 1, groupSize: 32, valueGroupSize: 16, d: 64, floatDType: 'f32', qDType: 'f32' }, { statistics: true }),
  ];
}

/** Prefill: every query of a prompt (positions = key positions, so causal masking is by position). */
function flashCase(name: string, shape: DenseShape, options: Omit<FlashAttentionOptions, 'queryPositions' | 'keyPositions'> & { logWeights?: boolean } = {}): GpuParityCase {
  return {
    name: `flashAttention: ${name}`,
    kernel: 'flashAttention',
    tolerance: tolerance(shape.dtype),
    async run(gpu, rng) {
      const cpu = getBackend('cpu');
      const { q, k, v, kPos } = denseInputs(rng, shape);
      // Queries are the last m tokens of the prompt, at their own (gapped) positions.
      const qPos = kPos.slice(shape.n - shape.m);
      const { logWeights, ...rest } = options;
      const lw = logWeights ? randomNormal([shape.kvHeads, shape.n], rng, { backend: cpu }) : undefined;
      const ref = flashAttention(q, k, v, { ...rest, queryPositions: qPos, keyPositions: kPos, keyLogWeights: lw });
      const [gq, gk, gv] = await Promise.all([q, k, v].map((t) => onGpu(gpu, t)));
      const got = flashAttention(gq, gk, gv, {
        ...rest,
        queryPositions: await onGpu(gpu, tensor(qPos, [shape.m], { dtype: 'i32' })),
        keyPositions: await onGpu(gpu, tensor(kPos, [shape.n], { dtype: 'i32' })),
        keyLogWeights: lw && (await onGpu(gpu, lw)),
      });
      return compareResults(got, ref);
    },
  };
}

export function flashAttentionCases(): GpuParityCase[] {
  return [
    flashCase('causal prefill of 45 tokens, GQA 4, f32', { kvHeads: 2, group: 4, m: 45, n: 45, d: 64, dtype: 'f32' }, { returnLse: true }),
    flashCase('causal prefill of 700 tokens (2 key partitions), MHA, head dim 32', { kvHeads: 2, group: 1, m: 700, n: 700, d: 32, dtype: 'f32' }, { returnLse: true }),
    flashCase('chunked prefill: last 13 of 90 tokens, sliding window 20 + soft-cap', { kvHeads: 1, group: 2, m: 13, n: 90, d: 48, dtype: 'f32' }, { window: 20, softcap: 6, returnLse: true }),
    flashCase('non-causal with key log weights, GQA 2', { kvHeads: 2, group: 2, m: 17, n: 31, d: 32, dtype: 'f32' }, { causal: false, logWeights: true }),
    flashCase('f16 prefill of 64 tokens, GQA 8', { kvHeads: 1, group: 8, m: 64, n: 64, d: 128, dtype: 'f16' }, { returnLse: true }),
    flashCase('with SnapKV statistics (window 8, decay 0.9), no lse', { kvHeads: 2, group: 2, m: 40, n: 40, d: 32, dtype: 'f32' }, { statistics: { window: 8, decay: 0.9 } }),
  ];
}

/**
 * States of attention over disjoint key ranges (one range sees nothing for some rows: lse −∞),
 * merged; the CPU merge of the same states is the reference.
 */
function mergeCase(name: string, dtype: DType, ranges: number[]): GpuParityCase {
  return {
    name: `mergeAttentionStates: ${name}`,
    kernel: 'mergeAttentionStates',
    tolerance: tolerance(dtype),
    async run(gpu, rng) {
      const shape: DenseShape = { kvHeads: 2, group: 2, m: 3, n: ranges.at(-1)!, d: 32, dtype };
      const { q, k, v, kPos, qPos } = denseInputs(rng, shape);
      const parts: AttentionState[] = [];
      for (let p = 0; p + 1 < ranges.length; p++) {
        const [a, b] = [ranges[p], ranges[p + 1]];
        const cut = (t: Tensor) => slice(t, [0, a, 0], [shape.kvHeads, b, shape.d]);
        const r = decodeAttention(q, cut(k), cut(v), { queryPositions: qPos, keyPositions: kPos.slice(a, b), returnLse: true });
        parts.push({ output: r.output, lse: r.lse! });
      }
      const ref = mergeAttentionStates(parts);
      const moved = await Promise.all(parts.map(async (p) => ({ output: await onGpu(gpu, p.output), lse: await onGpu(gpu, p.lse) })));
      return compareResults(mergeAttentionStates(moved), { output: ref.output, lse: ref.lse });
    },
  };
}

export function mergeAttentionStatesCases(): GpuParityCase[] {
  return [
    mergeCase('three key ranges (47 + 30 + 1 keys), f32', 'f32', [0, 47, 77, 78]),
    mergeCase('two ranges, f16 outputs', 'f16', [0, 20, 61]),
  ];
}

/**
 * The `pagedAttention` kernel itself (what the paged ops dispatch) on a random pool: pages handed
 * out in shuffled order, ragged per-(request, head) lengths, gapped positions per row, a batch of
 * requests with their own query positions. Same inputs and attributes on both backends.
 */
export function pagedCase(
  name: string,
  s: { batch: number; kvHeads: number; group: number; m: number; pageSize: number; maxLength: number; d: number; dtype: DType; window?: number; softcap?: number; statistics?: { window: number; decay: number; rowProbabilities: number } },
): GpuParityCase {
  return {
    name: `pagedAttention: ${name}`,
    kernel: 'pagedAttention',
    tolerance: tolerance(s.dtype),
    async run(gpu, rng) {
      const cpu = getBackend('cpu');
      const { inputs, attrs } = pagedInputs(rng, { ...s, q: s.dtype, kv: s.dtype }, (r) => (r === 0 ? s.maxLength : rng.int(s.maxLength + 1)));
      ensureAttentionKernels(cpu);
      ensureAttentionKernels(gpu);
      const ref = runKernel('pagedAttention', inputs, attrs);
      const moved = await Promise.all(inputs.map((t) => onGpu(gpu, t)));
      return compareResults(runKernel('pagedAttention', moved, attrs), ref);
    },
  };
}

export function pagedAttentionCases(): GpuParityCase[] {
  return [
    pagedCase('batch 3, GQA 4, pages of 16, ragged lengths up to 77, f32', { batch: 3, kvHeads: 2, group: 4, m: 1, pageSize: 16, maxLength: 77, d: 64, dtype: 'f32' }),
    pagedCase('batch 2, 3 queries, pages of 5, window 9 + soft-cap, 600 tokens (2 partitions)', { batch: 2, kvHeads: 1, group: 2, m: 3, pageSize: 5, maxLength: 600, d: 32, dtype: 'f32', window: 9, softcap: 5 }),
    pagedCase('f16 pool, batch 2, GQA 8, pages of 16', { batch: 2, kvHeads: 1, group: 8, m: 1, pageSize: 16, maxLength: 50, d: 128, dtype: 'f16' }),
    pagedCase('with per-key statistics [B, H, L], batch 3, GQA 4, head dim 64, pages of 16, ragged lengths up to 77', { batch: 3, kvHeads: 2, group: 4, m: 1, pageSize: 16, maxLength: 77, d: 64, dtype: 'f32', statistics: { window: 0, decay: 1, rowProbabilities: 0 } }),
    pagedCase('with statistics (window of 2 of 3 queries, decay 0.8, 2 probability rows), MHA, head dim 128, pages of 5, sliding window 9', { batch: 2, kvHeads: 2, group: 1, m: 3, pageSize: 5, maxLength: 41, d: 128, dtype: 'f32', window: 9, statistics: { window: 2, decay: 0.8, rowProbabilities: 2 } }),
    pagedCase('with statistics, GQA 8, f16 pool, head dim 64, a cache of 1 token', { batch: 2, kvHeads: 1, group: 8, m: 1, pageSize: 16, maxLength: 1, d: 64, dtype: 'f16', statistics: { window: 0, decay: 1, rowProbabilities: 1 } }),
  ];
}

/**
 * A paged cache used end to end on the GPU: appends in chunks (pagedWrite; the pool starts with 2
 * pages and grows), head-wise retain (pagedMove compacts in order), more appends into the freed
 * slots, then pagedAttention; the same calls on a CPU pool are the reference. With `valuesAreKeys`
 * the GPU pool keeps one copy (zero-width value pages, the key pages read as values), the CPU
 * reference pool two.
 */
function pagedCacheCase(dtype: 'f32' | 'f16', valuesAreKeys = false): GpuParityCase {
  return {
    name: `pagedWrite + pagedMove + pagedAttention: a ${dtype} paged cache filled, compacted and refilled${valuesAreKeys ? ', its values the keys (one copy)' : ''}`,
    kernel: 'pagedWrite',
    tolerance: tolerance(dtype),
    async run(gpu, rng) {
      const cpu = getBackend('cpu');
      const [kvHeads, group, d, pageSize] = [2, 4, 32, 5];
      const pools = [cpu, gpu].map((backend) => new PagedKVPool({ headDim: d, pageSize, dtype, initialPages: 2, backend, valuesAreKeys: valuesAreKeys && backend === gpu }));
      const seqs = pools.map((pool) => new PagedSequence(pool, kvHeads));
      let position = 0;
      const append = async (n: number) => {
        const k = randomNormal([kvHeads, n, d], rng, { backend: cpu });
        const v = valuesAreKeys ? k : randomNormal([kvHeads, n, d], rng, { backend: cpu });
        const positions = Int32Array.from({ length: n }, () => (position += 1 + rng.int(2)));
        seqs[0].append(k, v, positions);
        const gk = await onGpu(gpu, k);
        seqs[1].append(gk, valuesAreKeys ? gk : await onGpu(gpu, v), positions);
      };
      for (const n of [7, 1, 12, 3]) await append(n);
      const keep = (length: number) => Int32Array.from({ length }, (_, i) => i).filter(() => rng.uniform() < 0.6);
      const keeps = [keep(seqs[0].headLength(0)), keep(seqs[0].headLength(1))];
      for (const seq of seqs) keeps.forEach((kept, h) => seq.retain(h, kept));
      await append(6);
      const q = randomNormal([kvHeads * group, 2, d], rng, { backend: cpu });
      const qPos = Int32Array.of(position - 1, position);
      const ref = pagedAttention(q, seqs[0], { queryPositions: qPos, returnLse: true });
      const got = pagedAttention(await onGpu(gpu, q), seqs[1], { queryPositions: qPos, returnLse: true });
      const error = await compareResults(got, ref);
      for (const seq of seqs) seq.release();
      for (const pool of pools) pool.dispose();
      return error;
    },
  };
}

/** Statistics only (V never read): keySum, keyMax, queryCount and probability rows, f32 on every backend. */
function statisticsCase(name: string, shape: DenseShape, options: Omit<AttentionStatisticsOptions, 'queryPositions' | 'keyPositions'> & { logWeights?: boolean }): GpuParityCase {
  return {
    name: `attentionStatistics: ${name}`,
    kernel: 'attentionStatistics',
    tolerance: 1e-5,
    async run(gpu, rng) {
      const cpu = getBackend('cpu');
      const { q, k, kPos, qPos } = denseInputs(rng, shape);
      const { logWeights, ...rest } = options;
      const lw = logWeights ? randomNormal([shape.kvHeads, shape.n], rng, { backend: cpu }) : undefined;
      const ref = attentionStatistics(q, k, { ...rest, queryPositions: qPos, keyPositions: kPos, keyLogWeights: lw });
      const got = attentionStatistics(await onGpu(gpu, q), await onGpu(gpu, k), {
        ...rest,
        queryPositions: await onGpu(gpu, tensor(qPos, [shape.m], { dtype: 'i32' })),
        keyPositions: await onGpu(gpu, tensor(kPos, [shape.n], { dtype: 'i32' })),
        keyLogWeights: lw && (await onGpu(gpu, lw)),
      });
      const worst = await statisticsError(got, ref);
      return Number.isNaN(worst) ? Infinity : worst;
    },
  };
}

export function attentionStatisticsCases(): GpuParityCase[] {
  return [
    statisticsCase('every query, GQA 4, n = 77', { kvHeads: 2, group: 4, m: 6, n: 77, d: 64, dtype: 'f32' }, {}),
    statisticsCase('SnapKV window of 4 + 2 probability rows, soft-cap, log weights', { kvHeads: 2, group: 2, m: 9, n: 50, d: 32, dtype: 'f32' }, { statistics: { window: 4, rowProbabilities: 2 }, softcap: 5, logWeights: true }),
    statisticsCase('A2SF decay 0.8 with a sliding window, f16 inputs', { kvHeads: 1, group: 2, m: 5, n: 40, d: 64, dtype: 'f16' }, { statistics: { decay: 0.8 }, window: 12 }),
    statisticsCase('explicit weights, queries before every key', { kvHeads: 1, group: 1, m: 4, n: 12, d: 16, dtype: 'f32', queryStart: -3 }, { statistics: { weights: [0.1, 0.2, 0.3, 0.4] } }),
  ];
}

/** Ragged batch decode: requests of different lengths (one empty) packed along the tokens. */
export function batchedCase(
  name: string,
  s: { lengths: number[]; kvHeads: number; group: number; m: number; d: number; dtype: DType; partitionSize: number; logWeights?: boolean; window?: number; statistics?: boolean | StatisticsOptions },
): GpuParityCase {
  return {
    name: `batchedDecodeAttention: ${name}`,
    kernel: 'batchedDecodeAttention',
    tolerance: tolerance(s.dtype),
    async run(gpu, rng) {
      const cpu = getBackend('cpu');
      const total = s.lengths.reduce((a, b) => a + b, 0);
      const q = randomNormal([s.lengths.length, s.kvHeads * s.group, s.m, s.d], rng, { dtype: s.dtype, backend: cpu });
      const k = randomNormal([s.kvHeads, total, s.d], rng, { dtype: s.dtype, backend: cpu });
      const v = randomNormal([s.kvHeads, total, s.d], rng, { dtype: s.dtype, backend: cpu });
      const kPos = new Int32Array(total);
      const qPos = new Int32Array(s.lengths.length * s.m);
      let at = 0;
      s.lengths.forEach((n, b) => {
        kPos.set(gappedPositions(rng, n), at);
        const last = n > 0 ? kPos[at + n - 1] : 0;
        for (let i = 0; i < s.m; i++) qPos[b * s.m + i] = last - (s.m - 1 - i);
        at += n;
      });
      const lw = s.logWeights ? randomNormal([s.kvHeads, total], rng, { backend: cpu }) : undefined;
      const options = { kvLengths: s.lengths, partitionSize: s.partitionSize, returnLse: true, window: s.window, statistics: s.statistics };
      const ref = batchedDecodeAttention(q, k, v, { ...options, queryPositions: qPos, keyPositions: kPos, keyLogWeights: lw });
      const [gq, gk, gv] = await Promise.all([q, k, v].map((t) => onGpu(gpu, t)));
      const got = batchedDecodeAttention(gq, gk, gv, {
        ...options,
        queryPositions: await onGpu(gpu, tensor(qPos, [s.lengths.length, s.m], { dtype: 'i32' })),
        keyPositions: await onGpu(gpu, tensor(kPos, [total], { dtype: 'i32' })),
        keyLogWeights: lw && (await onGpu(gpu, lw)),
      });
      return compareResults(got, ref);
    },
  };
}

export function batchedDecodeAttentionCases(): GpuParityCase[] {
  return [
    batchedCase('4 requests of 37, 0, 120 and 5 tokens, GQA 4, f32', { lengths: [37, 0, 120, 5], kvHeads: 2, group: 4, m: 1, d: 64, dtype: 'f32', partitionSize: 32 }),
    batchedCase('2 requests, 3 queries each, window 20, log weights', { lengths: [70, 45], kvHeads: 1, group: 2, m: 3, d: 32, dtype: 'f32', partitionSize: 16, logWeights: true, window: 20 }),
    batchedCase('f16, 3 requests', { lengths: [64, 33, 1], kvHeads: 2, group: 2, m: 1, d: 128, dtype: 'f16', partitionSize: 64 }),
    batchedCase('with per-key statistics [H, total] in packed order, 5 requests of 37, 0, 1, 120 and 5 tokens, GQA 4, head dim 64', { lengths: [37, 0, 1, 120, 5], kvHeads: 2, group: 4, m: 1, d: 64, dtype: 'f32', partitionSize: 32, statistics: true }),
    batchedCase('with statistics (window 2 of 3 queries, 1 probability row) and log weights, MHA, head dim 128', { lengths: [70, 45], kvHeads: 2, group: 1, m: 3, d: 128, dtype: 'f32', partitionSize: 16, logWeights: true, statistics: { window: 2, rowProbabilities: 1 } }),
    batchedCase('with statistics (decay 0.7), GQA 8, sliding window 30', { lengths: [3, 90], kvHeads: 1, group: 8, m: 2, d: 64, dtype: 'f32', partitionSize: 64, window: 30, statistics: { decay: 0.7 } }),
  ];
}

/** Pooling of score rows along the key axis (windows clipped at both ends, a strided view as input). */
function poolingCase(dtype: DType, mode: 'max' | 'avg', kernelSize: number): GpuParityCase {
  return {
    name: `poolKeyScores: ${mode} over ${kernelSize} keys, ${dtype}, a transposed view`,
    kernel: 'poolKeyScores',
    tolerance: tolerance(dtype),
    async run(gpu, rng) {
      const scores = randomNormal([37, 3], rng, { dtype, backend: getBackend('cpu') });
      const rows = (t: Tensor) => transpose(t); // [3, 37], not contiguous
      const ref = poolKeyScores(rows(scores), { kernelSize, mode });
      const got = poolKeyScores(rows(await onGpu(gpu, scores)), { kernelSize, mode });
      if (got.dtype !== ref.dtype) return Infinity;
      return errorOf(await got.readFloat32(), await ref.readFloat32());
    },
  };
}

/**
 * ChunkAttention's two-phase decode: one prefix tree per backend filled with the same requests
 * (a common prompt of several chunks shared three ways, a branch shared two ways, a request sharing
 * nothing, a one-token request, lengths that fill no chunk exactly) — or, with `suffixes`, that
 * many requests sharing the common prompt, each with its own suffix of 1 … maxLength tokens — then
 * `prefixSharedAttention` over the batch on both. K/V of a token is a function of (token, position), as a model's would be,
 * so identical prefixes are found and shared.
 */
export function prefixCase(
  name: string,
  s: { group: number; m: number; d: number; chunkSize: number; dtype: 'f32' | 'f16'; window?: number; softcap?: number; causal?: boolean; nothingShared?: boolean; statistics?: boolean | StatisticsOptions; sharedChunks?: number; suffixes?: { requests: number; maxLength: number } },
): GpuParityCase {
  return {
    name: `prefixSharedAttention: ${name}`,
    kernel: 'prefixSharedAttention',
    tolerance: tolerance(s.dtype),
    async run(gpu, rng) {
      const cpu = getBackend('cpu');
      const kvHeads = 2;
      const salt = rng.int(1 << 30);
      const kvOf = (tokens: readonly number[], positions: readonly number[]) => {
        const n = tokens.length;
        const [k, v] = [new Float32Array(kvHeads * n * s.d), new Float32Array(kvHeads * n * s.d)];
        tokens.forEach((token, t) => {
          const r = createRng((token * 7919 + positions[t] * 104729 + salt) >>> 0);
          for (let h = 0; h < kvHeads; h++) for (let c = 0; c < s.d; c++) [k[(h * n + t) * s.d + c], v[(h * n + t) * s.d + c]] = [r.normal(), r.normal()];
        });
        return [k, v].map((x) => tensor(x, [kvHeads, n, s.d], { backend: cpu }));
      };
      const tokens = (n: number) => Array.from({ length: n }, () => rng.int(50));
      const C = s.chunkSize;
      const common = tokens((s.sharedChunks ?? 3) * C + 2);
      const branch = tokens(C + 1);
      const suffixes = s.suffixes;
      const prompts = s.nothingShared
        ? [tokens(2 * C + 1), tokens(C - 1), tokens(1)]
        : suffixes
          ? Array.from({ length: suffixes.requests }, () => [...common, ...tokens(1 + rng.int(suffixes.maxLength))])
          : [[...common, ...branch, ...tokens(3)], [...common, ...branch, ...tokens(C + 2)], [...common, ...tokens(1)], tokens(C + 3), tokens(1)];
      const trees = [cpu, gpu].map((backend) => new PrefixKVTree({ kvHeads, headDim: s.d, chunkSize: C, dtype: s.dtype, backend }));
      const sequences = trees.map((tree) => prompts.map(() => tree.openSequence()));
      const held = prompts.map((): number[] => []);
      const lengths = prompts.map(() => 0);
      const append = async (b: number, ids: number[]) => {
        const positions = Int32Array.from(ids, (_, i) => lengths[b] + i);
        const [k, v] = kvOf(ids, Array.from(positions));
        sequences[0][b].append(k, v, positions, Int32Array.from(ids));
        sequences[1][b].append(await onGpu(gpu, k), await onGpu(gpu, v), positions, Int32Array.from(ids));
        lengths[b] += ids.length;
        held[b].push(...ids);
      };
      for (let b = 0; b < prompts.length; b++) await append(b, prompts[b]);
      for (let b = 0; b < prompts.length - 1; b++) await append(b, tokens(1 + rng.int(2))); // decode steps (the one-token request stays at 1)
      const batch = prompts.length;
      const q = randomNormal([batch, kvHeads * s.group, s.m, s.d], rng, { dtype: s.dtype, backend: cpu });
      const qPos = Int32Array.from({ length: batch * s.m }, (_, e) => lengths[Math.floor(e / s.m)] - s.m + (e % s.m));
      const options = { queryPositions: qPos, returnLse: true, window: s.window, softcap: s.softcap, causal: s.causal, statistics: s.statistics };
      const ref = prefixSharedAttention(q, sequences[0], options);
      const got = prefixSharedAttention(await onGpu(gpu, q), sequences[1], options);
      const shared = sequences[0][0].sharedTokens;
      let error = await compareResults(got, ref);
      if (s.statistics === true) {
        // H2O sums also against tensor-core's reference attention on each request's own, unshared K/V.
        const requests = held.map((ids) => {
          const positions = Array.from(ids, (_, i) => i);
          const [k, v] = kvOf(ids, positions);
          return { k, v, positions: Int32Array.from(positions) };
        });
        const mask = { window: s.window, softcap: s.softcap, causal: s.causal };
        error = Math.max(error, await perRequestStatisticsError(got.statistics as KeyStatistics, q, qPos, requests, mask, s.dtype));
      }
      for (const list of sequences) for (const seq of list) seq.release();
      for (const tree of trees) tree.dispose();
      return (shared > 0) !== !!s.nothingShared ? error : Infinity; // the batch must exercise the phases it names
    },
  };
}

/**
 * Worst error of keySum/keyMax [B, qHeads, L] against tensor-core's reference attention with
 * statistics over each request's full key sequence (K/V rounded to the pool's dtype first; zeros
 * expected past a request's length).
 */
async function perRequestStatisticsError(
  got: KeyStatistics,
  q: Tensor,
  qPos: Int32Array,
  requests: { k: Tensor; v: Tensor; positions: Int32Array }[],
  mask: AttentionMask,
  dtype: DType,
): Promise<number> {
  const [batch, qHeads, m, d] = q.shape;
  const L = got.keySum.shape[2];
  const expected = { keySum: new Float32Array(batch * qHeads * L), keyMax: new Float32Array(batch * qHeads * L) };
  requests.forEach(({ k, v, positions }, b) => {
    const qb = reshape(slice(q, [b], [b + 1]), [qHeads, m, d]);
    const i32 = (x: Int32Array) => tensor(x, [x.length], { dtype: 'i32', backend: q.backend });
    const pooled = (t: Tensor) => (t.dtype === dtype ? t : cast(t, dtype));
    const stats = attention(qb, pooled(k), pooled(v), { ...mask, queryPositions: i32(qPos.slice(b * m, (b + 1) * m)), keyPositions: i32(positions), statistics: true }).statistics as KeyStatistics;
    const n = positions.length;
    for (const part of ['keySum', 'keyMax'] as const) {
      const rows = stats[part].readSync();
      for (let h = 0; h < qHeads; h++) expected[part].set(rows.subarray(h * n, (h + 1) * n), (b * qHeads + h) * L);
    }
  });
  let worst = 0;
  for (const part of ['keySum', 'keyMax'] as const) worst = Math.max(worst, errorOf(await got[part].readFloat32(), expected[part]));
  return worst;
}

export function prefixSharedAttentionCases(): GpuParityCase[] {
  return [
    prefixCase('5 requests (3-way and 2-way shared chunks, one sharing nothing, one of 1 token), MHA, head dim 64, chunks of 16, f32', { group: 1, m: 1, d: 64, chunkSize: 16, dtype: 'f32' }),
    prefixCase('GQA 4, 2 queries per request, head dim 128, chunks of 7, window 20 + soft-cap', { group: 4, m: 2, d: 128, chunkSize: 7, dtype: 'f32', window: 20, softcap: 8 }),
    prefixCase('GQA 8 (16 query rows per user: 2 blocks per shared chunk), head dim 64, chunks of 5, f16 pool', { group: 8, m: 2, d: 64, chunkSize: 5, dtype: 'f16' }),
    prefixCase('3 requests sharing nothing (sequence-first phase only), GQA 4, head dim 64, chunks of 8', { group: 4, m: 1, d: 64, chunkSize: 8, dtype: 'f32', nothingShared: true }),
    prefixCase('chunks of 200 (3 shared chunks read as runs of ≤ 512 tokens: 2 + 1), MHA, head dim 64', { group: 1, m: 1, d: 64, chunkSize: 200, dtype: 'f32' }),
    prefixCase('with per-key statistics [B, H, L] (H2O sums; also against the reference on each request\'s own keys), GQA 4, 2 queries, chunks of 8', { group: 4, m: 2, d: 64, chunkSize: 8, dtype: 'f32', statistics: true }),
    prefixCase('with statistics (window 1 of 2 queries, decay 0.9, 1 probability row), not causal, sliding window 30 + soft-cap, MHA, head dim 128, chunks of 7', { group: 1, m: 2, d: 128, chunkSize: 7, dtype: 'f32', causal: false, window: 30, softcap: 6, statistics: { window: 1, decay: 0.9, rowProbabilities: 1 } }),
    prefixCase('with statistics, 3 requests sharing nothing, GQA 8, f16 pool, chunks of 5', { group: 8, m: 1, d: 64, chunkSize: 5, dtype: 'f16', nothingShared: true, statistics: true }),
  ];
}

/**
 * Attention in a low-rank latent space (kv-lowrank): latent queries [H, m, r] over latent keys
 * [Hkv, n, r] and values [Hkv, n, rv] with r ≠ rv and the model's scale; the op picks the split-K
 * kernel for few queries and the flash kernel above, so both are covered.
 */
function latentCase(name: string, s: { kvHeads: number; group: number; m: number; n: number; r: number; rv: number; headDim: number; statistics?: boolean }): GpuParityCase {
  return {
    name: `latentAttention: ${name}`,
    kernel: s.m <= 16 ? 'decodeAttention' : 'flashAttention',
    tolerance: 1e-5,
    async run(gpu, rng) {
      const cpu = getBackend('cpu');
      const qLat = randomNormal([s.kvHeads * s.group, s.m, s.r], rng, { backend: cpu });
      const kLat = randomNormal([s.kvHeads, s.n, s.r], rng, { backend: cpu });
      const vLat = randomNormal([s.kvHeads, s.n, s.rv], rng, { backend: cpu });
      const options = { scale: 1 / Math.sqrt(s.headDim), returnLse: true, statistics: s.statistics };
      const ref = latentAttention(qLat, kLat, vLat, options);
      const [gq, gk, gv] = await Promise.all([qLat, kLat, vLat].map((t) => onGpu(gpu, t)));
      return compareResults(latentAttention(gq, gk, gv, options), ref);
    },
  };
}

export function latentAttentionCases(): GpuParityCase[] {
  return [
    latentCase('decode, GQA 4, rank 64 keys / 128 values, n = 77, with statistics', { kvHeads: 2, group: 4, m: 1, n: 77, r: 64, rv: 128, headDim: 128, statistics: true }),
    latentCase('decode, MHA, rank 128 keys / 48 values, a cache of 1 token', { kvHeads: 2, group: 1, m: 1, n: 1, r: 128, rv: 48, headDim: 128 }),
    latentCase('prefill of 40 queries (flash kernel), GQA 8, rank 64 / 64, n = 45', { kvHeads: 1, group: 8, m: 40, n: 45, r: 64, rv: 64, headDim: 64 }),
  ];
}

/** Every GPU parity case of this package. */
export function gpuParityCases(): GpuParityCase[] {
  return [...decodeAttentionCases(), ...kiviDecodeAttentionCases(), ...flashAttentionCases(), ...mergeAttentionStatesCases(), ...pagedAttentionCases(), pagedCacheCase('f32'), pagedCacheCase('f16'), pagedCacheCase('f16', true), ...attentionStatisticsCases(), ...batchedDecodeAttentionCases(), ...prefixSharedAttentionCases(), ...latentAttentionCases(), poolingCase('f32', 'max', 7), poolingCase('f32', 'avg', 5), poolingCase('f16', 'max', 3)];
}
