import { InvalidConfigError, type Matrix } from '@kvkit/tensor-core';
import { asPoints, type PointsInput, requireInteger, requirePositive } from '../points.js';
import { QuadTree } from './quad-tree.js';
import { autoLearningRate, calibrateRow, EXAGGERATION, EXAGGERATION_ITERATIONS, gainsStep, initialEmbedding } from './tsne-common.js';

export interface BarnesHutTsneOptions {
  /** Output dimension: the quadtree is 2-D, so only 2 (the default) is accepted. */
  nComponents?: number;
  /** Perplexity (default 30); each point's affinities cover its ⌊3·perplexity⌋ nearest neighbours, fewer than n. */
  perplexity?: number;
  /** Barnes–Hut accuracy: a cell is summarized once width / distance < theta (default 0.5; 0 = exact). */
  theta?: number;
  /** Iterations (default 1000), the first 250 with early exaggeration 12. */
  iterations?: number;
  /** 'pca' (default, scikit-learn's) or 'random'. */
  init?: 'pca' | 'random';
  seed?: number;
}

export interface BarnesHutTsneResult {
  /** n×2 embedding. */
  embedding: Matrix;
  /** KL(P‖Q) of the final embedding, with Q normalized exactly (O(n²), once). */
  klDivergence: number;
}

/** Sparse symmetric joint affinities in CSR form: row i's entries are columns[offsets[i]..offsets[i+1]). */
export interface SparseAffinities {
  offsets: Int32Array;
  columns: Int32Array;
  values: Float64Array;
}

/**
 * Barnes–Hut t-SNE (van der Maaten 2014): input affinities on each point's ⌊3·perplexity⌋ exact
 * nearest neighbours, calibrated to the perplexity and symmetrized (sparse P); attractive forces
 * over P's non-zeros, repulsive forces from a quadtree over the embedding with the theta criterion.
 * Optimization as in the exact `tsne` (and scikit-learn): early exaggeration 12 for 250 iterations,
 * momentum 0.5 → 0.8, per-coordinate gains, learning rate max(n/48, 50). O(n log n) per iteration
 * after an O(n²·d) neighbour search.
 */
export function barnesHutTsne(points: PointsInput, options: BarnesHutTsneOptions = {}): BarnesHutTsneResult {
  const where = 'barnesHutTsne';
  const x = asPoints(points, where, { minRows: 4 });
  const n = x.rows;
  const dims = options.nComponents ?? 2;
  if (dims !== 2) throw new InvalidConfigError(`${where}: nComponents must be 2 (the Barnes–Hut tree is a quadtree), got ${String(dims)}`);
  const perplexity = requirePositive(options.perplexity ?? 30, where, 'perplexity');
  const neighbors = Math.min(n - 1, Math.floor(3 * perplexity));
  if (perplexity >= n || neighbors < 1) {
    throw new InvalidConfigError(`${where}: perplexity ${perplexity} must be below the number of points ${n} and at least 1/3`);
  }
  const theta = options.theta ?? 0.5;
  if (!(theta >= 0 && theta <= 1)) throw new InvalidConfigError(`${where}: theta must be in [0, 1], got ${theta}`);
  const iterations = requireInteger(options.iterations ?? 1000, EXAGGERATION_ITERATIONS + 1, 1e6, where, 'iterations');
  const init = options.init ?? 'pca';
  if (init !== 'pca' && init !== 'random') throw new InvalidConfigError(`${where}: init must be 'pca' or 'random', got ${String(init)}`);

  const p = sparseAffinities(x, perplexity, neighbors);
  const y = initialEmbedding(x, 2, init, options.seed ?? 0, where);
  const learningRate = autoLearningRate(n);
  const update = new Float64Array(2 * n);
  const gains = new Float64Array(2 * n).fill(1);
  const gradient = new Float64Array(2 * n);
  const repulsive = new Float64Array(2 * n);
  for (let it = 0; it < iterations; it++) {
    const early = it < EXAGGERATION_ITERATIONS;
    barnesHutGradient(p, y, n, theta, early ? EXAGGERATION : 1, gradient, repulsive);
    gainsStep(y, gradient, update, gains, early ? 0.5 : 0.8, learningRate);
  }
  return { embedding: { rows: n, cols: 2, data: y }, klDivergence: klDivergence(p, y, n) };
}

/**
 * The t-SNE gradient ∂C/∂yᵢ = 4[exaggeration·Σⱼ pᵢⱼ qᵢⱼ (yᵢ − yⱼ) − Σⱼ qᵢⱼ² (yᵢ − yⱼ) / Z] with
 * qᵢⱼ = (1 + ‖yᵢ − yⱼ‖²)⁻¹ and Z = Σ_{k≠l} q_kl, the repulsive sums approximated by the quadtree.
 * Writes `gradient` (2n); `repulsive` is scratch of the same size.
 */
