import type { Matrix } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { KernelMatrix } from '../operator/kernel-matrix.js';

// The piece of the Nyström-restricted ridge problem ‖K_nm β − y‖² + α βᵀ(K_mm + jI)β that its
// solvers share: FALKON's preconditioned CG (falkon.ts) and the direct solve (nystroem-direct.ts)
// both regularize with the same jittered K_mm (their K_nm rows come from hostKernelRows).

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
