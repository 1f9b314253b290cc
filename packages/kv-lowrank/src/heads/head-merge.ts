import { type CacheLayerFactory, InvalidConfigError, type Matrix, type RotaryEmbedding, ShapeMismatchError, eigh, matmulMatrix, matrix } from '@kvkit/tensor-core';
import type { KVCalibrationSet, ProjectionWeights } from '../calibration/calibration-set.js';
import { groupSamples } from '../fit/fit-projections.js';
import { principalDirections, secondMoment } from '../fit/principal-directions.js';
import { type GroupBasis, type ProjectionSet, validateProjectionSet } from '../fit/projection-set.js';
import { concatArrays } from '../cache/concat-arrays.js';
import type { LatentStorage } from '../cache/latent-store.js';
import { featureProjectionCache } from '../methods/feature-projection.js';
import { ropePairs } from './rope-pairs.js';

export interface HeadMergeFitOptions {
  /** KV heads merged into one (default 2: MHA → GQA with half the KV heads). */
  groupSize?: number;
  /** The model's RoPE (default: the calibration set's). */
  rope?: RotaryEmbedding;
}

/**
 * Fits KV-head merging ("Effectively Compress KV Heads for LLM", Yu et al., 2024): every group of
 * `groupSize` adjacent KV heads becomes one head of headDim channels.
 *
 * Values: the leading headDim principal directions of the group's concatenated values.
 * Keys, RoPE-aware: a merge must commute with RoPE to be foldable into W_k, so each rotating channel
 * pair (one frequency) is merged on its own as a complex number c = x_lo + i·x_hi — RoPE multiplies
 * every head's c by the same e^{iθp}, so the per-frequency g × g Hermitian covariance E[c cᴴ] does not
 * depend on positions, and its top eigenvector w gives the merged pair z = wᴴc (rebuilt as c_j ≈ w_j z,
 * a rotation-scaling that commutes with RoPE). Channels RoPE leaves alone are merged by real PCA.
 * The key basis keeps channel order (merged channel c is the merged head's channel c), not energy order.
 */
export function fitHeadMerge(set: KVCalibrationSet, options: HeadMergeFitOptions = {}): ProjectionSet {
  const g = options.groupSize ?? 2;
  if (!Number.isInteger(g) || g < 1 || set.kvHeads % g !== 0) throw new InvalidConfigError(`fitHeadMerge: groupSize must divide kvHeads=${set.kvHeads}, got ${g}`);
  const rope = options.rope ?? set.rope;
  if (!rope) throw new InvalidConfigError("fitHeadMerge: needs the model's RoPE (KVCalibrationSet rope option or options.rope)");
  const d = set.headDim;
  const { pairs, unrotated } = ropePairs(d, rope.invFreq.length, rope.layout);
  const keyKind = set.has('keyPreRope') ? 'keyPreRope' : 'key';
  const keyLayers: GroupBasis[][] = [];
  const valueLayers: GroupBasis[][] = [];
  for (let layer = 0; layer < set.numLayers; layer++) {
    const n = set.tokens(layer);
    const keys = set.samples(layer, keyKind);
    const values = set.samples(layer, 'value');
    const keyGroups: GroupBasis[] = [];
    const valueGroups: GroupBasis[] = [];
    for (let j = 0; j < set.kvHeads / g; j++) {
      const moment = secondMoment(groupSamples(keys, n, d, j * g, g));
      const basis = ropeAwareMergeBasis(moment, g, d, pairs, unrotated);
      keyGroups.push({ basis, spectrum: columnEnergies(moment, basis), totalEnergy: trace(moment) });
      valueGroups.push(principalDirections(secondMoment(groupSamples(values, n, d, j * g, g)), { maxRank: d }));
    }
    keyLayers.push(keyGroups);
    valueLayers.push(valueGroups);
  }
  return {
    numLayers: set.numLayers,
    kvHeads: set.kvHeads,
    headDim: d,
    keyInput: 'post-rope',
    key: { source: 'rope-aware-merge', groupSize: g, layers: keyLayers },
    value: { source: 'values', groupSize: g, layers: valueLayers },
  };
}

