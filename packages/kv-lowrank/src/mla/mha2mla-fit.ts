import { InvalidConfigError, type Matrix, type RotaryEmbedding, ShapeMismatchError, matrix } from '@kvkit/tensor-core';
import type { KVCalibrationSet, ProjectionWeights } from '../calibration/calibration-set.js';
import { leftSingularDirections, principalDirections, secondMoment } from '../fit/principal-directions.js';
import type { GroupBasis } from '../fit/projection-set.js';
import { ropePairs } from '../heads/rope-pairs.js';

export interface Mha2MlaFitOptions {
  /** RoPE frequency pairs each KV head keeps (default: an eighth of them, at least 1). */
  ropeFrequencies?: number;
  /**
   * Which pairs keep RoPE: '2-norm' (default: the largest ‖q_i‖·‖k_i‖, MHA2MLA's S_2-norm) or
   * 'high' (the highest frequencies, the first pairs).
   */
  selection?: '2-norm' | 'high';
  /** Joint latent basis from 'activations' (PCA of [k_nope; v], default) or 'weights' (SVD of [W_k,nope; W_v]). */
  source?: 'activations' | 'weights';
  /** The model's RoPE (default: the calibration set's). */
  rope?: RotaryEmbedding;
  /** Keep only the leading directions of the joint basis. */
  maxRank?: number;
  seed?: number;
}

export interface MlaLayerFit {
  /** Per KV head: the frequency pairs (indices into invFreq) that keep RoPE, ascending. */
  keptFrequencies: Int32Array[];
  /**
   * The joint latent basis over [k_nope of head 0 … head H−1 (pre-RoPE; each head's channels outside
   * its kept pairs, ascending), v of head 0 … H−1]: (H·(headDim − 2f) + H·headDim) × k.
   */
  latent: GroupBasis;
}

/** An MHA → MLA conversion (MHA2MLA, Ji et al., 2025) fitted on a model, without fine-tuning. */
export interface MlaConversion {
  numLayers: number;
  kvHeads: number;
  headDim: number;
  rope: RotaryEmbedding;
  ropeFrequencies: number;
  layers: MlaLayerFit[];
}

/** Channels of a head that keep RoPE (both channels of each kept pair) and the rest, ascending. */
export function mlaChannels(headDim: number, kept: Int32Array, rope: MlaConversion['rope']): { rope: number[]; nope: number[] } {
  const { pairs } = ropePairs(headDim, rope.invFreq.length, rope.layout);
  const ropeChannels = [...kept].flatMap((i) => pairs[i]).sort((a, b) => a - b);
  const set = new Set(ropeChannels);
  return { rope: ropeChannels, nope: Array.from({ length: headDim }, (_, c) => c).filter((c) => !set.has(c)) };
}

/**
 * Fits MHA2MLA's two steps on calibration data: partial RoPE (each KV head keeps the `ropeFrequencies`
 * pairs that contribute most to its scores; the others lose RoPE) and a joint low-rank latent of the
 * RoPE-free key channels and the values.
 */
