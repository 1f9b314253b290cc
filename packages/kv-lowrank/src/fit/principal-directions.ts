import { InvalidConfigError, type Matrix, eigh, matmulMatrix, matrix, randomizedSvd, svd } from '@kvkit/tensor-core';
import type { GroupBasis } from './projection-set.js';

/** Below this dimension an exact factorization is cheap enough that sketching is never worth it. */
const EXACT_BELOW = 256;

export interface DirectionOptions {
  /** Keep only the leading `maxRank` directions (randomized SVD when much smaller than the dimension). */
  maxRank?: number;
  /** Seed of the randomized sketch. */
  seed?: number;
}

/**
 * Per-token second moment XᵀX / n of samples X [n, dim] (uncentered: the projections stay linear,
 * so a projected query scores a projected key exactly as in the full space).
 */
export function secondMoment(samples: Matrix): Matrix {
  if (samples.rows === 0) throw new InvalidConfigError('secondMoment: no samples');
  const gram = matmulMatrix(samples, samples, { transposeA: true });
  const scale = 1 / samples.rows;
  for (let i = 0; i < gram.data.length; i++) gram.data[i] *= scale;
  return gram;
}

/**
 * The principal directions of a symmetric positive semi-definite matrix (a second moment): its
 * eigenvectors by decreasing eigenvalue. Exact (eigh) for small dimensions or when every direction
 * is wanted; randomized (Halko–Martinsson–Tropp on the PSD matrix, whose singular vectors are its
 * eigenvectors) when `maxRank` is well below a large dimension.
 */
export function principalDirections(moment: Matrix, options: DirectionOptions = {}): GroupBasis {
  const dim = moment.rows;
  const keep = checkMaxRank(options.maxRank, dim);
  let totalEnergy = 0;
  for (let i = 0; i < dim; i++) totalEnergy += moment.data[i * dim + i];
  if (useRandomized(dim, keep)) {
    const { u, s } = randomizedSvd(moment, keep, { seed: options.seed ?? 0, powerIterations: 4 });
    return { basis: u, spectrum: Float64Array.from(s), totalEnergy };
  }
  const { values, vectors } = eigh(moment);
  // Rounding can leave tiny negative eigenvalues of a PSD matrix; they carry no energy.
  const spectrum = Float64Array.from(values.subarray(0, keep), (v) => Math.max(v, 0));
  return { basis: leadingColumns(vectors, keep), spectrum, totalEnergy };
}

/**
 * The left singular vectors of a weight block W [dim, in] (Palu's decomposition W ≈ U_r·(Σ_r V_rᵀ)):
 * the basis is U, the spectrum σ², the total energy ‖W‖²_F.
 */
export function leftSingularDirections(weights: Matrix, options: DirectionOptions = {}): GroupBasis {
  const dim = weights.rows;
  const available = Math.min(dim, weights.cols);
  const keep = Math.min(checkMaxRank(options.maxRank, dim), available);
  let totalEnergy = 0;
  for (const x of weights.data) totalEnergy += x * x;
  const { u, s } = useRandomized(dim, keep) ? randomizedSvd(weights, keep, { seed: options.seed ?? 0, powerIterations: 4 }) : svd(weights);
  return { basis: leadingColumns(u, keep), spectrum: Float64Array.from(s.subarray(0, keep), (x) => x * x), totalEnergy };
}

function checkMaxRank(maxRank: number | undefined, dim: number): number {
  if (maxRank === undefined) return dim;
  if (!Number.isInteger(maxRank) || maxRank < 1 || maxRank > dim) {
    throw new InvalidConfigError(`maxRank must be an integer in [1, ${dim}], got ${maxRank}`);
  }
  return maxRank;
}

function useRandomized(dim: number, keep: number): boolean {
  return dim >= EXACT_BELOW && keep * 4 <= dim;
}

/** The first k columns of a row-major matrix. */
export function leadingColumns(a: Matrix, k: number): Matrix {
  if (k === a.cols) return a;
  const out = matrix(a.rows, k);
  for (let i = 0; i < a.rows; i++) out.data.set(a.data.subarray(i * a.cols, i * a.cols + k), i * k);
  return out;
}
