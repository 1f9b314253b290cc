import { createRng, InvalidConfigError, type Matrix, type Rng, ShapeMismatchError } from '@kvkit/tensor-core';
import { isRadialKernel, type Kernel } from '../kernels/kernel.js';
import { asPoints, type PointsInput, requireFinite, requireInteger } from '../points.js';
import { monteCarloPValue, type NullSimulationOptions, resolveNullOptions, type TestResult } from './test-result.js';

/** ∇ log p at each row of x (n × d), for the target density p known up to its normalizing constant. */
export type ScoreFunction = (x: Matrix) => Matrix;

export interface KsdTestOptions extends NullSimulationOptions {
  /** A radial kernel with a twice-differentiable profile: rbf, imq (the usual choice), matern ν = 5/2. */
  kernel: Kernel;
  score: ScoreFunction;
}

/**
 * The Stein kernel matrix u_p(xᵢ, xⱼ) of a radial kernel k = f(‖x − y‖²) (Liu, Lee & Jordan 2016;
 * Chwialkowski, Strathmann & Gretton 2016): with δ = x − y, r² = ‖δ‖², s = ∇log p,
 * u = f·s(x)·s(y) − 2f′·(s(x) − s(y))·δ − 4f″·r² − 2d·f′.
 * Its mean over pairs is the squared kernel Stein discrepancy, zero iff the sample follows p.
 */
export function steinKernelMatrix(points: Matrix, scores: Matrix, kernel: Kernel): Float64Array {
  if (!isRadialKernel(kernel) || !kernel.profileDerivatives) {
    throw new InvalidConfigError(`KSD: the kernel must be radial with a twice-differentiable profile (rbf, imq, matern ν = 5/2); got "${kernel.name}"`);
  }
  const derivatives = kernel.profileDerivatives.bind(kernel);
  const { rows: n, cols: d } = points;
  const x = points.data;
  const s = scores.data;
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let r2 = 0;
      let ss = 0;
      let sDelta = 0;
      for (let k = 0; k < d; k++) {
        const delta = x[i * d + k] - x[j * d + k];
        r2 += delta * delta;
        ss += s[i * d + k] * s[j * d + k];
        sDelta += (s[i * d + k] - s[j * d + k]) * delta;
      }
      const [f, f1, f2] = derivatives(r2);
      const value = f * ss - 2 * f1 * sDelta - 4 * f2 * r2 - 2 * d * f1;
      u[i * n + j] = value;
      u[j * n + i] = value;
    }
  }
  return u;
}

function evaluateScores(score: ScoreFunction, x: Matrix, where: string): Matrix {
  const scores = score(x);
  if (!scores || scores.rows !== x.rows || scores.cols !== x.cols || scores.data.length !== x.rows * x.cols) {
    throw new ShapeMismatchError(`${where}: the score function must return an n×d matrix (${x.rows}×${x.cols}), got ${scores?.rows}×${scores?.cols}`);
  }
  requireFinite(scores.data, x.cols, where, 'score of point');
  return scores;
}

/** The U-statistic estimate of KSD²: the mean of u_p(xᵢ, xⱼ) over i ≠ j. */
export function ksdSquared(points: PointsInput, options: { kernel: Kernel; score: ScoreFunction }): number {
  const x = asPoints(points, 'ksdSquared', { minRows: 2 });
  const u = steinKernelMatrix(x, evaluateScores(options.score, x, 'ksdSquared'), options.kernel);
  return offDiagonalMean(u, x.rows);
}

/**
 * The KSD goodness-of-fit test of H₀: the sample follows p, with the statistic n·KSD²_U and a wild
 * (Rademacher) bootstrap null (1/(n−1))·Σ_{i≠j} wᵢwⱼu(xᵢ, xⱼ) (Liu, Lee & Jordan 2016, §4;
 * Chwialkowski et al. 2014), valid for independent samples.
 */
