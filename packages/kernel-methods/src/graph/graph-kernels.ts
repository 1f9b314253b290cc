import { eigh, InvalidConfigError, matmulMatrix, type Matrix, ShapeMismatchError } from '@kvkit/tensor-core';
import { requireFinite, requirePositive } from '../points.js';

/**
 * Node kernels of an undirected weighted graph for node clustering (Fouss et al. 2012; Avrachenkov,
 * Chebotarev & Rubanov 2019), all functions of the Laplacian L = D − A or of A, computed from one
 * symmetric eigendecomposition. Wrap the result with `precomputed(K)` to cluster nodes with
 * KernelKMeans (the logarithmic ones are not PSD: `precomputed(K, { checkPsd: false })`).
 */
export type GraphKernelName = 'commuteTime' | 'regularizedLaplacian' | 'heat' | 'communicability';

export interface GraphKernelOptions {
  /** Parameter t > 0 of the regularized Laplacian (I + tL)⁻¹, the heat kernel exp(−tL) and communicability exp(tA) (default 1). */
  t?: number;
  /**
   * Return the elementwise logarithm of the kernel (the "logarithmic" proximities of Chebotarev,
   * which are distance-like and often cluster better); needs a kernel with positive entries, so not
   * for commute time.
   */
  logarithmic?: boolean;
}

/** The kernel matrix of the named graph kernel for adjacency matrix A (n×n, symmetric, weights >= 0). */
export function graphKernel(adjacency: Matrix, name: GraphKernelName, options: GraphKernelOptions = {}): Matrix {
  const n = adjacency.rows;
  if (adjacency.cols !== n) throw new ShapeMismatchError(`graphKernel: the adjacency matrix must be square, got ${n}×${adjacency.cols}`);
  requireFinite(adjacency.data, n, 'graphKernel', 'adjacency row');
  for (let i = 0; i < n * n; i++) {
    if (adjacency.data[i] < 0) throw new InvalidConfigError(`graphKernel: edge weights must be >= 0, found ${adjacency.data[i]}`);
  }
  const t = requirePositive(options.t ?? 1, 'graphKernel', 't');
  const laplacian = (): Matrix => {
    const l = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      let degree = 0;
      for (let j = 0; j < n; j++) {
        const w = 0.5 * (adjacency.data[i * n + j] + adjacency.data[j * n + i]);
        if (i !== j) {
          l[i * n + j] = -w;
          degree += w;
        }
      }
      l[i * n + i] = degree;
    }
    return { rows: n, cols: n, data: l };
  };
  let kernel: Matrix;
  switch (name) {
    case 'commuteTime':
      // The Moore–Penrose pseudo-inverse L⁺: eigenvalues below n·ε·λmax (one per connected component) are dropped.
      kernel = spectralFunction(laplacian(), (v, max) => (v > n * Number.EPSILON * max * 10 ? 1 / v : 0));
      break;
    case 'regularizedLaplacian':
      kernel = spectralFunction(laplacian(), (v) => 1 / (1 + t * Math.max(v, 0)));
      break;
    case 'heat':
      kernel = spectralFunction(laplacian(), (v) => Math.exp(-t * Math.max(v, 0)));
      break;
    case 'communicability': {
      const a = { rows: n, cols: n, data: adjacency.data.map((v, i) => 0.5 * (v + adjacency.data[(i % n) * n + Math.floor(i / n)])) };
      kernel = spectralFunction(a, (v) => Math.exp(t * v));
      break;
    }
    default:
      throw new InvalidConfigError(`graphKernel: unknown kernel "${String(name)}"; use commuteTime, regularizedLaplacian, heat or communicability`);
  }
  if (!options.logarithmic) return kernel;
  if (name === 'commuteTime') throw new InvalidConfigError('graphKernel: the commute-time kernel has negative entries; it has no logarithmic version');
  return {
    rows: n,
    cols: n,
    data: kernel.data.map((v, i) => {
      if (!(v > 0)) {
        throw new InvalidConfigError(`graphKernel: entry (${Math.floor(i / n)}, ${i % n}) is ${v}; the logarithmic version needs a connected graph (positive kernel)`);
      }
      return Math.log(v);
    }),
  };
}

/** V·f(Λ)·Vᵀ for symmetric S = VΛVᵀ; f also receives the largest |eigenvalue|. */
function spectralFunction(s: Matrix, f: (value: number, max: number) => number): Matrix {
  const { values, vectors } = eigh(s);
  const n = s.rows;
  const max = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const scaled = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) scaled[i * n + j] = vectors.data[i * n + j] * f(values[j], max);
  const out = matmulMatrix({ rows: n, cols: n, data: scaled }, vectors, { transposeB: true });
  // Symmetrize away rounding.
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (out.data[i * n + j] + out.data[j * n + i]);
      out.data[i * n + j] = v;
      out.data[j * n + i] = v;
    }
  }
  return out;
}
