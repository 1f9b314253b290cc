import { type Matrix, type Rng } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';

/**
 * Kernel halving by the self-balancing Hilbert walk (Dwivedi & Mackey, "Kernel Thinning", Alg. 1a
 * with one round): points are taken in consecutive pairs (x, x′) and one of each pair goes to each
 * half. The walk keeps ψ = Σ ± (k(x, ·) − k(x′, ·)), the difference between the halves' kernel
 * sums, and sends x to the first half with probability ½(1 − ⟨ψ, g⟩/a) for g = k(x, ·) − k(x′, ·),
 * so ψ stays small in the RKHS norm: both halves match the input's kernel mean far better than a
 * random split. Thresholds a follow the paper's adaptive rule with failure probability δ.
 * Works on `indices` into `points` (an even count) and returns the two halves' indices.
 */
export function kernelHalve(points: Matrix, indices: Int32Array, kernel: Kernel, rng: Rng, delta = 0.5): [Int32Array, Int32Array] {
  const count = indices.length - (indices.length % 2);
  const pairs = count / 2;
  const first = new Int32Array(pairs);
  const second = new Int32Array(pairs);
  const value = kernelEvaluator(points, kernel);
  let sigmaSquared = 0;
  for (let p = 0; p < pairs; p++) {
    const a = indices[2 * p];
    const b = indices[2 * p + 1];
    // ⟨ψ, g⟩ = Σ_{previous pairs} ±[k(f, a) − k(f, b) − k(s, a) + k(s, b)] with (f, s) = (first, second).
    let alpha = 0;
    for (let q = 0; q < p; q++) {
      const f = first[q];
      const s = second[q];
      alpha += value(f, a) - value(f, b) - value(s, a) + value(s, b);
    }
    const bSquared = Math.max(value(a, a) + value(b, b) - 2 * value(a, b), 0);
    const deltaI = delta / pairs;
    const threshold = Math.max(Math.sqrt(bSquared * sigmaSquared * 2 * Math.log(2 / deltaI)), bSquared);
    if (threshold > 0) {
      sigmaSquared += bSquared + Math.max(0, (bSquared * sigmaSquared * (bSquared - 2 * threshold)) / (threshold * threshold));
    }
    const probability = threshold > 0 ? Math.min(1, Math.max(0, 0.5 * (1 - alpha / threshold))) : 0.5;
    if (rng.uniform() < probability) {
      first[p] = a;
      second[p] = b;
    } else {
      first[p] = b;
      second[p] = a;
    }
  }
  return [first, second];
}

/** k(xᵢ, xⱼ) for single rows, with a reusable buffer. */
export function kernelEvaluator(points: Matrix, kernel: Kernel): (i: number, j: number) => number {
  const out = new Float64Array(1);
  const row = (i: number): Matrix => ({ rows: 1, cols: points.cols, data: points.data.subarray(i * points.cols, (i + 1) * points.cols) });
  return (i, j) => {
    kernel.evaluate(row(i), row(j), out, 0, 1, 0, 1);
    return out[0];
  };
}