export function barnesHutGradient(p: SparseAffinities, y: Float64Array, n: number, theta: number, exaggeration: number, gradient: Float64Array, repulsive: Float64Array): void {
  const tree = new QuadTree(y, n);
  const stack = new Int32Array(tree.stackSize());
  repulsive.fill(0);
  let z = 0;
  for (let i = 0; i < n; i++) z += tree.repulsion(i, theta, repulsive, 2 * i, stack);
  const { offsets, columns, values } = p;
  for (let i = 0; i < n; i++) {
    const yx = y[2 * i];
    const yy = y[2 * i + 1];
    let ax = 0;
    let ay = 0;
    for (let t = offsets[i]; t < offsets[i + 1]; t++) {
      const j = columns[t];
      const dx = yx - y[2 * j];
      const dy = yy - y[2 * j + 1];
      const pq = values[t] / (1 + dx * dx + dy * dy);
      ax += pq * dx;
      ay += pq * dy;
    }
    gradient[2 * i] = 4 * (exaggeration * ax - repulsive[2 * i] / z);
    gradient[2 * i + 1] = 4 * (exaggeration * ay - repulsive[2 * i + 1] / z);
  }
}

/**
 * pᵢⱼ = (p_{j|i} + p_{i|j})/(2n) over the union of each point's `neighbors` nearest neighbours
 * (exact search), p_{j|i} calibrated to the perplexity on those neighbours only.
 */
export function sparseAffinities(x: Matrix, perplexity: number, neighbors: number): SparseAffinities {
  const { rows: n, cols: d } = x;
  const index = new Int32Array(n * neighbors);
  const conditional = new Float64Array(n * neighbors);
  const heapDistance = new Float64Array(neighbors);
  const heapIndex = new Int32Array(neighbors);
  const row = new Float64Array(neighbors);
  for (let i = 0; i < n; i++) {
    let size = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let s = 0;
      for (let k = 0; k < d; k++) {
        const diff = x.data[i * d + k] - x.data[j * d + k];
        s += diff * diff;
      }
      if (size < neighbors) {
        siftUp(heapDistance, heapIndex, size++, s, j);
      } else if (s < heapDistance[0]) {
        siftDown(heapDistance, heapIndex, neighbors, s, j);
      }
    }
    calibrateRow(heapDistance, neighbors, perplexity, row);
    index.set(heapIndex, i * neighbors);
    conditional.set(row, i * neighbors);
  }
  // Symmetrize: row i gets its own neighbours and every point that has i as a neighbour.
  const rows: Map<number, number>[] = Array.from({ length: n }, () => new Map());
  const scale = 1 / (2 * n);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < neighbors; t++) {
      const j = index[i * neighbors + t];
      const v = conditional[i * neighbors + t] * scale;
      rows[i].set(j, (rows[i].get(j) ?? 0) + v);
      rows[j].set(i, (rows[j].get(i) ?? 0) + v);
    }
  }
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + rows[i].size;
  const columns = new Int32Array(offsets[n]);
  const values = new Float64Array(offsets[n]);
  for (let i = 0; i < n; i++) {
    let t = offsets[i];
    for (const [j, v] of rows[i]) {
      columns[t] = j;
      values[t++] = v;
    }
  }
  return { offsets, columns, values };
}

/** KL(P‖Q) = Σ pᵢⱼ log(pᵢⱼ/qᵢⱼ) over P's non-zeros, qᵢⱼ = wᵢⱼ / Σ_{k≠l} w_kl normalized exactly. */
export function klDivergence(p: SparseAffinities, y: Float64Array, n: number): number {
  let z = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const dx = y[2 * i] - y[2 * j];
      const dy = y[2 * i + 1] - y[2 * j + 1];
      z += 2 / (1 + dx * dx + dy * dy);
    }
  let kl = 0;
  for (let i = 0; i < n; i++)
    for (let t = p.offsets[i]; t < p.offsets[i + 1]; t++) {
      const j = p.columns[t];
      const pij = p.values[t];
      if (pij <= 0) continue;
      const dx = y[2 * i] - y[2 * j];
      const dy = y[2 * i + 1] - y[2 * j + 1];
      kl += pij * Math.log((pij * z) * (1 + dx * dx + dy * dy));
    }
  return kl;
}

// A binary max-heap on distance keeps the `neighbors` closest candidates seen so far.
function siftUp(distance: Float64Array, index: Int32Array, position: number, s: number, j: number): void {
  let c = position;
  while (c > 0) {
    const parent = (c - 1) >> 1;
    if (distance[parent] >= s) break;
    distance[c] = distance[parent];
    index[c] = index[parent];
    c = parent;
  }
  distance[c] = s;
  index[c] = j;
}

/** Replaces the root (the farthest kept) by (s, j) and restores the heap order. */
function siftDown(distance: Float64Array, index: Int32Array, size: number, s: number, j: number): void {
  let c = 0;
  for (;;) {
    let child = 2 * c + 1;
    if (child >= size) break;
    if (child + 1 < size && distance[child + 1] > distance[child]) child++;
    if (distance[child] <= s) break;
    distance[c] = distance[child];
    index[c] = index[child];
    c = child;
  }
  distance[c] = s;
  index[c] = j;
}
