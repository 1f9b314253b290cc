import { createRng, InvalidConfigError, type Matrix, type Rng } from '@kvkit/tensor-core';
import type { Kernel, KernelSpec } from '../kernels/kernel.js';
import { kernelFromJSON } from '../kernels/from-json.js';
import { KernelMatrix, type KernelMatrixOptions } from '../operator/kernel-matrix.js';
import { asPoints, type PointsInput, requireInteger } from '../points.js';
import { type MatrixJSON, matrixFromJSON, matrixToJSON, requireFitted, requireModelTag } from '../util/serialization.js';

export interface KernelKMeansOptions extends KernelMatrixOptions {
  kernel: Kernel;
  nClusters: number;
  /** Lloyd iterations per run (default 100). */
  maxIterations?: number;
  /** Independent k-means++ starts; the lowest inertia wins (default 3). */
  nInit?: number;
  seed?: number;
}

export interface KernelKMeansJSON {
  name: 'KernelKMeans';
  version: 1;
  kernel: KernelSpec;
  nClusters: number;
  x: MatrixJSON;
  labels: number[];
}

/**
 * Kernel k-means (Schölkopf et al. 1998; Dhillon et al. 2004): Lloyd's algorithm in the RKHS, where
 * ‖φ(x) − μ_c‖² = k(x, x) − (2/|c|)Σ_{j∈c} k(x, x_j) + (1/|c|²)Σ_{j,l∈c} k(x_j, x_l). Each iteration
 * is one lazy product K·Z with the n×k membership matrix Z, so K is never stored. Seeding is
 * k-means++ in feature space.
 */
export class KernelKMeans {
  readonly kernel: Kernel;
  readonly nClusters: number;
  private readonly options: KernelKMeansOptions;
  private x?: Matrix;
  /** Cluster of each training point (after fit). */
  labels?: Int32Array;
  /** Σ ‖φ(xᵢ) − μ_{c(i)}‖² (after fit). */
  inertia?: number;
  iterations?: number;

  constructor(options: KernelKMeansOptions) {
    if (!options?.kernel) throw new InvalidConfigError('KernelKMeans: a kernel is required');
    this.kernel = options.kernel;
    this.nClusters = requireInteger(options.nClusters, 1, Number.MAX_SAFE_INTEGER, 'KernelKMeans', 'nClusters');
    this.options = options;
  }

  fit(points: PointsInput): this {
    const x = asPoints(points, 'KernelKMeans.fit', { cols: this.kernel.inputDim });
    const k = this.nClusters;
    if (k > x.rows) throw new InvalidConfigError(`KernelKMeans.fit: ${k} clusters for ${x.rows} points`, { nClusters: k, points: x.rows });
    const operator = new KernelMatrix(this.kernel, x, undefined, this.options);
    const diagonal = this.kernel.diagonal(x);
    const rng = createRng(this.options.seed ?? 0);
    const runs = requireInteger(this.options.nInit ?? 3, 1, 1000, 'KernelKMeans', 'nInit');
    const maxIterations = requireInteger(this.options.maxIterations ?? 100, 1, 1e6, 'KernelKMeans', 'maxIterations');
    let best: { labels: Int32Array; inertia: number; iterations: number } | undefined;
    for (let run = 0; run < runs; run++) {
      let labels = plusPlusSeeding(this.kernel, x, diagonal, k, rng);
      let inertia = Infinity;
      let iterations = 0;
      for (; iterations < maxIterations; iterations++) {
        const { labels: next, inertia: value } = assign(operator, diagonal, labels, k);
        const changed = next.some((v, i) => v !== labels[i]);
        labels = next;
        inertia = value;
        if (!changed) break;
      }
      if (!best || inertia < best.inertia) best = { labels, inertia, iterations };
    }
    const result = best as { labels: Int32Array; inertia: number; iterations: number };
    this.x = x;
    this.labels = result.labels;
    this.inertia = result.inertia;
    this.iterations = result.iterations;
    return this;
  }

