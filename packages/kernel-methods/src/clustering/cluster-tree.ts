import { InvalidConfigError, type Matrix, ShapeMismatchError } from '@kvkit/tensor-core';
import { asPoints, type PointsInput } from '../points.js';

/** A node of an axis-aligned threshold tree: a leaf names a cluster, an inner node a test x[feature] <= threshold. */
export type ClusterTreeNode =
  | { leaf: true; cluster: number }
  | { leaf: false; feature: number; threshold: number; left: ClusterTreeNode; right: ClusterTreeNode };

export interface ClusterTree {
  root: ClusterTreeNode;
  /** Number of leaves (= number of clusters explained). */
  leaves: number;
  /** Fraction of the points the tree sends to the cluster they were assigned. */
  agreement: number;
  predict(points: PointsInput): Int32Array;
}

/**
 * Explains a clustering by an axis-aligned decision tree with one leaf per cluster, built by
 * Iterative Mistake Minimization (Moshkovitz et al. 2020) around one reference point per cluster,
 * as the kernel-clustering trees of Fleissner, Vankadara & Ghoshdastidar ("Explaining Kernel
 * Clustering via Decision Trees", ICLR 2024) do for kernel k-means, whose centres live in the
 * RKHS and have no coordinates: the reference point is the cluster's medoid in input space
 * (`references`, e.g. from `clusterMedoids`). Each split is the threshold on one feature that
 * separates the node's references while sending the fewest points away from their own cluster's
 * reference.
 */
export function explainClusters(points: PointsInput, labels: ArrayLike<number>, references: PointsInput): ClusterTree {
  const x = asPoints(points, 'explainClusters');
  const centers = asPoints(references, 'explainClusters', { cols: x.cols });
  if (labels.length !== x.rows) throw new ShapeMismatchError(`explainClusters: ${labels.length} labels for ${x.rows} points`);
  const k = centers.rows;
  for (let i = 0; i < labels.length; i++) {
    if (!Number.isInteger(labels[i]) || labels[i] < 0 || labels[i] >= k) {
      throw new InvalidConfigError(`explainClusters: label ${labels[i]} of point ${i} is not in [0, ${k})`);
    }
  }
  const d = x.cols;
  const build = (pointSet: number[], centerSet: number[]): ClusterTreeNode => {
    if (centerSet.length === 1) return { leaf: true, cluster: centerSet[0] };
    let best: { feature: number; threshold: number; mistakes: number } | undefined;
    for (let f = 0; f < d; f++) {
      const values = centerSet.map((c) => centers.data[c * d + f]).sort((a, b) => a - b);
      for (let t = 0; t + 1 < values.length; t++) {
        if (values[t] === values[t + 1]) continue;
        const threshold = 0.5 * (values[t] + values[t + 1]);
        let mistakes = 0;
        for (const i of pointSet) {
          const c = labels[i];
          if (!centerSet.includes(c)) continue;
          if (x.data[i * d + f] <= threshold !== centers.data[c * d + f] <= threshold) mistakes++;
        }
        if (!best || mistakes < best.mistakes) best = { feature: f, threshold, mistakes };
      }
    }
    if (!best) {
      // Identical references: no axis-aligned split separates them; the first one takes the node.
      return { leaf: true, cluster: centerSet[0] };
    }
    const { feature, threshold } = best;
    const goesLeft = (i: number) => x.data[i * d + feature] <= threshold;
    return {
      leaf: false,
      feature,
      threshold,
      left: build(pointSet.filter(goesLeft), centerSet.filter((c) => centers.data[c * d + feature] <= threshold)),
      right: build(pointSet.filter((i) => !goesLeft(i)), centerSet.filter((c) => centers.data[c * d + feature] > threshold)),
    };
  };
  const root = build(Array.from({ length: x.rows }, (_, i) => i), Array.from({ length: k }, (_, c) => c));
  const predict = (input: PointsInput): Int32Array => {
    const p = asPoints(input, 'ClusterTree.predict', { cols: d });
    const out = new Int32Array(p.rows);
    for (let i = 0; i < p.rows; i++) {
      let node = root;
      while (!node.leaf) node = p.data[i * d + node.feature] <= node.threshold ? node.left : node.right;
      out[i] = node.cluster;
    }
    return out;
  };
  const predicted = predict(x);
  let agree = 0;
  for (let i = 0; i < x.rows; i++) if (predicted[i] === labels[i]) agree++;
  return { root, leaves: countLeaves(root), agreement: agree / x.rows, predict };
}

function countLeaves(node: ClusterTreeNode): number {
  return node.leaf ? 1 : countLeaves(node.left) + countLeaves(node.right);
}

/** Per cluster, the member closest (Euclidean) to the cluster's coordinate-wise median: a reference point in input space. */
export function clusterMedoids(points: PointsInput, labels: ArrayLike<number>, nClusters: number): Matrix {
  const x = asPoints(points, 'clusterMedoids');
  const d = x.cols;
  const out = new Float64Array(nClusters * d);
  for (let c = 0; c < nClusters; c++) {
    const members: number[] = [];
    for (let i = 0; i < x.rows; i++) if (labels[i] === c) members.push(i);
    if (members.length === 0) throw new InvalidConfigError(`clusterMedoids: cluster ${c} is empty`);
    const median = new Float64Array(d);
    for (let f = 0; f < d; f++) {
      const values = members.map((i) => x.data[i * d + f]).sort((a, b) => a - b);
      median[f] = values[Math.floor(values.length / 2)];
    }
    let best = members[0];
    let bestD = Infinity;
    for (const i of members) {
      let s = 0;
      for (let f = 0; f < d; f++) s += (x.data[i * d + f] - median[f]) ** 2;
      if (s < bestD) {
        bestD = s;
        best = i;
      }
    }
    out.set(x.data.subarray(best * d, (best + 1) * d), c * d);
  }
  return { rows: nClusters, cols: d, data: out };
}