/**
 * The (g·d) × d key merge basis from the group's real second moment G (rows/cols indexed j·d + c):
 * for each RoPE pair (lo, hi) the top eigenvector of the Hermitian covariance C = A + iB, A_ab =
 * G[a_lo,b_lo] + G[a_hi,b_hi], B_ab = G[a_hi,b_lo] − G[a_lo,b_hi], found through its real embedding
 * [[A, −B], [B, A]]; then real PCA of the unrotated channels.
 */
export function ropeAwareMergeBasis(moment: Matrix, g: number, d: number, pairs: readonly [number, number][], unrotated: readonly number[]): Matrix {
  const dim = g * d;
  const G = (r: number, c: number) => moment.data[r * dim + c];
  const basis = matrix(dim, d);
  for (const [lo, hi] of pairs) {
    const embedding = matrix(2 * g, 2 * g);
    for (let a = 0; a < g; a++) {
      for (let b = 0; b < g; b++) {
        const re = G(a * d + lo, b * d + lo) + G(a * d + hi, b * d + hi);
        const im = G(a * d + hi, b * d + lo) - G(a * d + lo, b * d + hi);
        embedding.data[a * 2 * g + b] = re;
        embedding.data[(g + a) * 2 * g + g + b] = re;
        embedding.data[a * 2 * g + g + b] = -im;
        embedding.data[(g + a) * 2 * g + b] = im;
      }
    }
    const { vectors } = eigh(embedding);
    for (let j = 0; j < g; j++) {
      const u = vectors.data[j * 2 * g];
      const v = vectors.data[(g + j) * 2 * g];
      basis.data[(j * d + lo) * d + lo] = u;
      basis.data[(j * d + hi) * d + lo] = v;
      basis.data[(j * d + hi) * d + hi] = u;
      basis.data[(j * d + lo) * d + hi] = -v;
    }
  }
  if (unrotated.length > 0) {
    const rows: number[] = [];
    for (let j = 0; j < g; j++) for (const c of unrotated) rows.push(j * d + c);
    const sub = matrix(rows.length, rows.length);
    rows.forEach((r, a) => rows.forEach((c, b) => (sub.data[a * rows.length + b] = G(r, c))));
    const { basis: directions } = principalDirections(sub, { maxRank: unrotated.length });
    rows.forEach((r, a) => unrotated.forEach((c, k) => (basis.data[r * d + c] = directions.data[a * unrotated.length + k])));
  }
  return basis;
}

function trace(a: Matrix): number {
  let t = 0;
  for (let i = 0; i < a.rows; i++) t += a.data[i * a.cols + i];
  return t;
}

/** diag(Pᵀ G P): the energy each merged channel keeps. */
function columnEnergies(moment: Matrix, basis: Matrix): Float64Array {
  const gp = matmulMatrix(moment, basis);
  const out = new Float64Array(basis.cols);
  for (let i = 0; i < basis.rows; i++) for (let c = 0; c < basis.cols; c++) out[c] += basis.data[i * basis.cols + c] * gp.data[i * basis.cols + c];
  return out.map((x) => Math.max(x, 0));
}

export interface HeadMergeOptions {
  /** From `fitHeadMerge`. */
  projections: ProjectionSet;
  storage?: LatentStorage;
  initialCapacity?: number;
}

/**
 * A cache that runs a merged-head (GQA) model on the fly: every group of KV heads is stored as one
 * merged head (its keys post-RoPE; queries are mapped by the head's merge block, outputs lifted by
 * the value block), so the cache holds kvHeads / groupSize heads — exactly what the converted model
 * (`convertHeadMerge`) would compute, without fine-tuning.
 */
export function headMerge(options: HeadMergeOptions): CacheLayerFactory {
  const projections = options?.projections;
  if (!projections) throw new InvalidConfigError('headmerge: projections are missing (fitHeadMerge)');
  validateProjectionSet(projections, 'headmerge');
  if (projections.key.source !== 'rope-aware-merge') throw new InvalidConfigError(`headmerge: projections must come from fitHeadMerge, got key source ${projections.key.source}`);
  return featureProjectionCache('headmerge', {
    projections,
    rank: projections.headDim,
    storage: options.storage,
    initialCapacity: options.initialCapacity,
    hadamard: false,
  });
}

