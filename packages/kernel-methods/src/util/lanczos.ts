import { createRng, eigh, InvalidConfigError, type Matrix, NotConvergedError, type ProductSteps, type Rng, runSteps, runStepsAsync } from '@kvkit/tensor-core';
import { KrylovBasis } from './krylov-basis.js';

export interface LanczosOptions {
  /** Stop when every wanted Ritz pair has ‖A y − θ y‖ ≤ tolerance·|θ_max| (default 1e-10). */
  tolerance?: number;
  /** Krylov basis size before a thick restart (default min(n, max(2k + 20, 60))). */
  basisSize?: number;
  /** Most thick restarts before NotConvergedError (default 50). */
  maxRestarts?: number;
  /** Seed of the start vector (default 0). */
  seed?: number;
  where?: string;
}

export interface LanczosResult {
  /** The k largest eigenvalues, descending. */
  values: Float64Array;
  /** Their eigenvectors as the columns of an n×k matrix. */
  vectors: Matrix;
  /** Products with A that the solve took. */
  products: number;
  restarts: number;
}

// Ritz values are checked every CHECK_EVERY expansions (the small eigenproblem is cheap, but not free).
const CHECK_EVERY = 4;

/**
 * The k largest eigenpairs of a symmetric n×n matrix given by its product, by thick-restart Lanczos
 * (Wu & Simon 2000) with full reorthogonalization (classical Gram–Schmidt, twice; `KrylovBasis`). The basis grows
 * to `basisSize` vectors; if the wanted Ritz pairs have not converged by then, it restarts from the
 * best Ritz vectors plus the last Lanczos vector, which keeps the Krylov information (ARPACK's
 * implicit restart does the same in exact arithmetic). Each step costs one product and O(n·basis)
 * for the orthogonalization, so on a stored matrix the products dominate.
 */
export function lanczosLargest(apply: (v: Float64Array, out: Float64Array) => void, n: number, k: number, options: LanczosOptions = {}): LanczosResult {
  const product = new Float64Array(n);
  return runSteps(lanczosSteps(n, k, options), (v) => {
    apply(v, product);
    return product;
  });
}

/** `lanczosLargest` with an asynchronous product A·v (a KernelMatrix on a device engine). */
export function lanczosLargestAsync(apply: (v: Float64Array) => Promise<Float64Array>, n: number, k: number, options: LanczosOptions = {}): Promise<LanczosResult> {
  return runStepsAsync(lanczosSteps(n, k, options), apply);
}

/** The Lanczos iteration: yields each basis vector v, expects A·v back (length n). */
function* lanczosSteps(n: number, k: number, options: LanczosOptions): ProductSteps<Float64Array, Float64Array, LanczosResult> {
  const where = options.where ?? 'lanczosLargest';
  if (!Number.isInteger(k) || k < 1 || k > n) throw new InvalidConfigError(`${where}: k must be an integer in [1, ${n}], got ${k}`, { k, n });
  const tolerance = options.tolerance ?? 1e-10;
  if (!(tolerance > 0)) throw new InvalidConfigError(`${where}: tolerance must be > 0, got ${tolerance}`, { tolerance });
  const m = Math.min(n, Math.max(k + 1, options.basisSize ?? Math.max(2 * k + 20, 60)));
  const maxRestarts = options.maxRestarts ?? 50;
  const rng = createRng(options.seed ?? 0);
  const stride = m + 1;
  const t = new Float64Array(stride * stride); // the projected matrix Vᵀ A V, plus the row of the next vector
  const basis = KrylovBasis.create(n, m + 1);
  const { w } = basis;
  const h = new Float64Array(m + 1);
  try {
    randomUnitVector(basis, 0, rng);
    let size = 0;
    let kept = 0;
    let products = 0;
    let restarts = 0;
    let scale = 0;
    for (;;) {
      const j = size;
      w.set(yield basis.vector(j));
      products++;
      h.fill(0, 0, j + 1);
      basis.orthogonalize(j + 1, h);
      for (let i = 0; i <= j; i++) {
        t[i * stride + j] = h[i];
        t[j * stride + i] = h[i];
      }
      scale = Math.max(scale, Math.abs(h[j]));
      let beta = norm(w);
      size = j + 1;
      if (size < n) {
        if (beta <= 1e-14 * scale) {
          // An invariant subspace: continue from a fresh direction, with no coupling to the old one.
          randomUnitVector(basis, size, rng);
          beta = 0;
        } else {
          const next = basis.vector(size);
          for (let i = 0; i < n; i++) next[i] = w[i] / beta;
        }
      } else beta = 0; // the basis spans Rⁿ: the projection is exact
      t[size * stride + j] = beta;
      t[j * stride + size] = beta;
      if (size < k || (size !== m && (size - kept) % CHECK_EVERY !== 0)) continue;

      const { values, vectors } = eigh(projected(t, stride, size), { order: 'descending' });
      const s = vectors.data; // size×size, eigenvectors as columns
      let converged = true;
      const bound = tolerance * Math.max(Math.abs(values[0]), Number.MIN_VALUE);
      for (let i = 0; i < k; i++) if (!(Math.abs(beta * s[(size - 1) * size + i]) <= bound)) converged = false;
      if (converged) return { values: values.slice(0, k), vectors: basis.ritzVectors(s, size, k), products, restarts };
      if (size < m) continue;
      if (restarts >= maxRestarts) {
        throw new NotConvergedError(`${where}: Lanczos did not reach tolerance ${tolerance} in ${products} products (${restarts} restarts); raise basisSize or loosen tolerance`, {
          products,
          restarts,
        });
      }
      // Thick restart: the best `kept` Ritz vectors, then the last Lanczos vector; the projected
      // matrix becomes diag(θ) bordered by the residual couplings β·s_last.
      kept = Math.min(m - 1, k + Math.ceil((m - k) / 3));
      basis.restart(basis.ritzVectors(s, size, kept), size);
      t.fill(0);
      for (let i = 0; i < kept; i++) {
        t[i * stride + i] = values[i];
        const coupling = beta * s[(size - 1) * size + i];
        t[kept * stride + i] = coupling;
        t[i * stride + kept] = coupling;
      }
      size = kept;
      restarts++;
    }
  } finally {
    basis.dispose();
  }
}

function norm(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** Basis vector `index`: a random unit vector orthogonal to the vectors before it. */
function randomUnitVector(basis: KrylovBasis, index: number, rng: Rng): void {
  const { w, n } = basis;
  for (let i = 0; i < n; i++) w[i] = rng.normal();
  basis.orthogonalize(index, new Float64Array(index));
  const s = norm(w);
  const v = basis.vector(index);
  for (let i = 0; i < n; i++) v[i] = w[i] / s;
}

function projected(t: Float64Array, stride: number, size: number): Matrix {
  const out = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) out[i * size + j] = t[i * stride + j];
  return { rows: size, cols: size, data: out };
}
