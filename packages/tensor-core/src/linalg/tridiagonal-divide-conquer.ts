import { NotConvergedError } from '../errors.js';
import { ColumnRotationBatch, matmulMatrix } from './matrix-ops.js';
import { tridiagonalQl } from './tridiagonal-ql.js';

// Cuppen's divide and conquer for the symmetric tridiagonal eigenproblem (Golub & Van Loan §8.4.4),
// with Gu & Eisenstat's recomputed z for orthogonal eigenvectors (SIAM J. Matrix Anal. Appl. 16,
// 1995), the scheme of LAPACK's dstedc. QL spends ≈ 6n³ flops rotating the eigenvectors, one
// rotation at a time; here each merge's vectors are one product of the halves' vectors with the
// secular eigenvectors, which runs at matrix-product speed, and deflation (common in kernel
// matrices, whose spectra decay fast) removes columns from those products altogether.

const EPSILON = Number.EPSILON;
/** Blocks this small are solved by QL directly (LAPACK's SMLSIZ is 25). */
const LEAF_ORDER = 32;
/** Iterations allowed per secular-equation root; the two-pole model converges in a handful. */
const MAX_ROOT_ITERATIONS = 80;

/**
 * Eigenvalues (written to `diagonal`, ascending) and eigenvectors (returned: n×n row-major, column j
 * belongs to diagonal[j]) of the symmetric tridiagonal matrix with `diagonal` and `offDiagonal`
 * (offDiagonal[k] couples k and k+1; offDiagonal[n−1] is ignored). `offDiagonal` is overwritten.
 */
export function tridiagonalDivideConquer(diagonal: Float64Array, offDiagonal: Float64Array, n: number): Float64Array {
  const vectors = new Float64Array(n * n);
  solveBlock(diagonal, offDiagonal, vectors, n, 0, n);
  return vectors;
}

/** Diagonalizes the block lo..hi−1: its eigenvalues in d[lo..hi) ascending, its vectors in z[lo..hi)², row stride ld. */
function solveBlock(d: Float64Array, e: Float64Array, z: Float64Array, ld: number, lo: number, hi: number): void {
  if (hi - lo <= LEAF_ORDER) {
    solveLeaf(d, e, z, ld, lo, hi);
    return;
  }
  // T = diag(T₁, T₂) + |β| u uᵀ with u = e_{mid−1} + sign(β) e_mid: the halves lose |β| at the seam.
  const mid = lo + ((hi - lo) >> 1);
  const beta = e[mid - 1];
  d[mid - 1] -= Math.abs(beta);
  d[mid] -= Math.abs(beta);
  solveBlock(d, e, z, ld, lo, mid);
  solveBlock(d, e, z, ld, mid, hi);
  mergeBlocks(d, z, ld, lo, mid, hi, beta);
}

/** A small block by QL from the identity, its eigenpairs sorted ascending into d and z. */
function solveLeaf(d: Float64Array, e: Float64Array, z: Float64Array, ld: number, lo: number, hi: number): void {
  const size = hi - lo;
  const values = d.slice(lo, hi);
  const couplings = e.slice(lo, hi);
  couplings[size - 1] = 0;
  const vectors = new Float64Array(size * size);
  for (let i = 0; i < size; i++) vectors[i * size + i] = 1;
  const batch = new ColumnRotationBatch(vectors, size, size);
  tridiagonalQl(values, couplings, batch, size);
  batch.finish();
  const order = ascendingOrder(values, size);
  for (let j = 0; j < size; j++) {
    const source = order[j];
    d[lo + j] = values[source];
    for (let i = 0; i < size; i++) z[(lo + i) * ld + lo + j] = vectors[i * size + source];
  }
}

/**
 * Merges the solved halves lo..mid−1 and mid..hi−1 coupled by β: the eigenpairs of
 * D + ρ w wᵀ (D the halves' eigenvalues, w the halves' vectors' rows at the seam), after deflating
 * the components where that rank-one term is negligible, times the halves' vectors.
 */
