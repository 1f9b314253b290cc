import { createRng, InvalidConfigError, type Matrix, type Rng } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { asPoints, type PointsInput, requireInteger, selectRows } from '../points.js';
import { kernelHalve } from './kernel-halving.js';
import { coresetMmd, kernelThinning, type ThinningResult } from './kernel-thinning.js';

/** Halves a set of points: from `indices` (into `points`) returns half of them. */
export type Halve = (points: Matrix, indices: Int32Array, rng: Rng) => Int32Array;
/** Thins a set of points by 2^g: from `indices` returns |indices|/2^g of them. */
export type Thin = (points: Matrix, indices: Int32Array, g: number, rng: Rng) => Int32Array;

/** Kernel halving (one KT-SPLIT round) with `kernel`, keeping a random one of the two halves. */
export function kernelHalving(kernel: Kernel, delta = 0.5): Halve {
  return (points, indices, rng) => kernelHalve(points, indices, kernel, rng, delta)[rng.uniform() < 0.5 ? 0 : 1];
}

/** Kernel thinning (KT-SPLIT + KT-SWAP) by 2^g with `kernel`. */
export function kernelThinner(kernel: Kernel, delta = 0.5): Thin {
  return (points, indices, g, rng) => {
    const sub = selectRows(points, indices);
    const result = kernelThinning(sub, { kernel, rounds: g, delta, seed: rng.nextU32() });
    return Int32Array.from(result.indices, (i) => indices[i]);
  };
}

/**
 * Compress (Shetty, Dwivedi & Mackey 2022, Alg. 1), higher-order like goodpoints': a set of 4^g
 * points or fewer is returned as is; otherwise it is split into four quarters, each compressed
 * recursively, and the union halved. From n = 4^k points it keeps 2^g·√n.
 */
export function compress(points: Matrix, indices: Int32Array, halve: Halve, g: number, rng: Rng): Int32Array {
  if (indices.length <= 4 ** g) return indices;
  const quarter = indices.length / 4;
  const parts: Int32Array[] = [];
  for (let q = 0; q < 4; q++) parts.push(compress(points, indices.subarray(q * quarter, (q + 1) * quarter), halve, g, rng));
  const union = new Int32Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    union.set(p, offset);
    offset += p.length;
  }
  return halve(points, union, rng);
}

export interface CompressPlusPlusOptions {
  /** Oversampling g >= 0: Compress keeps 2^g·√n points before the final thinning (default 4). */
  g?: number;
  /** The halving algorithm (default: kernel halving with `kernel`). */
  halve?: Halve;
  /** The thinning algorithm (default: kernel thinning with `kernel`). */
  thin?: Thin;
  /** The target kernel (for the defaults and the reported MMD). */
  kernel: Kernel;
  seed?: number;
}

/**
 * Compress++ (Shetty, Dwivedi & Mackey 2022, Alg. 2): Compress with `halve` down to 2^g·√n points,
 * then `thin` by 2^g, giving √n points with near-linear total cost (O(n log³ n) kernel evaluations
 * with kernel halving, against O(n²) for kernel thinning itself). n must be a power of 4.
 */
export function compressPlusPlus(points: PointsInput, options: CompressPlusPlusOptions): ThinningResult {
  const x = asPoints(points, 'compressPlusPlus', { minRows: 4, cols: options.kernel.inputDim });
  const n = x.rows;
  const k = Math.round(Math.log(n) / Math.log(4));
  if (4 ** k !== n) throw new InvalidConfigError(`compressPlusPlus: n = ${n} must be a power of 4`, { n });
  const g = requireInteger(options.g ?? Math.min(4, k), 0, k, 'compressPlusPlus', 'g');
  const seed = options.seed ?? 0;
  const rng = createRng(seed);
  const halve = options.halve ?? kernelHalving(options.kernel);
  const thin = options.thin ?? kernelThinner(options.kernel);
  const compressed = compress(x, Int32Array.from({ length: n }, (_, i) => i), halve, g, rng);
  const indices = g === 0 ? compressed : thin(x, compressed, g, rng);
  return { indices, coreset: selectRows(x, indices), mmd: coresetMmd(x, indices, options.kernel), seed };
}