  /** The nearest cluster mean (in the RKHS) for new points. */
  predict(points: PointsInput): Int32Array {
    const xTrain = requireFitted(this.x, 'KernelKMeans.predict');
    const x = asPoints(points, 'KernelKMeans.predict', { cols: xTrain.cols });
    const labels = this.labels as Int32Array;
    const k = this.nClusters;
    const { z, sizes } = membership(labels, k);
    const self = clusterSelfTerms(new KernelMatrix(this.kernel, xTrain, undefined, this.options).multiply(z), labels, sizes, k);
    const cross = new KernelMatrix(this.kernel, x, xTrain, this.options).multiply(z);
    const out = new Int32Array(x.rows);
    for (let i = 0; i < x.rows; i++) {
      let bestC = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        if (sizes[c] === 0) continue;
        const dist = self[c] - (2 * cross.data[i * k + c]) / sizes[c];
        if (dist < bestD) {
          bestD = dist;
          bestC = c;
        }
      }
      out[i] = bestC;
    }
    return out;
  }

  toJSON(): KernelKMeansJSON {
    const x = requireFitted(this.x, 'KernelKMeans.toJSON');
    return { name: 'KernelKMeans', version: 1, kernel: this.kernel.toJSON(), nClusters: this.nClusters, x: matrixToJSON(x), labels: Array.from(this.labels as Int32Array) };
  }

  static load(json: KernelKMeansJSON): KernelKMeans {
    requireModelTag(json, 'KernelKMeans');
    const model = new KernelKMeans({ kernel: kernelFromJSON(json.kernel), nClusters: json.nClusters });
    model.x = matrixFromJSON(json.x, 'KernelKMeans', 'x');
    model.labels = Int32Array.from(json.labels);
    return model;
  }
}

function membership(labels: Int32Array, k: number): { z: Matrix; sizes: Float64Array } {
  const n = labels.length;
  const z = new Float64Array(n * k);
  const sizes = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    z[i * k + labels[i]] = 1;
    sizes[labels[i]]++;
  }
  return { z: { rows: n, cols: k, data: z }, sizes };
}

/** (1/|c|²)Σ_{j,l∈c} k(x_j, x_l) from KZ. */
function clusterSelfTerms(kz: Matrix, labels: Int32Array, sizes: Float64Array, k: number): Float64Array {
  const self = new Float64Array(k);
  for (let i = 0; i < labels.length; i++) self[labels[i]] += kz.data[i * k + labels[i]];
  for (let c = 0; c < k; c++) self[c] = sizes[c] > 0 ? self[c] / (sizes[c] * sizes[c]) : 0;
  return self;
}

function assign(operator: KernelMatrix, diagonal: Float64Array, labels: Int32Array, k: number): { labels: Int32Array; inertia: number } {
  const { z, sizes } = membership(labels, k);
  const kz = operator.multiply(z);
  const self = clusterSelfTerms(kz, labels, sizes, k);
  const n = labels.length;
  const next = new Int32Array(n);
  let inertia = 0;
  for (let i = 0; i < n; i++) {
    let bestC = labels[i];
    let bestD = Infinity;
    for (let c = 0; c < k; c++) {
      if (sizes[c] === 0) continue;
      const dist = diagonal[i] - (2 * kz.data[i * k + c]) / sizes[c] + self[c];
      if (dist < bestD - 1e-12 || (dist <= bestD + 1e-12 && c === labels[i])) {
        bestD = dist;
        bestC = c;
      }
    }
    next[i] = bestC;
    inertia += Math.max(bestD, 0);
  }
  return { labels: next, inertia };
}

/** k-means++ (Arthur & Vassilvitskii 2007) with feature-space distances k(x,x) + k(c,c) − 2k(x,c); returns initial labels. */
function plusPlusSeeding(kernel: Kernel, x: Matrix, diagonal: Float64Array, k: number, rng: Rng): Int32Array {
  const n = x.rows;
  const centers: number[] = [rng.int(n)];
  const nearest = new Float64Array(n).fill(Infinity);
  const labels = new Int32Array(n);
  const column = new Float64Array(n);
  const update = (center: number, index: number) => {
    kernel.evaluate(x, { rows: 1, cols: x.cols, data: x.data.subarray(center * x.cols, (center + 1) * x.cols) }, column, 0, n, 0, 1);
    for (let i = 0; i < n; i++) {
      const d = Math.max(diagonal[i] + diagonal[center] - 2 * column[i], 0);
      if (d < nearest[i]) {
        nearest[i] = d;
        labels[i] = index;
      }
    }
  };
  update(centers[0], 0);
  while (centers.length < k) {
    const total = nearest.reduce((a, b) => a + b, 0);
    let next: number;
    if (!(total > 0)) {
      next = rng.int(n);
    } else {
      let r = rng.uniform() * total;
      next = 0;
      while (next < n - 1 && r >= nearest[next]) r -= nearest[next++];
    }
    centers.push(next);
    update(next, centers.length - 1);
  }
  return labels;
}