function mergeBlocks(d: Float64Array, z: Float64Array, ld: number, lo: number, mid: number, hi: number, beta: number): void {
  const n = hi - lo;
  const top = mid - lo;
  const poles = d.slice(lo, hi);
  // w = diag(Q₁, Q₂)ᵀ u: Q₁'s last row and sign(β)·Q₂'s first row, scaled to unit length (ρ takes the scale).
  const w = new Float64Array(n);
  const sign = beta < 0 ? -1 : 1;
  for (let i = 0; i < top; i++) w[i] = z[(mid - 1) * ld + lo + i];
  for (let i = top; i < n; i++) w[i] = sign * z[mid * ld + lo + i];
  let squares = 0;
  for (let i = 0; i < n; i++) squares += w[i] * w[i];
  const length = Math.sqrt(squares);
  for (let i = 0; i < n; i++) w[i] /= length;
  const rho = Math.abs(beta) * squares;

  // Which halves each column has entries in (1: top, 2: bottom; a deflating rotation mixes them).
  const support = new Uint8Array(n);
  support.fill(1, 0, top);
  support.fill(2, top, n);
  const kept = deflate(poles, w, rho, z, ld, lo, n, support);
  const k = kept.length;
  const values = poles.slice(); // deflated columns keep their (possibly rotated) pole as eigenvalue
  // The kept columns' new vectors Q·U, as two products: the top rows from the columns with entries
  // there, the bottom rows likewise (one half's columns are zero in the other half's rows).
  const products: Float64Array[] = [];
  if (k > 0) {
    const keptPoles = Float64Array.from(kept, (p) => poles[p]);
    const keptW = Float64Array.from(kept, (p) => w[p]);
    const roots = secularRoots(keptPoles, keptW, rho);
    const u = secularVectors(keptPoles, keptW, rho, roots);
    for (let j = 0; j < k; j++) values[kept[j]] = keptPoles[roots.origin[j]] + roots.offset[j];
    for (const [part, first, rows] of [[1, 0, top], [2, top, n - top]] as const) {
      const columns = Int32Array.from(kept.keys()).filter((i) => support[kept[i]] & part);
      const width = columns.length;
      const zColumns = Int32Array.from(columns, (c) => lo + kept[c]);
      const q = new Float64Array(rows * width);
      for (let r = 0; r < rows; r++) {
        const row = (lo + first + r) * ld;
        const out = r * width;
        for (let c = 0; c < width; c++) q[out + c] = z[row + zColumns[c]];
      }
      const uRows = new Float64Array(width * k);
      for (let c = 0; c < width; c++) uRows.set(u.subarray(columns[c] * k, (columns[c] + 1) * k), c * k);
      products.push(width === 0 ? new Float64Array(rows * k) : matmulMatrix({ rows, cols: width, data: q }, { rows: width, cols: k, data: uRows }).data);
    }
  }
  // Every eigenpair back into d and z, ascending, a row at a time: column j of the block is root
  // rootOfColumn[j] of the products, or (where that is −1) the deflated column sourceOf[j] as it was.
  const order = ascendingOrder(values, n);
  const sourceOf = Int32Array.from(order);
  const rootOf = new Int32Array(n).fill(-1);
  kept.forEach((p, j) => (rootOf[p] = j));
  const rootOfColumn = Int32Array.from(sourceOf, (source) => rootOf[source]);
  for (let j = 0; j < n; j++) d[lo + j] = values[sourceOf[j]];
  const previous = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const row = (lo + r) * ld + lo;
    previous.set(z.subarray(row, row + n));
    const product = products[r < top ? 0 : 1];
    const productRow = (r < top ? r : r - top) * k;
    for (let j = 0; j < n; j++) {
      const root = rootOfColumn[j];
      z[row + j] = root < 0 ? previous[sourceOf[j]] : product[productRow + root];
    }
  }
}

/**
 * Deflation (LAPACK's dlaed2): a component with ρ|w_p| below the tolerance is an eigenpair as it
 * is; two poles close enough that a rotation of their columns zeroes one w entry at a cost below
 * the tolerance are rotated so (the rotated-out one is an eigenpair). Returns the remaining poles'
 * indices, ascending by pole; rotations update z's columns, the poles and `support`.
 */