export function fitMha2Mla(set: KVCalibrationSet, options: Mha2MlaFitOptions = {}): MlaConversion {
  const rope = options.rope ?? set.rope;
  if (!rope) throw new InvalidConfigError("fitMha2Mla: needs the model's RoPE (KVCalibrationSet rope option or options.rope)");
  const { kvHeads, headDim: d } = set;
  const frequencies = rope.invFreq.length;
  const kept = options.ropeFrequencies ?? Math.max(1, Math.round(frequencies / 8));
  if (!Number.isInteger(kept) || kept < 1 || kept > frequencies) throw new InvalidConfigError(`fitMha2Mla: ropeFrequencies must be an integer in [1, ${frequencies}], got ${kept}`);
  const selection = options.selection ?? '2-norm';
  if (selection !== '2-norm' && selection !== 'high') throw new InvalidConfigError(`fitMha2Mla: selection must be '2-norm' or 'high', got ${String(selection)}`);
  const source = options.source ?? 'activations';
  if (source !== 'activations' && source !== 'weights') throw new InvalidConfigError(`fitMha2Mla: source must be 'activations' or 'weights', got ${String(source)}`);
  const { pairs } = ropePairs(d, frequencies, rope.layout);
  const layers: MlaLayerFit[] = [];
  for (let layer = 0; layer < set.numLayers; layer++) {
    const n = set.tokens(layer);
    const keys = set.samples(layer, set.has('keyPreRope') ? 'keyPreRope' : 'key');
    const keptFrequencies = Array.from({ length: kvHeads }, (_, h) => {
      if (selection === 'high') return Int32Array.from({ length: kept }, (_, i) => i);
      const score = pairs.map(([lo, hi]) => Math.sqrt(pairEnergy(keys, h, 1, n, d, lo, hi)) * Math.sqrt(queryPairEnergy(set, layer, h, lo, hi)));
      const order = score.map((_, i) => i).sort((a, b) => score[b] - score[a] || a - b);
      return Int32Array.from(order.slice(0, kept).sort((a, b) => a - b));
    });
    const nope = keptFrequencies.map((k) => mlaChannels(d, k, rope).nope);
    const direction = { maxRank: options.maxRank, seed: options.seed };
    let latent: GroupBasis;
    if (source === 'weights') {
      latent = leftSingularDirections(jointWeights(set.weights(layer), nope, kvHeads, d, layer), direction);
    } else {
      if (!set.has('keyPreRope')) throw new InvalidConfigError('fitMha2Mla: activations need pre-RoPE keys (the RoPE-free channels are un-rotated)');
      latent = principalDirections(secondMoment(jointSamples(keys, set.samples(layer, 'value'), nope, n, d)), direction);
    }
    layers.push({ keptFrequencies, latent });
  }
  return { numLayers: set.numLayers, kvHeads, headDim: d, rope: { invFreq: Float32Array.from(rope.invFreq), layout: rope.layout }, ropeFrequencies: kept, layers };
}

/** Mean over tokens (and `heads` heads from `first`) of x_lo² + x_hi² — invariant under RoPE. */
function pairEnergy(samples: Float32Array, first: number, heads: number, n: number, d: number, lo: number, hi: number): number {
  let sum = 0;
  for (let h = first; h < first + heads; h++) {
    for (let t = 0; t < n; t++) {
      const base = (h * n + t) * d;
      sum += samples[base + lo] ** 2 + samples[base + hi] ** 2;
    }
  }
  return sum / (n * heads);
}

/** The pair's energy over the query heads reading KV head h (1 when the set holds no queries: keys decide alone). */
function queryPairEnergy(set: KVCalibrationSet, layer: number, h: number, lo: number, hi: number): number {
  if (!set.has('query')) return 1;
  const perKv = set.qHeads / set.kvHeads;
  return pairEnergy(set.samples(layer, 'query'), h * perKv, perKv, set.tokens(layer), set.headDim, lo, hi);
}

/** Rows [k_nope of every head ; v of every head] per token. */
function jointSamples(keys: Float32Array, values: Float32Array, nope: number[][], n: number, d: number): Matrix {
  const heads = nope.length;
  const width = nope.reduce((s, c) => s + c.length, 0) + heads * d;
  const out = matrix(n, width);
  for (let t = 0; t < n; t++) {
    let at = t * width;
    for (let h = 0; h < heads; h++) for (const c of nope[h]) out.data[at++] = keys[(h * n + t) * d + c];
    for (let h = 0; h < heads; h++) for (let c = 0; c < d; c++) out.data[at++] = values[(h * n + t) * d + c];
  }
  return out;
}

/** [W_k rows of every head's RoPE-free channels ; W_v]. */
export function jointWeights(weights: ProjectionWeights, nope: number[][], kvHeads: number, d: number, layer: number): Matrix {
  const { k, v } = weights;
  if (!k || !v) throw new InvalidConfigError(`MHA2MLA: layer ${layer} needs W_k and W_v (calibration.setWeights) for source 'weights'`);
  if (k.rows !== kvHeads * d || v.rows !== kvHeads * d || k.cols !== v.cols) throw new ShapeMismatchError(`MHA2MLA: W_k/W_v of layer ${layer} do not fit ${kvHeads} heads of ${d}`);
  const rows: Float64Array[] = [];
  for (let h = 0; h < kvHeads; h++) for (const c of nope[h]) rows.push(k.data.subarray((h * d + c) * k.cols, (h * d + c + 1) * k.cols));
  for (let r = 0; r < kvHeads * d; r++) rows.push(v.data.subarray(r * v.cols, (r + 1) * v.cols));
  const out = matrix(rows.length, k.cols);
  rows.forEach((row, i) => out.data.set(row, i * k.cols));
  return out;
}
