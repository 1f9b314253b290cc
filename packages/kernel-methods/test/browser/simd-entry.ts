// Bundled for headless Chromium by simd-browser.test.ts: the stored kernel matrix with the
// WebAssembly SIMD loops and with the JavaScript loops, on the same seeded points.
import { createRng, type Matrix, setSimdThreads, startSimdThreads } from '@kvkit/tensor-core';
import { KernelPCA, rbf, setSimdKernels } from '../../src/index.js';
import { materializeKernel, packedMatvec } from '../../src/operator/stored-kernel.js';

export interface SimdBrowserRun {
  /** Whether the matrix landed in WebAssembly memory (the SIMD loops ran). */
  simd: boolean;
  /** max |K_simd − K_js| and max |K·v (SIMD) − K·v (JS)|. */
  matrixDifference: number;
  productDifference: number;
  /** Relative difference of the top KPCA eigenvalues between the two paths. */
  eigenvalueDifference: number;
}

function run(seed: number): SimdBrowserRun {
  const rng = createRng(seed);
  const n = 301;
  const d = 7;
  const x: Matrix = { rows: n, cols: d, data: Float64Array.from({ length: n * d }, () => rng.normal()) };
  const v = Float64Array.from({ length: n }, () => rng.normal());
  const kernel = rbf({ gamma: 0.1 });
  const fit = () => new KernelPCA({ kernel, nComponents: 5, solver: 'lanczos', seed: 1 }).fit(x).eigenvalues as Float64Array;

  setSimdKernels(true);
  const simd = materializeKernel(kernel, x);
  const simdProduct = packedMatvec(simd, v, new Float64Array(n));
  const simdValues = fit();
  setSimdKernels(false);
  const plain = materializeKernel(kernel, x);
  const plainProduct = packedMatvec(plain, v, new Float64Array(n));
  const plainValues = fit();
  setSimdKernels(true);

  const maxDifference = (a: Float64Array, b: Float64Array) => a.reduce((worst, value, i) => Math.max(worst, Math.abs(value - b[i])), 0);
  return {
    simd: simd.simd !== undefined,
    matrixDifference: maxDifference(simd.data, plain.data),
    productDifference: maxDifference(simdProduct, plainProduct),
    eigenvalueDifference: maxDifference(simdValues, plainValues) / plainValues[0],
  };
}

export interface ThreadedBrowserRun {
  /** What startSimdThreads resolved with, and the threads attached to the stored K's arena. */
  started: number;
  attached: number;
  /** Entries of K differing between two threads and one (the split is by rows: none should). */
  differingEntries: number;
  /** max |K·v (two threads) − K·v (one)|: the partial sums are added in another order. */
  productDifference: number;
}

// The stored K and K·v on the page's main thread with the worker threads started (the page must
// be cross-origin isolated) and with one thread.
async function runThreaded(seed: number): Promise<ThreadedBrowserRun> {
  const rng = createRng(seed);
  const n = 602;
  const x: Matrix = { rows: n, cols: 5, data: Float64Array.from({ length: n * 5 }, () => rng.normal()) };
  const v = Float64Array.from({ length: n }, () => rng.normal());
  const kernel = rbf({ gamma: 0.05 });
  setSimdThreads(2);
  const started = await startSimdThreads();
  const threaded = materializeKernel(kernel, x);
  const attached = threaded.simd?.arena.threadCount ?? 0;
  const threadedProduct = packedMatvec(threaded, v, new Float64Array(n));
  threaded.simd?.arena.release();
  setSimdThreads(1);
  const single = materializeKernel(kernel, x);
  const product = packedMatvec(single, v, new Float64Array(n));
  setSimdThreads();
  return {
    started,
    attached,
    differingEntries: threaded.data.reduce((count, value, i) => count + (Object.is(value, single.data[i]) ? 0 : 1), 0),
    productDifference: threadedProduct.reduce((worst, value, i) => Math.max(worst, Math.abs(value - product[i])), 0),
  };
}

Object.assign(globalThis, { runSimdCheck: run, runThreadedCheck: runThreaded });