export function ksdTest(points: PointsInput, options: KsdTestOptions): TestResult {
  const x = asPoints(points, 'ksdTest', { minRows: 2 });
  const { alpha, draws, nullSeed } = resolveNullOptions(options, 'ksdTest');
  const n = x.rows;
  const u = steinKernelMatrix(x, evaluateScores(options.score, x, 'ksdTest'), options.kernel);
  const statistic = n * offDiagonalMean(u, n);
  const rng = createRng(nullSeed);
  const nullSamples = new Float64Array(draws);
  const w = new Float64Array(n);
  for (let b = 0; b < draws; b++) {
    for (let i = 0; i < n; i++) w[i] = rng.uniform() < 0.5 ? -1 : 1;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      let row = 0;
      for (let j = i + 1; j < n; j++) row += w[j] * u[i * n + j];
      sum += 2 * w[i] * row;
    }
    nullSamples[b] = sum / (n - 1);
  }
  const pValue = monteCarloPValue(statistic, nullSamples);
  return { statistic, pValue, nullSamples, alpha, rejected: pValue <= alpha, seeds: { null: nullSeed } };
}

function offDiagonalMean(u: Float64Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) sum += 2 * u[i * n + j];
  return sum / (n * (n - 1));
}

export interface PerturbationOptions {
  /** log p up to a constant, for the Metropolis–Hastings acceptance of the jumps. */
  logDensity: (x: Matrix) => Float64Array;
  /** Jump vectors v (k × d): each step proposes x ± v for one v chosen at random (symmetric proposal). */
  jumps: PointsInput;
  /** Metropolis–Hastings steps per point (default 10). */
  steps?: number;
  /** Seed of the perturbation (the statistic's seed; default 0). */
  seed?: number;
}

/**
 * Moves every point by `steps` Metropolis–Hastings steps with proposals x ± v (v one of the given
 * jump vectors): a Markov transition that leaves p invariant, so a sample from p stays one (the
 * perturbation of Liu & Briol, "Using Perturbation to Improve Goodness-of-Fit Tests based on KSD").
 * A sample whose modes carry the wrong weights has a net flow between the modes; with jumps that do
 * not map one mode exactly onto another, that flow lands off-centre, a change of shape that KSD
 * detects although it is nearly blind to the weights themselves.
 */
export function perturbSample(points: PointsInput, options: PerturbationOptions, rng: Rng = createRng(options.seed ?? 0)): Matrix {
  const x = asPoints(points, 'perturbSample');
  const jumps = asPoints(options.jumps, 'perturbSample', { cols: x.cols });
  const steps = requireInteger(options.steps ?? 10, 0, 1e6, 'perturbSample', 'steps');
  const { rows: n, cols: d } = x;
  const current = Float64Array.from(x.data);
  const logP = checkedLogDensity(options.logDensity, { rows: n, cols: d, data: current });
  const proposal = new Float64Array(n * d);
  for (let step = 0; step < steps; step++) {
    for (let i = 0; i < n; i++) {
      const v = rng.int(jumps.rows);
      const sign = rng.uniform() < 0.5 ? -1 : 1;
      for (let k = 0; k < d; k++) proposal[i * d + k] = current[i * d + k] + sign * jumps.data[v * d + k];
    }
    const logQ = checkedLogDensity(options.logDensity, { rows: n, cols: d, data: proposal });
    for (let i = 0; i < n; i++) {
      if (Math.log(rng.uniform()) < logQ[i] - logP[i]) {
        current.set(proposal.subarray(i * d, (i + 1) * d), i * d);
        logP[i] = logQ[i];
      }
    }
  }
  return { rows: n, cols: d, data: current };
}

function checkedLogDensity(logDensity: (x: Matrix) => Float64Array, x: Matrix): Float64Array {
  const values = logDensity(x);
  if (!values || values.length !== x.rows) {
    throw new ShapeMismatchError(`perturbSample: logDensity must return one value per point (${x.rows}), got ${values?.length}`);
  }
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i]) || values[i] === Infinity) throw new InvalidConfigError(`perturbSample: logDensity of point ${i} is ${values[i]}`);
  }
  return Float64Array.from(values);
}

/**
 * The perturbed KSD test: perturb the sample with the p-invariant jump transition, then run the KSD
 * test. The result's seeds hold the perturbation seed as `statistic` and the bootstrap seed as `null`.
 */
export function perturbedKsdTest(points: PointsInput, options: KsdTestOptions & PerturbationOptions): TestResult {
  const seed = options.seed ?? 0;
  const perturbed = perturbSample(points, options, createRng(seed));
  const result = ksdTest(perturbed, options);
  return { ...result, seeds: { statistic: seed, null: result.seeds.null } };
}
