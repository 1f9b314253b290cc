// Random paged caches for the pagedAttention kernel's parity cases (the GPU parity suites, the GPU
// tooling's bundle and the CUDA emulator's tensor-core pass suites): no test-runner imports here.
import { type DType, getBackend, randomNormal, type Rng, type Tensor, tensor } from '@kvkit/tensor-core';
import type { KernelAttrs } from '../../src/ops/attention-types.js';
import { gappedPositions } from '../helpers/reference.js';

/** A pool of batch × kvHeads rows, `group` query heads per KV head, m queries per request, head dim d. */
export interface PagedShape {
  batch: number;
  kvHeads: number;
  group: number;
  m: number;
  d: number;
  q: DType;
  kv: DType;
  pageSize: number;
  maxLength: number;
  window?: number;
  softcap?: number;
  statistics?: { window: number; decay: number; rowProbabilities: number };
}

/**
 * pagedAttention's inputs on the CPU and its attributes: pages handed out in shuffled order (three
 * nobody uses), row r holding `lengthOf(r)` keys with gapped positions, each request's queries
 * ending at its first head's last key.
 */
export function pagedInputs(rng: Rng, s: PagedShape, lengthOf: (row: number) => number): { inputs: Tensor[]; attrs: KernelAttrs & { maxLength: number; queryBlock: number } } {
  const cpu = getBackend('cpu');
  const ints = (values: Int32Array, shape: number[]) => tensor(values, shape, { dtype: 'i32', backend: cpu });
  const rows = s.batch * s.kvHeads;
  const maxPages = Math.ceil(s.maxLength / s.pageSize);
  const pages = rows * maxPages + 3;
  const order = Array.from({ length: pages }, (_, i) => i).sort(() => rng.uniform() - 0.5);
  const lengths = Int32Array.from({ length: rows }, (_, r) => lengthOf(r));
  const positions = new Int32Array(pages * s.pageSize);
  const table = new Int32Array(rows * maxPages);
  const last = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const keyPositions = gappedPositions(rng, lengths[r]);
    for (let p = 0; p < maxPages; p++) table[r * maxPages + p] = order[r * maxPages + p];
    for (let j = 0; j < lengths[r]; j++) positions[table[r * maxPages + Math.floor(j / s.pageSize)] * s.pageSize + (j % s.pageSize)] = keyPositions[j];
    last[r] = lengths[r] > 0 ? keyPositions[lengths[r] - 1] : 0;
  }
  const qPos = new Int32Array(s.batch * s.m);
  for (let b = 0; b < s.batch; b++) for (let i = 0; i < s.m; i++) qPos[b * s.m + i] = last[b * s.kvHeads] - (s.m - 1 - i);
  const inputs = [
    randomNormal([s.batch, s.kvHeads * s.group, s.m, s.d], rng, { dtype: s.q, backend: cpu }),
    randomNormal([pages, s.pageSize, s.d], rng, { dtype: s.kv, backend: cpu }),
    randomNormal([pages, s.pageSize, s.d], rng, { dtype: s.kv, backend: cpu }),
    ints(positions, [pages, s.pageSize]),
    ints(table, [s.batch, s.kvHeads, maxPages]),
    ints(lengths, [s.batch, s.kvHeads]),
    ints(qPos, [s.batch, s.m]),
  ];
  const attrs = {
    scale: 1 / Math.sqrt(s.d), causal: true, window: s.window ?? 0, softcap: s.softcap ?? 0, lse: true, tileSize: 64,
    statistics: { enabled: s.statistics !== undefined, window: 0, decay: 1, rowProbabilities: 0, ...s.statistics, weights: undefined }, maxLength: s.maxLength, queryBlock: 32,
  };
  return { inputs, attrs };
}
