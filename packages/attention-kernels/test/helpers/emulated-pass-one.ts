// What the tensor-core pass tests share: an emulated CUDA backend that logs the pass-1 kernels it
// launches (so a case can check dispatch took the kernel it targets), gapped key positions, and the
// check of a result against the CPU's together with the kernels that produced it.
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { type DType, getBackend, randomNormal, type Rng, type Tensor, tensor, toBackend } from '@kvkit/tensor-core';
import { type CudaBackend, type CudaModuleDefinition, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { afterEach, beforeAll, beforeEach, expect, vi } from 'vitest';
import type { KernelResult } from '../../src/index.js';
import type { KernelAttrs } from '../../src/ops/attention-types.js';
import { compareResults } from '../gpu/parity-cases.js';

/** The emulated backend with `modules` compiled up front; every pass-1 kernel it launches is pushed onto `launched`. */
async function emulatedCudaLoggingPassOne(modules: readonly CudaModuleDefinition[], launched: string[]): Promise<CudaBackend> {
  const cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  for (const module of modules) cuda.module(module);
  const launch = cuda.launch.bind(cuda);
  cuda.launch = (definition, kernel, config, args) => {
    if (kernel.includes('_partial')) launched.push(kernel);
    launch(definition, kernel, config, args);
  };
  return cuda;
}

/** The emulated backend of a pass test's suite, its pass-1 log (emptied before each case), and `onCuda`. */
export interface PassOneSuite {
  readonly cuda: CudaBackend;
  readonly launched: string[];
  /** A copy of `t` on the emulated backend. */
  onCuda(t: Tensor): Promise<Tensor>;
}

/**
 * Registers a pass test file's hooks: the emulated backend built once with `modules` (logging its
 * pass-1 launches), the log emptied before every case, stubbed environment variables undone after.
 */
export function passOneSuite(modules: readonly CudaModuleDefinition[]): PassOneSuite {
  let cuda: CudaBackend | undefined;
  const launched: string[] = [];
  beforeAll(async () => {
    cuda = await emulatedCudaLoggingPassOne(modules, launched);
  }, 600_000);
  beforeEach(() => {
    launched.length = 0;
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  const backend = (): CudaBackend => {
    if (!cuda) throw new Error('passOneSuite: the emulated backend is built in beforeAll; use it inside a case');
    return cuda;
  };
  return {
    get cuda() {
      return backend();
    },
    launched,
    onCuda: (t) => toBackend(t, backend()),
  };
}

/** Strictly increasing key positions with gaps of 1–3. */
export function gappedPositions(rng: Rng, n: number): Int32Array {
  const out = new Int32Array(n);
  for (let j = 0, p = 0; j < n; j++, p += 1 + rng.int(3)) out[j] = p;
  return out;
}

/** Worst relative error against the CPU within `limit`, and every pass-1 kernel launched named with the prefix `expected`. */
export async function expectPassOne(got: KernelResult, ref: KernelResult, launched: readonly string[], expected: string, limit: number, seed: number): Promise<void> {
  const error = await compareResults(got, ref);
  expect(launched.length).toBeGreaterThan(0);
  for (const kernel of launched) expect(kernel.startsWith(expected), `pass 1 ran ${kernel}, not ${expected}*`).toBe(true);
  if (!(error <= limit)) throw new Error(`relative error ${error} > ${limit} [seed ${seed}]`);
}

/** An i32 tensor on the CPU backend (positions, block tables, lengths). */
export function ints(values: Int32Array, shape: number[]): Tensor {
  return tensor(values, shape, { dtype: 'i32', backend: getBackend('cpu') });
}

/** A paged parity case's shape: batch × 2 KV heads, `group` query heads each, m queries, head dim d. */
export interface PagedShape {
  batch: number;
  group: number;
  m: number;
  d: number;
  kv: DType;
  q: DType;
  pageSize: number;
  maxLength: number;
}

/**
 * pagedAttention's inputs on the CPU and its attributes for a cache of batch × 2 KV rows: row r holds
 * `lengthOf(r)` keys with gapped positions in shuffled pages (three spare pages in the pool), and
 * each request's queries end at its first head's last key.
 */
export function pagedCase(rng: Rng, s: PagedShape, lengthOf: (row: number) => number, window = 0, softcap = 0): { inputs: Tensor[]; attrs: KernelAttrs & { maxLength: number; queryBlock: number } } {
  const cpu = getBackend('cpu');
  const kvHeads = 2;
  const rows = s.batch * kvHeads;
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
  for (let b = 0; b < s.batch; b++) for (let i = 0; i < s.m; i++) qPos[b * s.m + i] = last[b * kvHeads] - (s.m - 1 - i);
  const inputs = [
    randomNormal([s.batch, kvHeads * s.group, s.m, s.d], rng, { dtype: s.q, backend: cpu }),
    randomNormal([pages, s.pageSize, s.d], rng, { dtype: s.kv, backend: cpu }),
    randomNormal([pages, s.pageSize, s.d], rng, { dtype: s.kv, backend: cpu }),
    ints(positions, [pages, s.pageSize]),
    ints(table, [s.batch, kvHeads, maxPages]),
    ints(lengths, [s.batch, kvHeads]),
    ints(qPos, [s.batch, s.m]),
  ];
  const attrs = {
    scale: 1 / Math.sqrt(s.d), causal: true, window, softcap, lse: true, tileSize: 64,
    statistics: { enabled: false, window: 0, decay: 1, rowProbabilities: 0, weights: undefined }, maxLength: s.maxLength, queryBlock: 32,
  };
  return { inputs, attrs };
}
