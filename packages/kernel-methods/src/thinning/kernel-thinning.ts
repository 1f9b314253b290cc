import { createRng, InvalidConfigError, type Matrix } from '@kvkit/tensor-core';
import { powerKernel, sumKernel } from '../kernels/combinations.js';
import type { Kernel } from '../kernels/kernel.js';
import { KernelMatrix } from '../operator/kernel-matrix.js';
import { asPoints, type PointsInput, requireInteger, selectRows } from '../points.js';
import { kernelEvaluator, kernelHalve } from './kernel-halving.js';

/**
 * Which kernel KT-SPLIT halves with (the swap step always uses the target kernel):
 * - 'target': the target kernel itself (target KT, Dwivedi & Mackey 2022);
 * - 'power': its α-power kernel (power KT; α = 1/2 is the square-root kernel of the original KT);
 * - 'plus': the sum of the target and power kernels (KT+), each normalized to k(x, x) = 1;
 * - any Kernel object.
 */
export type SplitKernel = 'target' | 'power' | 'plus' | Kernel;

export interface KernelThinningOptions {
  /** The target kernel (the MMD that the coreset should make small). */
  kernel: Kernel;
  split?: SplitKernel;
  /** Exponent of the power kernel (default 1/2); needs the kernel's dimension rules (see powerKernel). */
  alpha?: number;
  /** Halving rounds m: the coreset has n/2^m points (default: round(log₂(n)/2), i.e. about √n points). */
  rounds?: number;
  /** Failure probability δ of the thresholds (default 1/2). */
  delta?: number;
  /** Run KT-SWAP after the split (default true). */
  swap?: boolean;
  seed?: number;
}

export interface ThinningResult {
  /** Row indices of the coreset in the input. */
  indices: Int32Array;
  coreset: Matrix;
  /** MMD (target kernel) between the coreset and the whole input, both as uniform empirical measures. */
  mmd: number;
  seed: number;
}

/**
 * Kernel thinning (KT-SPLIT + KT-SWAP; Dwivedi & Mackey 2021, generalized in "Generalized Kernel
 * Thinning", 2022): m rounds of kernel halving turn n points into 2^m candidate coresets of n/2^m
 * points each, then KT-SWAP picks the candidate closest to the input in MMD and improves it point by
 * point (each coreset point replaced by the input point that most lowers the MMD). O(n²) kernel
 * evaluations. n must be a multiple of 2^m.
 */
export function kernelThinning(points: PointsInput, options: KernelThinningOptions): ThinningResult {
  const x = asPoints(points, 'kernelThinning', { minRows: 2, cols: options.kernel.inputDim });
  const n = x.rows;
  const rounds = requireInteger(options.rounds ?? Math.max(1, Math.round(Math.log2(n) / 2)), 1, 30, 'kernelThinning', 'rounds');
  if (n % 2 ** rounds !== 0) {
    throw new InvalidConfigError(`kernelThinning: n = ${n} points is not a multiple of 2^${rounds}; drop ${n % 2 ** rounds} points or change rounds`, {
      n,
      rounds,
    });
  }
  const seed = options.seed ?? 0;
  const rng = createRng(seed);
  const splitKernel = resolveSplitKernel(options, x.cols);
  let coresets: Int32Array[] = [Int32Array.from({ length: n }, (_, i) => i)];
  for (let r = 0; r < rounds; r++) coresets = coresets.flatMap((c) => kernelHalve(x, c, splitKernel, rng, options.delta ?? 0.5));
  const indices = options.swap === false ? coresets[0] : ktSwap(x, coresets, options.kernel);
  return { indices, coreset: selectRows(x, indices), mmd: coresetMmd(x, indices, options.kernel), seed };
}

function resolveSplitKernel(options: KernelThinningOptions, dim: number): Kernel {
  const split = options.split ?? 'target';
  if (typeof split !== 'string') return split;
  const alpha = options.alpha ?? 0.5;
  if (split === 'target') return options.kernel;
  if (split === 'power') return powerKernel(options.kernel, alpha, dim);
  if (split === 'plus') return sumKernel([options.kernel, powerKernel(options.kernel, alpha, dim)]);
  throw new InvalidConfigError(`kernelThinning: split must be 'target', 'power', 'plus' or a kernel, got ${String(split)}`);
}

/**
 * KT-SWAP: the candidate with the least MMD to the input, then for each coreset position the
 * input point minimizing the MMD when put there (the incumbent allowed). Keeps c_z = Σ_{s∈S} k(z, s)
 * for every input z, updated in O(n) kernel evaluations per swap.
 */
export function ktSwap(x: Matrix, candidates: Int32Array[], kernel: Kernel): Int32Array {
  const n = x.rows;
  const meanK = new KernelMatrix(kernel, x).rowSums().map((v) => v / n);
  const diagonal = kernel.diagonal(x);
  let best = candidates[0];
  let bestScore = Infinity;
  for (const c of candidates) {
    const score = objective(x, c, kernel, meanK);
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  const coreset = Int32Array.from(best);
  const s = coreset.length;
  const value = kernelEvaluator(x, kernel);
  const sums = new KernelMatrix(kernel, x, selectRows(x, coreset)).rowSums(); // c_z
  for (let p = 0; p < s; p++) {
    const old = coreset[p];
    // Objective change of putting z at p: (2/s²)(c_z − k(z, old) − (c_old − k(old, old))) + (k(z, z) − k(old, old))/s² − (2/s)(meanK_z − meanK_old).
    let bestZ = old;
    let bestChange = 0;
    for (let z = 0; z < n; z++) {
      if (z === old) continue;
      const kzOld = value(z, old);
      const change =
        (2 * (sums[z] - kzOld - (sums[old] - diagonal[old])) + diagonal[z] - diagonal[old]) / (s * s) - (2 * (meanK[z] - meanK[old])) / s;
      if (change < bestChange - 1e-15) {
        bestChange = change;
        bestZ = z;
      }
    }
    if (bestZ !== old) {
      for (let z = 0; z < n; z++) sums[z] += value(z, bestZ) - value(z, old);
      coreset[p] = bestZ;
    }
  }
  return coreset;
}

/** MMD² up to the constant mean of K: (1/s²)Σ_{S×S} k − (2/s)Σ_S meanK. */
function objective(x: Matrix, coreset: Int32Array, kernel: Kernel, meanK: Float64Array): number {
  const s = coreset.length;
  const total = new KernelMatrix(kernel, selectRows(x, coreset)).rowSums().reduce((a, b) => a + b, 0);
  let cross = 0;
  for (const i of coreset) cross += meanK[i];
  return total / (s * s) - (2 * cross) / s;
}

/**
 * MMD between the uniform measures on the coreset (indices may repeat) and on all of x, with the
 * biased (V-statistic) estimator that compression guarantees are stated for.
 */
export function coresetMmd(x: Matrix, indices: ArrayLike<number>, kernel: Kernel): number {
  const n = x.rows;
  const all = new KernelMatrix(kernel, x).rowSums().reduce((a, b) => a + b, 0) / (n * n);
  const core = selectRows(x, indices);
  const s = core.rows;
  const within = new KernelMatrix(kernel, core).rowSums().reduce((a, b) => a + b, 0) / (s * s);
  const cross = new KernelMatrix(kernel, core, x).rowSums().reduce((a, b) => a + b, 0) / (s * n);
  return Math.sqrt(Math.max(all + within - 2 * cross, 0));
}
