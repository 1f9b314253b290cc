// Bundled for headless Chromium by simd-browser.test.ts: the stored kernel matrix with the
// WebAssembly SIMD loops and with the JavaScript loops, on the same seeded points.
import { createRng, type Matrix } from '@kvkit/tensor-core';
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

(globalThis as unknown as { runSimdCheck: typeof run }).runSimdCheck = run;
