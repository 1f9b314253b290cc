import { InvalidConfigError, type Matrix, matrix } from '@kvkit/tensor-core';
import type { ActivationKind, KVCalibrationSet } from '../calibration/calibration-set.js';
import { type DirectionOptions, leftSingularDirections, principalDirections, secondMoment } from './principal-directions.js';
import { type GroupBasis, type KeyBasisSource, type ProjectionSet, type ValueBasisSource, keyInputOf } from './projection-set.js';

export interface FitOptions extends DirectionOptions {
  /** What the key bases are fitted on (default 'keys-post-rope'). 'rope-aware-merge' is `fitHeadMerge`'s. */
  keys?: Exclude<KeyBasisSource, 'rope-aware-merge'>;
  /** What the value bases are fitted on (default 'values'; 'weights' needs W_v). */
  values?: ValueBasisSource;
  /** KV heads per key group (default 1: one basis per head; kvHeads: one joint basis per layer). */
  keyGroupSize?: number;
  /** KV heads per value group (default keyGroupSize). */
  valueGroupSize?: number;
}

/**
 * Fits one key and one value basis per layer and head group from a calibration set: PCA of the
 * activations (uncentered second moment, eigendecomposition) or SVD of the projection weights.
 * Bases keep every direction unless `maxRank` is given, so any rank can be chosen later.
 */
export function fitProjections(set: KVCalibrationSet, options: FitOptions = {}): ProjectionSet {
  const keys = options.keys ?? 'keys-post-rope';
  const values = options.values ?? 'values';
  const keyGroupSize = options.keyGroupSize ?? 1;
  const valueGroupSize = options.valueGroupSize ?? keyGroupSize;
  for (const [name, g] of [['keyGroupSize', keyGroupSize], ['valueGroupSize', valueGroupSize]] as const) {
    if (!Number.isInteger(g) || g < 1 || set.kvHeads % g !== 0) {
      throw new InvalidConfigError(`fitProjections: ${name} must divide kvHeads=${set.kvHeads}, got ${g}`);
    }
  }
  if (keys === 'keys-queries' && keyGroupSize !== 1) throw new InvalidConfigError("fitProjections: keys 'keys-queries' fits one basis per head (keyGroupSize 1)");
  if (!['keys-post-rope', 'keys-pre-rope', 'keys-queries', 'weights'].includes(keys)) {
    throw new InvalidConfigError(`fitProjections: keys must be keys-post-rope, keys-pre-rope, keys-queries or weights, got ${String(keys)}`);
  }
  if (values !== 'values' && values !== 'weights') throw new InvalidConfigError(`fitProjections: values must be 'values' or 'weights', got ${String(values)}`);
  const direction = { maxRank: options.maxRank, seed: options.seed };
  const keyLayers: GroupBasis[][] = [];
  const valueLayers: GroupBasis[][] = [];
  for (let layer = 0; layer < set.numLayers; layer++) {
    keyLayers.push(fitKeyGroups(set, layer, keys, keyGroupSize, direction));
    valueLayers.push(
      values === 'weights'
        ? weightGroups(set, layer, 'v', valueGroupSize, direction)
        : activationGroups(set, layer, 'value', valueGroupSize, direction),
    );
  }
  return {
    numLayers: set.numLayers,
    kvHeads: set.kvHeads,
    headDim: set.headDim,
    keyInput: keyInputOf(keys),
    key: { source: keys, groupSize: keyGroupSize, layers: keyLayers },
    value: { source: values, groupSize: valueGroupSize, layers: valueLayers },
  };
}

function fitKeyGroups(set: KVCalibrationSet, layer: number, source: KeyBasisSource, groupSize: number, options: DirectionOptions): GroupBasis[] {
  if (source === 'weights') return weightGroups(set, layer, 'k', groupSize, options);
  if (source === 'keys-queries') return keyQueryBases(set, layer, options);
  return activationGroups(set, layer, source === 'keys-pre-rope' ? 'keyPreRope' : 'key', groupSize, options);
}

/** PCA of the concatenated samples of each group of heads. */
function activationGroups(set: KVCalibrationSet, layer: number, kind: ActivationKind, groupSize: number, options: DirectionOptions): GroupBasis[] {
  const samples = set.samples(layer, kind);
  const n = set.tokens(layer);
  return Array.from({ length: set.kvHeads / groupSize }, (_, j) =>
    principalDirections(secondMoment(groupSamples(samples, n, set.headDim, j * groupSize, groupSize)), options),
  );
}

/**
 * Eigen Attention's key basis: the principal directions of a head's keys and of the queries that read
 * it, each second moment normalized to unit trace so neither side dominates (queries outnumber keys
 * under grouped-query attention, and their scales differ).
 */
function keyQueryBases(set: KVCalibrationSet, layer: number, options: DirectionOptions): GroupBasis[] {
  const keys = set.samples(layer, 'key');
  const queries = set.samples(layer, 'query');
  const n = set.tokens(layer);
  const d = set.headDim;
  const perKv = set.qHeads / set.kvHeads;
  return Array.from({ length: set.kvHeads }, (_, h) => {
    const keyMoment = normalizedTrace(secondMoment(groupSamples(keys, n, d, h, 1)));
    const queryRows = matrix(perKv * n, d, queries.subarray(h * perKv * n * d, (h + 1) * perKv * n * d));
    const queryMoment = normalizedTrace(secondMoment(queryRows));
    for (let i = 0; i < keyMoment.data.length; i++) keyMoment.data[i] += queryMoment.data[i];
    return principalDirections(keyMoment, options);
  });
}

function normalizedTrace(a: Matrix): Matrix {
  let trace = 0;
  for (let i = 0; i < a.rows; i++) trace += a.data[i * a.cols + i];
  if (trace > 0) for (let i = 0; i < a.data.length; i++) a.data[i] /= trace;
  return a;
}

/** SVD of the rows of W_k or W_v that produce each group's heads. */
function weightGroups(set: KVCalibrationSet, layer: number, name: 'k' | 'v', groupSize: number, options: DirectionOptions): GroupBasis[] {
  const w = set.weights(layer)[name];
  if (!w) throw new InvalidConfigError(`fitProjections: layer ${layer} has no W_${name}; give it with calibration.setWeights(layer, { ${name}: … })`);
  const rows = groupSize * set.headDim;
  return Array.from({ length: set.kvHeads / groupSize }, (_, j) =>
    leftSingularDirections(matrix(rows, w.cols, w.data.subarray(j * rows * w.cols, (j + 1) * rows * w.cols)), options),
  );
}

/**
 * Samples of heads [first, first + count) as an n × (count·d) matrix: row t is the concatenation of
 * the heads' vectors at token t (heads-first input [heads, n, d]).
 */
export function groupSamples(samples: Float32Array, n: number, d: number, first: number, count: number): Matrix {
  const out = matrix(n, count * d);
  for (let t = 0; t < n; t++) {
    for (let j = 0; j < count; j++) {
      const from = ((first + j) * n + t) * d;
      for (let c = 0; c < d; c++) out.data[t * count * d + j * d + c] = samples[from + c];
    }
  }
  return out;
}
