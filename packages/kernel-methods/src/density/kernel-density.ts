import { createRng, InvalidConfigError, type Matrix } from '@kvkit/tensor-core';
import { asPoints, type PointsInput, requireInteger, requirePositive } from '../points.js';
import { type MatrixJSON, matrixFromJSON, matrixToJSON, requireFitted, requireModelTag } from '../util/serialization.js';

export type BandwidthRule = 'scott' | 'silverman';

export interface KernelDensityOptions {
  /**
   * A number, or scikit-learn's rules 'scott' = n^(−1/(d+4)) and 'silverman' = (n(d+2)/4)^(−1/(d+4)).
   * Like scikit-learn's, the rules assume standardized data (unit variance per feature): scale
   * your data first, or multiply (scikit-learn#26658).
   */
  bandwidth?: number | BandwidthRule;
}

export interface KernelDensityJSON {
  name: 'KernelDensity';
  version: 1;
  bandwidth: number;
  x: MatrixJSON;
}

/**
 * Gaussian kernel density estimation, p̂(x) = (1/n)Σᵢ N(x; xᵢ, h²I), evaluated exactly in log space
 * (log-sum-exp, so far-away queries do not underflow to −∞).
 */
export class KernelDensity {
  private readonly rule: number | BandwidthRule;
  private x?: Matrix;
  /** The bandwidth h in use (after fit). */
  bandwidth?: number;

  constructor(options: KernelDensityOptions = {}) {
    const rule = options.bandwidth ?? 1;
    if (typeof rule === 'number') requirePositive(rule, 'KernelDensity', 'bandwidth');
    else if (rule !== 'scott' && rule !== 'silverman') throw new InvalidConfigError(`KernelDensity: bandwidth must be a number, 'scott' or 'silverman', got ${String(rule)}`);
    this.rule = rule;
  }

  fit(points: PointsInput): this {
    const x = asPoints(points, 'KernelDensity.fit');
    const { rows: n, cols: d } = x;
    this.bandwidth =
      this.rule === 'scott' ? n ** (-1 / (d + 4)) : this.rule === 'silverman' ? ((n * (d + 2)) / 4) ** (-1 / (d + 4)) : this.rule;
    this.x = x;
    return this;
  }

  /** log p̂ at each point (scikit-learn's score_samples). */
  scoreSamples(points: PointsInput): Float64Array {
    const data = requireFitted(this.x, 'KernelDensity.scoreSamples');
    const q = asPoints(points, 'KernelDensity.scoreSamples', { cols: data.cols });
    const h = this.bandwidth as number;
    const { rows: n, cols: d } = data;
    const logNorm = -0.5 * d * Math.log(2 * Math.PI * h * h) - Math.log(n);
    const out = new Float64Array(q.rows);
    const exponents = new Float64Array(n);
    for (let i = 0; i < q.rows; i++) {
      let max = -Infinity;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += (q.data[i * d + k] - data.data[j * d + k]) ** 2;
        exponents[j] = -s / (2 * h * h);
        if (exponents[j] > max) max = exponents[j];
      }
      let sum = 0;
      for (let j = 0; j < n; j++) sum += Math.exp(exponents[j] - max);
      out[i] = logNorm + max + Math.log(sum);
    }
    return out;
  }

  /** The training points (for mode finding). */
  get points(): Matrix {
    return requireFitted(this.x, 'KernelDensity.points');
  }

  toJSON(): KernelDensityJSON {
    return { name: 'KernelDensity', version: 1, bandwidth: requireFitted(this.bandwidth, 'KernelDensity.toJSON'), x: matrixToJSON(this.points) };
  }

  static load(json: KernelDensityJSON): KernelDensity {
    requireModelTag(json, 'KernelDensity');
    const model = new KernelDensity({ bandwidth: json.bandwidth });
    model.x = matrixFromJSON(json.x, 'KernelDensity', 'x');
    model.bandwidth = json.bandwidth;
    return model;
  }
}

export interface ModeFindingOptions {
  /** Starting points (default: every training point, or `maxStarts` of them at random). */
  starts?: PointsInput;
  maxStarts?: number;
  maxIterations?: number;
  /** Stop a trajectory when it moves less than tolerance·h (default 1e-6). */
  tolerance?: number;
  /**
   * Find modes of the KDE of a random Gaussian projection to this many dimensions first, then lift
   * each one back with the same kernel weights and refine in the full space (the dimensionality
   * reduction for KDE mode finding of Lee, Li & Musco and its generalization by Acharya et al.):
   * each mean-shift step in the sketch costs O(n·m) instead of O(n·d). A small m can squeeze two
   * modes together (a Gaussian projection to 5 dimensions shrinks a distance below ~55% of its
   * length about 1 time in 10), and modes merged in the sketch stay merged after the lift.
   */
  projectionDim?: number;
  seed?: number;
}