function deflate(poles: Float64Array, w: Float64Array, rho: number, z: Float64Array, ld: number, lo: number, n: number, support: Uint8Array): number[] {
  let largest = rho;
  for (let i = 0; i < n; i++) largest = Math.max(largest, Math.abs(poles[i]));
  const tolerance = 8 * EPSILON * largest;
  const kept: number[] = [];
  let previous = -1;
  for (const p of ascendingOrder(poles, n)) {
    if (rho * Math.abs(w[p]) <= tolerance) continue;
    if (previous < 0) {
      previous = p;
      continue;
    }
    const tau = Math.hypot(w[previous], w[p]);
    const c = w[previous] / tau;
    const s = w[p] / tau;
    if (Math.abs((poles[p] - poles[previous]) * c * s) > tolerance) {
      kept.push(previous);
      previous = p;
      continue;
    }
    // Rotate (previous, p): previous ← s·x − c·y takes w's component 0 (deflated), p ← c·x + s·y takes τ.
    for (let r = 0; r < n; r++) {
      const at = (lo + r) * ld + lo;
      const x = z[at + previous];
      const y = z[at + p];
      z[at + previous] = s * x - c * y;
      z[at + p] = c * x + s * y;
    }
    const dx = poles[previous];
    const dy = poles[p];
    poles[previous] = s * s * dx + c * c * dy;
    poles[p] = c * c * dx + s * s * dy;
    w[previous] = 0;
    w[p] = tau;
    support[previous] |= support[p];
    support[p] = support[previous];
    previous = p;
  }
  if (previous >= 0) kept.push(previous);
  return kept;
}

/** Root j of the secular equation as keptPoles[origin[j]] + offset[j], with the offset found directly. */
interface SecularRoots {
  origin: Int32Array;
  offset: Float64Array;
}

/**
 * The k roots of 1 + ρ Σ w_i²/(δ_i − λ) = 0 (ρ > 0, δ ascending and distinct after deflation): root
 * j lies between δ_j and δ_{j+1} (the last above δ_{k−1}). Each is found relative to its nearer
 * pole, so λ − δ_i is known to full relative accuracy for the eigenvectors (dlaed4's reason too),
 * by Li's "middle way" two-pole rational model, safeguarded by bisection on the bracket, from
 * `twoPoleStart`'s guess (4.0–4.05 iterations per root on order-500 kernel and random matrices,
 * against 4.6–4.8 from the middle of the bracket).
 */
function secularRoots(delta: Float64Array, w: Float64Array, rho: number): SecularRoots {
  const k = delta.length;
  const origin = new Int32Array(k);
  const offset = new Float64Array(k);
  let norm = 0;
  for (let i = 0; i < k; i++) norm += w[i] * w[i];
  // ρw_i², the numerators of every term below (the same product as written out in each term).
  const weights = Float64Array.from(w, (wi) => rho * wi * wi);
  const shifted = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const last = j === k - 1;
    let o = j;
    let low: number;
    let high: number;
    let start: number;
    if (last) {
      low = 0;
      high = rho * norm;
      start = high / 2;
    } else {
      // g is increasing between the poles: its sign halfway says which pole the root is nearer.
      const half = (delta[j + 1] - delta[j]) / 2;
      let g = 1;
      for (let i = 0; i < k; i++) g += weights[i] / (delta[i] - delta[j] - half);
      if (g > 0) {
        low = 0;
        high = half;
      } else {
        o = j + 1;
        low = -(delta[j + 1] - delta[j] - half);
        high = 0;
      }
      // The bracket's other pole, and the midpoint relative to the origin pole.
      const other = o === j ? j + 1 : j;
      start = twoPoleStart(g, weights[o], weights[other], delta[other] - delta[o], o === j ? half : low, low, high);
    }
    for (let i = 0; i < k; i++) shifted[i] = delta[i] - delta[o];
    origin[j] = o;
    offset[j] = secularRoot(shifted, weights, j, last, low, high, start);
  }
  return { origin, offset };
}

/**
 * Where an interior root's iteration starts (dlaed4's initial guess): with g(τ_m) known at the
 * midpoint τ_m (relative to the origin pole), the secular function is modelled as its two nearest
 * poles plus the constant c the other terms give at τ_m, c − A/τ + B/(D − τ) = 0 (A = ρw²_origin,
 * B = ρw²_other, D = δ_other − δ_origin), whose root between the poles is 2AD/(a + √(a² − 4cAD)),
 * a = cD + A + B (the same expression for either origin). Outside the bracket: its middle.
 */
function twoPoleStart(g: number, a: number, b: number, d: number, midpoint: number, low: number, high: number): number {
  const c = g + a / midpoint - b / (d - midpoint);
  const linear = c * d + a + b;
  const product = a * d;
  const tau = (2 * product) / (linear + Math.sqrt(Math.max(linear * linear - 4 * c * product, 0)));
  return tau > low && tau < high ? tau : (low + high) / 2;
}

/**
 * The root μ ∈ (low, high) of g(μ) = 1 + Σ weights_i/(s_i − μ) (weights_i = ρw_i²), where s are
 * the poles shifted so the bracket's pole is 0 and the root lies between poles `left` and left + 1
 * (or above the last).
 */
