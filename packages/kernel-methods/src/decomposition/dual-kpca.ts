import { eigh, InvalidConfigError, type LinearOperator, matmulMatrix, type Matrix, NotConvergedError, qr, type Rng } from '@kvkit/tensor-core';

/**
 * The loss of the dual KPCA problem of Tonin, Lambert, Patrinos & Suykens ("Extending Kernel PCA
 * through Dualization", ICML 2023). KPCA maximizes Σᵢ L(Wᵀφ(xᵢ)); when L is a Moreau envelope its
 * Fenchel conjugate adds a per-sample term ψ*(hᵢ) to the dual objective over the dual scores
 * H (n×s, one row hᵢ per sample):
 * - 'square': L = ½‖e‖², ψ* constant — classical KPCA (the top-s eigenspace of the centered Gram);
 * - 'huber' (robust): L = Huber, the Moreau envelope of κ‖·‖, whose conjugate restricts ‖hᵢ‖ <= κ:
 *   no sample can carry more than a bounded share of a component (outliers are clipped);
 * - 'epsilon-insensitive' (sparse): L = ½·dist(e, B_ε)², whose conjugate adds ε‖hᵢ‖: a group-lasso
 *   term that sets whole rows of H to zero, so only some samples are needed to transform new points.
 */
export type DualKpcaLoss = 'square' | 'huber' | 'epsilon-insensitive';

export interface DualKpcaOptions {
  loss?: DualKpcaLoss;
  /**
   * Huber: the bound on ‖hᵢ‖ as a multiple of the average row norm √(s/n) of an orthonormal H
   * (default 2). ε-insensitive: ε as a multiple of that average (default 0.5).
   */
  threshold?: number;
  /**
   * Extra columns iterated alongside the s wanted (faster convergence); default 5 for the square
   * loss and 0 for the others, whose objective is defined on exactly s columns.
   */
  oversample?: number;
  /** Stop when the subspace moves less than this (sin of the largest principal angle; default 1e-7). */
  tolerance?: number;
  /** Most iterations (default 500). */
  maxIterations?: number;
}

export interface DualKpcaResult {
  /** n×s: orthonormal dual scores, rotated to Ritz vectors. */
  vectors: Matrix;
  /** The s Ritz values (eigenvalues of the centered Gram restricted to the subspace), descending. */
  values: Float64Array;
  iterations: number;
}

/**
 * Solves the dual KPCA problem min over orthonormal H of −½Tr(HᵀGH) + Σᵢ ψ*(hᵢ) by proximal
 * gradient steps: the gradient GH of the smooth part (one lazy kernel product, O(n²(d + s)), never
 * an SVD of G), the proximal map of ψ* row by row (clipping for Huber, group soft-thresholding for
 * ε-insensitive), and a QR retraction back to orthonormal columns. With the square loss and an
 * unbounded step this is subspace iteration. A final Rayleigh–Ritz step (an s×s eigenproblem)
 * orders the components; it mixes columns only, so rows that are zero (sparse) or clipped (robust)
 * stay so.
 */
export function solveDualKpca(g: LinearOperator, components: number, rng: Rng, options: DualKpcaOptions = {}): DualKpcaResult {
  const n = g.rows;
  const loss = options.loss ?? 'square';
  if (loss !== 'square' && loss !== 'huber' && loss !== 'epsilon-insensitive') {
    throw new InvalidConfigError(`dual KPCA: loss must be 'square', 'huber' or 'epsilon-insensitive', got ${String(loss)}`);
  }
  const threshold = options.threshold ?? (loss === 'huber' ? 2 : 0.5);
  if (!(threshold > 0)) throw new InvalidConfigError(`dual KPCA: threshold must be > 0, got ${threshold}`);
  const width = Math.min(n, components + (options.oversample ?? (loss === 'square' ? 5 : 0)));
  const tolerance = options.tolerance ?? 1e-7;
  const maxIterations = options.maxIterations ?? 500;

  const start = new Float64Array(n * width);
  for (let i = 0; i < start.length; i++) start[i] = rng.normal();
  let h = qr({ rows: n, cols: width, data: start }).q;
  let iterations = 0;
  for (;;) {
    const gradient = g.multiply(h);
    applyProximal(gradient, loss, threshold, width);
    const next = qr(gradient).q;
    iterations++;
    const moved = subspaceDistance(h, next, components);
    h = next;
    if (moved <= tolerance) break;
    if (iterations >= maxIterations) {
      if (loss === 'square') {
        throw new NotConvergedError(`dual KPCA: the subspace still moved ${moved} after ${maxIterations} iterations (tolerance ${tolerance})`, {
          iterations,
          moved,
        });
      }
      break; // the proximal variants may cycle within rounding of a fixed point; keep the last iterate
    }
  }
  // Rayleigh–Ritz: eigenvectors of Hᵀ G H order and rotate the columns.
  const gh = g.multiply(h);
  const small = matmulMatrix(h, gh, { transposeA: true });
  const ritz = eigh(symmetrize(small), { order: 'descending' });
  const rotated = matmulMatrix(h, ritz.vectors);
  const vectors = new Float64Array(n * components);
  for (let i = 0; i < n; i++) vectors.set(rotated.data.subarray(i * width, i * width + components), i * components);
  return { vectors: { rows: n, cols: components, data: vectors }, values: ritz.values.slice(0, components), iterations };
}

/** The proximal map of ψ* applied to each row, thresholds relative to the rows' mean norm. */
function applyProximal(p: Matrix, loss: DualKpcaLoss, threshold: number, width: number): void {
  if (loss === 'square') return;
  const n = p.rows;
  const norms = new Float64Array(n);
  let mean = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < width; j++) s += p.data[i * width + j] ** 2;
    norms[i] = Math.sqrt(s);
    mean += norms[i] / n;
  }
  const level = threshold * mean;
  for (let i = 0; i < n; i++) {
    const norm = norms[i];
    const factor = loss === 'huber' ? (norm > level ? level / norm : 1) : norm > level ? 1 - level / norm : 0;
    if (factor !== 1) for (let j = 0; j < width; j++) p.data[i * width + j] *= factor;
  }
}

/** sin of the largest principal angle between the leading `count` columns of two orthonormal bases. */
function subspaceDistance(a: Matrix, b: Matrix, count: number): number {
  // ‖(I − B Bᵀ) a_j‖ over the leading columns of a, with the full basis b.
  const proj = matmulMatrix(b, a, { transposeA: true });
  let worst = 0;
  for (let j = 0; j < count; j++) {
    let inside = 0;
    for (let i = 0; i < proj.rows; i++) inside += proj.data[i * proj.cols + j] ** 2;
    worst = Math.max(worst, Math.sqrt(Math.max(0, 1 - inside)));
  }
  return worst;
}

function symmetrize(m: Matrix): Matrix {
  const n = m.rows;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = 0.5 * (m.data[i * n + j] + m.data[j * n + i]);
  return { rows: n, cols: n, data: out };
}