/**
 * Folds a head merge into one layer's weights (HF layout [out, in]): the result is a GQA layer with
 * kvHeads / groupSize KV heads. W_k' = P_kᵀ W_k and W_v' = P_vᵀ W_v per group; query head i of
 * original KV head j gets W_q,i' = P_k,jᵀ W_q,i (a per-frequency rotation-scaling, so it commutes
 * with RoPE); W_o's columns for head i become W_o,i · P_v,j.
 */
export function convertHeadMerge(weights: Required<Pick<ProjectionWeights, 'q' | 'k' | 'v' | 'o'>>, projections: ProjectionSet, layer: number): Required<Pick<ProjectionWeights, 'q' | 'k' | 'v' | 'o'>> & { kvHeads: number } {
  validateProjectionSet(projections, 'convertHeadMerge');
  if (projections.key.source !== 'rope-aware-merge') throw new InvalidConfigError('convertHeadMerge: projections must come from fitHeadMerge');
  if (!Number.isInteger(layer) || layer < 0 || layer >= projections.numLayers) throw new InvalidConfigError(`convertHeadMerge: layer ${layer} is out of range`);
  const { kvHeads, headDim: d } = projections;
  const g = projections.key.groupSize;
  const { q, k, v, o } = weights;
  const hidden = k.cols;
  if (k.rows !== kvHeads * d || v.rows !== kvHeads * d || v.cols !== hidden || q.cols !== hidden || q.rows % (kvHeads * d) !== 0 || o.rows !== hidden || o.cols !== q.rows) {
    throw new ShapeMismatchError(`convertHeadMerge: weights do not fit ${kvHeads} KV heads of headDim ${d} (W_q ${q.rows}×${q.cols}, W_k ${k.rows}×${k.cols}, W_v ${v.rows}×${v.cols}, W_o ${o.rows}×${o.cols})`);
  }
  const qHeads = q.rows / d;
  const perKv = qHeads / kvHeads;
  const rowsOf = (w: Matrix, start: number, count: number) => matrix(count, w.cols, w.data.subarray(start * w.cols, (start + count) * w.cols));
  const stack = (blocks: Matrix[]) => matrix(blocks.reduce((s, b) => s + b.rows, 0), blocks[0].cols, concatArrays(blocks.map((b) => b.data), Float64Array));
  const keyBases = projections.key.layers[layer].map((b) => b.basis);
  const valueBases = projections.value.layers[layer].map((b) => b.basis);
  const newK = stack(keyBases.map((p, j) => matmulMatrix(p, rowsOf(k, j * g * d, g * d), { transposeA: true })));
  const newV = stack(valueBases.map((p, j) => matmulMatrix(p, rowsOf(v, j * g * d, g * d), { transposeA: true })));
  const headBlock = (p: Matrix, local: number) => rowsOf(p, local * d, d);
  const qBlocks: Matrix[] = [];
  const newO = matrix(hidden, o.cols);
  for (let i = 0; i < qHeads; i++) {
    const kv = Math.floor(i / perKv);
    const group = Math.floor(kv / g);
    const local = kv % g;
    qBlocks.push(matmulMatrix(headBlock(keyBases[group], local), rowsOf(q, i * d, d), { transposeA: true }));
    const oCols = matrix(hidden, d);
    for (let r = 0; r < hidden; r++) oCols.data.set(o.data.subarray(r * o.cols + i * d, r * o.cols + (i + 1) * d), r * d);
    const lifted = matmulMatrix(oCols, headBlock(valueBases[group], local));
    for (let r = 0; r < hidden; r++) newO.data.set(lifted.data.subarray(r * d, (r + 1) * d), r * o.cols + i * d);
  }
  return { q: stack(qBlocks), k: newK, v: newV, o: newO, kvHeads: kvHeads / g };
}