function secularRoot(s: Float64Array, weights: Float64Array, left: number, last: boolean, low: number, high: number, start: number): number {
  const k = s.length;
  let mu = start;
  for (let iteration = 0; iteration < MAX_ROOT_ITERATIONS; iteration++) {
    // ψ: the poles at or left of the root, φ: those right of it; their values and derivatives
    // (two loops rather than a branch per term: the same sums in the same order).
    let psi = 0;
    let psiSlope = 0;
    let phi = 0;
    let phiSlope = 0;
    for (let i = 0; i <= left; i++) {
      const inverse = 1 / (s[i] - mu);
      const term = weights[i] * inverse;
      psi += term;
      psiSlope += term * inverse;
    }
    for (let i = left + 1; i < k; i++) {
      const inverse = 1 / (s[i] - mu);
      const term = weights[i] * inverse;
      phi += term;
      phiSlope += term * inverse;
    }
    const g = 1 + psi + phi;
    if (Math.abs(g) <= 8 * EPSILON * (Math.abs(psi) + phi + 1)) return mu;
    if (g < 0) low = mu;
    else high = mu;
    // Two-pole model matching ψ and φ in value and slope at μ: C + S₁/(Δ₁ − η) + S₂/(Δ₂ − η) = 0 for the step η.
    const toLeft = s[left] - mu;
    const leftWeight = psiSlope * toLeft * toLeft;
    let step: number;
    if (last) {
      const constant = 1 + psi - leftWeight / toLeft;
      step = toLeft + leftWeight / constant;
    } else {
      const toRight = s[left + 1] - mu;
      const rightWeight = phiSlope * toRight * toRight;
      const constant = 1 + psi - leftWeight / toLeft + phi - rightWeight / toRight;
      const b = constant * (toLeft + toRight) + leftWeight + rightWeight;
      const c = toLeft * toRight * g;
      const root = Math.sqrt(Math.max(b * b - 4 * constant * c, 0));
      step = (2 * c) / (b >= 0 ? b + root : b - root);
    }
    let next = mu + step;
    if (!(next > low && next < high)) next = (low + high) / 2;
    if (next === mu || high - low <= 2 * EPSILON * Math.max(Math.abs(low), Math.abs(high))) return next;
    mu = next;
  }
  throw new NotConvergedError(`eigh: the secular equation's root ${left} did not converge in ${MAX_ROOT_ITERATIONS} iterations`, {
    index: left,
    iterations: MAX_ROOT_ITERATIONS,
  });
}

/**
 * The eigenvectors of D + ρ w wᵀ for the computed roots (k×k row-major, column j for root j), from
 * Gu and Eisenstat's ŵ: the vector for which the computed roots are exact (Löwner's formula),
 * which makes the columns orthogonal to working precision however close the roots are.
 */
function secularVectors(delta: Float64Array, w: Float64Array, rho: number, roots: SecularRoots): Float64Array {
  const k = delta.length;
  const { origin, offset } = roots;
  // λ_j − δ_i, accurately: (δ_origin − δ_i) + offset.
  const rootPole = Float64Array.from(origin, (o) => delta[o]);
  const hat = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    // ŵ_i² = Π_j (λ_j − δ_i) / (ρ Π_{j≠i} (δ_j − δ_i)), paired so each factor is near 1 and positive.
    const pole = delta[i];
    let square = (rootPole[k - 1] - pole + offset[k - 1]) / rho;
    for (let j = 0; j < i; j++) square *= (rootPole[j] - pole + offset[j]) / (delta[j] - pole);
    for (let j = i; j < k - 1; j++) square *= (rootPole[j] - pole + offset[j]) / (delta[j + 1] - pole);
    hat[i] = Math.sign(w[i]) * Math.sqrt(Math.max(square, 0));
  }
  // Row by row (contiguous), each column's sum of squares accumulated in the same order (i ascending).
  const u = new Float64Array(k * k);
  const squares = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    const pole = delta[i];
    const numerator = hat[i];
    const row = i * k;
    for (let j = 0; j < k; j++) {
      const value = numerator / -(rootPole[j] - pole + offset[j]);
      u[row + j] = value;
      squares[j] += value * value;
    }
  }
  for (let j = 0; j < k; j++) squares[j] = 1 / Math.sqrt(squares[j]);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) u[i * k + j] *= squares[j];
  return u;
}

/** Indices 0..n−1 ordered by ascending value (ties by index). */
function ascendingOrder(values: Float64Array, n: number): number[] {
  return Array.from({ length: n }, (_, i) => i).sort((i, j) => values[i] - values[j] || i - j);
}
