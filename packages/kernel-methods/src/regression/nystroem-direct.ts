import { backendOf, cholesky, choleskySolve, type Matrix, matmulMatrix, matrix } from '@kvkit/tensor-core';
import type { Kernel } from '../kernels/kernel.js';
import { centerGram } from './nystroem-system.js';
import { deviceProfileOn } from '../operator/device-modules.js';
import { deviceNormalEquations } from '../operator/device-nystroem-normal.js';
import { isHostEngine } from '../operator/cross-product.js';
import { hostKernelRows } from '../operator/radial-cross.js';
import { type KernelMatrixOptions, tileSizeOf } from '../operator/kernel-matrix.js';

export interface NystroemDirectOptions {
  /** Ridge α of ‖K_nm β − y‖² + α βᵀ(K_mm + jI)β. */
  alpha: number;
  /** K_nm is evaluated max(tileSize²/m, m) rows at a time (default tileSize 256): memory O(m² + m·k). */
  tileSize?: number;
  /** 'host' (default) or a backend: on CUDA or WebGPU `nystroemDirectAsync` forms the normal equations there. */
  engine?: KernelMatrixOptions['engine'];
}

/**
 * The Nyström-restricted ridge problem solved directly: (K_mnK_nm + α(K_mm + jI)) β = K_mn y, with
 * the same jitter j as FALKON. K_nm is evaluated once, a tile of rows at a time on the host, and
 * each tile adds its share to the m × m normal matrix (one symmetric SIMD product per tile,
 * n·m²/2 multiply-adds in all) and to K_mn y; a Cholesky factorization then serves every target
 * column. O(n·m² + m³) time whatever the number of outputs (CG's cost grows with it), O(m²) memory.
 * This is what scikit-learn's Nystroem + Ridge computes, in the centres' coordinates.
 */
export function nystroemDirect(kernel: Kernel, x: Matrix, y: Matrix, centers: Matrix, options: NystroemDirectOptions): Matrix {
  const n = x.rows;
  const m = centers.rows;
  const tileSize = tileSizeOf(options, 'KernelRidge.fit (nystroem)');
  const tileRows = Math.max(1, Math.min(n, Math.max(m, Math.floor((tileSize * tileSize) / m))));
  const evaluateRows = hostKernelRows(kernel, x, centers, options.engine);
  const tile = new Float64Array(tileRows * m);
  const normal = matrix(m, m);
  const rhs = matrix(m, y.cols);
  for (let r0 = 0; r0 < n; r0 += tileRows) {
    const r1 = Math.min(n, r0 + tileRows);
    evaluateRows(r0, r1, tile);
    const rows: Matrix = { rows: r1 - r0, cols: m, data: tile.subarray(0, (r1 - r0) * m) };
    matmulMatrix(rows, rows, { transposeA: true, accumulate: normal });
    matmulMatrix(rows, { rows: r1 - r0, cols: y.cols, data: y.data.subarray(r0 * y.cols, r1 * y.cols) }, { transposeA: true, accumulate: rhs });
  }
  return solveNormalEquations(kernel, centers, normal, rhs, options);
}

/**
 * `nystroemDirect` with K_mnK_nm and K_mnY formed on the `engine` (radial kernels on CUDA, in
 * float64, or WebGPU, f32 kernel values with exact sums: `deviceNormalEquations`, one read-back of
 * (m + t)² sums); elsewhere `nystroemDirect` on the host. The m × m solve is the host's either way.
 */
export async function nystroemDirectAsync(kernel: Kernel, x: Matrix, y: Matrix, centers: Matrix, options: NystroemDirectOptions): Promise<Matrix> {
  const backend = isHostEngine(options.engine) ? undefined : backendOf(options.engine);
  const profile = backend && deviceProfileOn(kernel, backend);
  if (!backend || !profile) return nystroemDirect(kernel, x, y, centers, { ...options, engine: 'host' });
  const { normal, rhs } = await deviceNormalEquations(backend, profile, x, centers, y);
  return solveNormalEquations(kernel, centers, normal, rhs, options);
}

/** (K_mnK_nm + α(K_mm + jI)) β = K_mnY: the regularizer added to `normal` in place, then one Cholesky solve. */
function solveNormalEquations(kernel: Kernel, centers: Matrix, normal: Matrix, rhs: Matrix, options: NystroemDirectOptions): Matrix {
  const m = centers.rows;
  const { kmm, jitter } = centerGram(kernel, centers, options.tileSize);
  for (let i = 0; i < m * m; i++) normal.data[i] += options.alpha * kmm.data[i];
  for (let i = 0; i < m; i++) normal.data[i * (m + 1)] += options.alpha * jitter;
  return choleskySolve(cholesky(normal), rhs);
}
