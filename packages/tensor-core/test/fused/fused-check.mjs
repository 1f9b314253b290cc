// Run by fused-multiply-add.test.ts in a Node whose engine has relaxed SIMD: the built package's
// dense products with fused multiply-adds on and off, measured against exact dot products (in
// double-double) and against each other. Prints one JSON line of measurements; the test judges them.
import { cholesky, createRng, eigh, fusedMultiplyAddActive, matmulMatrix, positiveDefiniteSolve, setFusedMultiplyAdd, setSimdThreads } from '@kvkit/tensor-core';

const seed = Number(process.argv[2]);
const rng = createRng(seed);
const random = (rows, cols) => ({ rows, cols, data: Float64Array.from({ length: rows * cols }, () => 2 * rng.uniform() - 1) });

/** a·b + (the error of that product) exactly, as two doubles (Dekker's split; no FMA needed). */
function twoProduct(a, b) {
  const p = a * b;
  const split = (x) => {
    const t = 134217729 * x;
    const hi = t - (t - x);
    return [hi, x - hi];
  };
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

/** The dot product to about 2⁻¹⁰⁶ (double-double accumulation), and Σ|aᵢbᵢ| for the rounding bound. */
function exactDot(a, ai, as, b, bi, bs, k) {
  let hi = 0;
  let lo = 0;
  let magnitude = 0;
  for (let p = 0; p < k; p++) {
    const [ph, pl] = twoProduct(a[ai + p * as], b[bi + p * bs]);
    magnitude += Math.abs(ph);
    const s = hi + ph;
    const v = s - hi;
    lo += hi - (s - v) + (ph - v) + pl;
    hi = s;
  }
  return { value: hi + lo, magnitude };
}

/** Worst |C − exact| / (k·2⁻⁵³·Σ|aᵢbᵢ|) over C = A·B (1 is the classical bound γ_k for either rounding). */
function worstBoundRatio(a, b, c) {
  let worst = 0;
  for (let i = 0; i < a.rows; i++)
    for (let j = 0; j < b.cols; j++) {
      const { value, magnitude } = exactDot(a.data, i * a.cols, 1, b.data, j, b.cols, a.cols);
      worst = Math.max(worst, Math.abs(c.data[i * b.cols + j] - value) / (a.cols * 2 ** -53 * magnitude));
    }
  return worst;
}

function differing(x, y) {
  let count = 0;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) count++;
  return count;
}

const product = (a, b, fused, threads) => {
  setFusedMultiplyAdd(fused);
  setSimdThreads(threads);
  return matmulMatrix(a, b);
};

const a = random(300, 400); // 24M multiply-adds: past 2²⁴, the threads split the product
const b = random(400, 200);
const fusedOne = product(a, b, true, 1);
const fusedTwo = product(a, b, true, 2);
const plain = product(a, b, false, 1);

// A symmetric positive definite matrix and its factorizations with fused products (order 600: panels and threads).
const x = random(600, 640);
setFusedMultiplyAdd(true);
const spd = matmulMatrix(x, x, { transposeB: true });
for (let i = 0; i < 600; i++) spd.data[i * 600 + i] += 1;
const l = cholesky(spd);
const llt = matmulMatrix(l, l, { transposeB: true });
const { values, vectors } = eigh(spd);
const av = matmulMatrix(spd, vectors);
let scale = 0;
for (const v of spd.data) scale = Math.max(scale, Math.abs(v));
let choleskyResidual = 0;
let eighResidual = 0;
for (let i = 0; i < 600; i++)
  for (let j = 0; j < 600; j++) {
    choleskyResidual = Math.max(choleskyResidual, Math.abs(llt.data[i * 600 + j] - spd.data[i * 600 + j]) / scale);
    eighResidual = Math.max(eighResidual, Math.abs(av.data[i * 600 + j] - vectors.data[i * 600 + j] * values[j]) / scale);
  }

// The mixed-precision solve with fused float32 products (order 2100: L in a memory of its own):
// the backward error of its answer, ‖(A + I)x − b‖∞ / (‖A + I‖∞‖x‖∞), by direct loops.
setSimdThreads(2);
const n = 2100;
const y = random(n, 40);
const gram = matmulMatrix(y, y, { transposeB: true });
const rhs = random(n, 1);
const solved = positiveDefiniteSolve(gram, rhs, { jitter: 1 });
let normA = 0;
let normX = 0;
let normR = 0;
for (let i = 0; i < n; i++) {
  let rowSum = 0;
  let r = -rhs.data[i];
  for (let j = 0; j < n; j++) {
    const v = gram.data[i * n + j] + (i === j ? 1 : 0);
    rowSum += Math.abs(v);
    r += v * solved.x.data[j];
  }
  normA = Math.max(normA, rowSum);
  normR = Math.max(normR, Math.abs(r));
  normX = Math.max(normX, Math.abs(solved.x.data[i]));
}

console.log(JSON.stringify({
  active: fusedMultiplyAddActive(),
  fusedBound: worstBoundRatio(a, b, fusedOne),
  plainBound: worstBoundRatio(a, b, plain),
  fusedVersusPlain: differing(fusedOne.data, plain.data),
  threadsVersusOne: differing(fusedTwo.data, fusedOne.data),
  entries: fusedOne.data.length,
  choleskyResidual,
  eighResidual,
  mixedSolvePrecision: solved.precision,
  mixedSolveBackwardError: normR / (normA * normX),
}));
