import type { Matrix } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { KernelMatrix } from '../operator/kernel-matrix.js';
import { radialCrossRows, usesHostGramRoute } from '../operator/radial-cross.js';

// The pieces of the Nyström-restricted ridge problem ‖K_nm β − y‖² + α βᵀ(K_mm + jI)β that its
// solvers share: FALKON's preconditioned CG (falkon.ts) and the direct solve (nystroem-direct.ts).

/** Jitter j relative to the kernel's scale (mean of K_mm's diagonal), as in FALKON's implementation. */
const RELATIVE_JITTER = 1e-6;

/** K_mm of the centres on the host in float64, and the jitter j of the regularizer α(K_mm + jI). */
export function centerGram(kernel: Kernel, centers: Matrix, tileSize: number | undefined): { kmm: Matrix; jitter: number } {
  const m = centers.rows;
  const kmm = new KernelMatrix(kernel, centers, undefined, { tileSize }).toMatrix();
  let scale = 0;
  for (let i = 0; i < m; i++) scale += kmm.data[i * (m + 1)] / m;
  return { kmm, jitter: RELATIVE_JITTER * scale };
}

/**
 * Writes rows r0..r1 of K_nm (row-major, m = centers.rows wide) into `out` on the host: by the
 * Gram route for radial kernels (WebAssembly SIMD where available), else the kernel's own loop.
 */
export function knmRows(kernel: Kernel, x: Matrix, centers: Matrix, engine: unknown): (r0: number, r1: number, out: Float64Array) => void {
  if (usesHostGramRoute(kernel, engine)) return radialCrossRows(kernel, x, centers);
  return (r0, r1, out) => kernel.evaluate(x, centers, out, r0, r1, 0, centers.rows);
}
