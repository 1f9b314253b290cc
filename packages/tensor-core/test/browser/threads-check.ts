/**
 * The check both browser entries run (on the page's main thread and in a Web Worker): start the
 * SIMD worker threads, run products past matmulMatrix's threaded threshold on two threads and on
 * one, and report whether the workers took part and whether the values agree bit for bit.
 */
import { matmulMatrix } from '../../src/linalg/index.js';
import { createRng } from '../../src/rng.js';
import { fusedMultiplyAddActive, setSimdThreads, simdThreadCount, startSimdThreads } from '../../src/simd/index.js';
import { threadedScratchAreas } from '../../src/simd/scratch-arena.js';

export interface ThreadsRun {
  crossOriginIsolated: boolean;
  /** Whether the products fused their multiply-adds (Chromium has relaxed SIMD). */
  fused: boolean;
  /** What startSimdThreads resolved with, and the count arenas got afterwards. */
  started: number;
  count: number;
  /** Whether the kept threaded arena's workers ran the products (false: they ran on this thread alone). */
  attached: boolean;
  /** Per product: entries differing between the two-thread and one-thread runs, and the largest value. */
  cases: Array<{ differing: number; largest: number }>;
  /** The products' second run, on two threads and on one (a report, not a benchmark). */
  threadedMs: number;
  singleMs: number;
}

export async function threadsCheck(seed: number): Promise<ThreadsRun> {
  const rng = createRng(seed);
  const random = (rows: number, cols: number) => ({ rows, cols, data: Float64Array.from({ length: rows * cols }, () => rng.normal()) });
  // 260×250×300 and up: past the threaded threshold (2²⁴ multiply-adds).
  const a = random(250, 260);
  const b = random(250, 300);
  const c = random(260, 300);
  const products = [
    () => matmulMatrix(a, a, { transposeA: true }),
    () => matmulMatrix(a, b, { transposeA: true }),
    () => matmulMatrix(c, b, { transposeB: true }),
    () => matmulMatrix(a, b, { transposeA: true, accumulate: { ...c, data: c.data.slice() } }),
  ];
  // Each way runs twice and the second run is timed (the first attaches the workers and compiles).
  const timed = () => {
    products.forEach((product) => product());
    const start = performance.now();
    const values = products.map((product) => product().data);
    return { values, ms: performance.now() - start };
  };
  setSimdThreads(2);
  const started = await startSimdThreads();
  const count = simdThreadCount();
  const { values: threaded, ms: threadedMs } = timed();
  const attached = threadedScratchAreas([1])?.arena.threads?.attached ?? false;
  setSimdThreads(1);
  const { values: single, ms: singleMs } = timed();
  setSimdThreads();
  const cases = threaded.map((values, index) => {
    let differing = 0;
    let largest = 0;
    values.forEach((value, i) => {
      if (!Object.is(value, single[index][i])) differing++;
      largest = Math.max(largest, Math.abs(value));
    });
    return { differing, largest };
  });
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  return { crossOriginIsolated: isolated, fused: fusedMultiplyAddActive(), started, count, attached, cases, threadedMs, singleMs };
}