export interface Mode {
  point: Float64Array;
  logDensity: number;
  /** Starting points that converged here. */
  basin: number;
}

/**
 * Modes of a Gaussian KDE by mean shift (Comaniciu & Meer 2002): x ← Σ wᵢxᵢ/Σ wᵢ with
 * wᵢ = exp(−‖x − xᵢ‖²/(2h²)), an ascent method on p̂ that converges to a stationary point from any
 * start. End points closer than h/2 are merged; modes are returned by decreasing density.
 */
export function findModes(kde: KernelDensity, options: ModeFindingOptions = {}): Mode[] {
  const data = kde.points;
  const h = kde.bandwidth as number;
  const rng = createRng(options.seed ?? 0);
  let starts: Matrix;
  if (options.starts) {
    starts = asPoints(options.starts, 'findModes', { cols: data.cols });
  } else {
    const count = Math.min(data.rows, options.maxStarts ?? data.rows);
    const order = rng.shuffle(Array.from({ length: data.rows }, (_, i) => i)).slice(0, count);
    starts = { rows: count, cols: data.cols, data: new Float64Array(count * data.cols) };
    order.forEach((row, i) => starts.data.set(data.data.subarray(row * data.cols, (row + 1) * data.cols), i * data.cols));
  }
  const maxIterations = requireInteger(options.maxIterations ?? 500, 1, 1e7, 'findModes', 'maxIterations');
  const tolerance = options.tolerance ?? 1e-6;
  let ends: Float64Array[];
  if (options.projectionDim !== undefined) {
    const m = requireInteger(options.projectionDim, 1, Number.MAX_SAFE_INTEGER, 'findModes', 'projectionDim');
    const d = data.cols;
    const g = Float64Array.from({ length: d * m }, () => rng.normal() / Math.sqrt(m));
    const project = (x: Matrix): Matrix => {
      const out = new Float64Array(x.rows * m);
      for (let i = 0; i < x.rows; i++) for (let k = 0; k < d; k++) for (let j = 0; j < m; j++) out[i * m + j] += x.data[i * d + k] * g[k * m + j];
      return { rows: x.rows, cols: m, data: out };
    };
    const sketch = project(data);
    const sketchEnds = meanShift(sketch, project(starts), h, maxIterations, tolerance);
    // Lift: the full-space point with the sketch's kernel weights, then refine in the full space.
    const lifted = sketchEnds.map((y) => weightedMean(sketch, data, y, h));
    ends = meanShift(data, { rows: lifted.length, cols: d, data: concat(lifted) }, h, maxIterations, tolerance);
  } else {
    ends = meanShift(data, starts, h, maxIterations, tolerance);
  }
  const modes: { point: Float64Array; basin: number }[] = [];
  for (const end of ends) {
    const near = modes.find((m) => distance(m.point, end) < h / 2);
    if (near) near.basin++;
    else modes.push({ point: end, basin: 1 });
  }
  const scores = kde.scoreSamples({ rows: modes.length, cols: data.cols, data: concat(modes.map((m) => m.point)) });
  return modes.map((m, i) => ({ ...m, logDensity: scores[i] })).sort((a, b) => b.logDensity - a.logDensity);
}

function meanShift(data: Matrix, starts: Matrix, h: number, maxIterations: number, tolerance: number): Float64Array[] {
  const d = data.cols;
  const ends: Float64Array[] = [];
  for (let s = 0; s < starts.rows; s++) {
    let x: Float64Array = Float64Array.from(starts.data.subarray(s * d, (s + 1) * d));
    for (let it = 0; it < maxIterations; it++) {
      const next = weightedMean(data, data, x, h);
      const moved = distance(next, x);
      x = next;
      if (moved < tolerance * h) break;
    }
    ends.push(x);
  }
  return ends;
}

/** Σ wᵢ·targetᵢ / Σ wᵢ with wᵢ = exp(−‖y − sourceᵢ‖²/(2h²)) (max-shifted for stability). */
function weightedMean(source: Matrix, target: Matrix, y: Float64Array, h: number): Float64Array {
  const n = source.rows;
  const ds = source.cols;
  const dt = target.cols;
  const logs = new Float64Array(n);
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < ds; k++) s += (y[k] - source.data[i * ds + k]) ** 2;
    logs[i] = -s / (2 * h * h);
    if (logs[i] > max) max = logs[i];
  }
  const out = new Float64Array(dt);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const w = Math.exp(logs[i] - max);
    total += w;
    for (let k = 0; k < dt; k++) out[k] += w * target.data[i * dt + k];
  }
  for (let k = 0; k < dt; k++) out[k] /= total;
  return out;
}

function distance(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += (a[k] - b[k]) ** 2;
  return Math.sqrt(s);
}

function concat(rows: Float64Array[]): Float64Array {
  const d = rows[0]?.length ?? 0;
  const out = new Float64Array(rows.length * d);
  rows.forEach((r, i) => out.set(r, i * d));
  return out;
}
