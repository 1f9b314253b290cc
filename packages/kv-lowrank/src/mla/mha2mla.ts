import { BudgetTooSmallError, type CacheLayerFactory, InvalidConfigError, type LayerSpec, type Matrix, ShapeMismatchError, matmulMatrix, matrix } from '@kvkit/tensor-core';
import type { ProjectionWeights } from '../calibration/calibration-set.js';
import { type LatentStorage, resolveLatentStorage } from '../cache/latent-store.js';
import { concatArrays } from '../cache/concat-arrays.js';
import { leadingColumns } from '../fit/principal-directions.js';
import { jointWeights, type MlaConversion, mlaChannels } from './mha2mla-fit.js';
import { Mha2MlaCacheLayer, type MlaLayerPlan } from './mha2mla-layer.js';

export interface Mha2MlaOptions {
  /** From `fitMha2Mla`. */
  conversion: MlaConversion;
  /** Joint latent dimension r (default: from `ratio`). */
  rank?: number;
  /**
   * Share of the dense cache kept (numbers per token, keys and values; default 0.5): the RoPE key
   * channels take kvHeads·2f of it, the joint latent the rest.
   */
  ratio?: number;
  storage?: LatentStorage;
  initialCapacity?: number;
}

/** The latent rank for a ratio: ratio·2·kvHeads·headDim numbers per token, minus the RoPE channels. */
export function mlaRankForRatio(conversion: MlaConversion, ratio: number): number {
  if (!(ratio > 0 && ratio <= 1)) throw new InvalidConfigError(`mha2mla: ratio must be in (0, 1], got ${ratio}`);
  const ropeNumbers = conversion.kvHeads * 2 * conversion.ropeFrequencies;
  const rank = Math.floor(ratio * 2 * conversion.kvHeads * conversion.headDim) - ropeNumbers;
  if (rank < 1) {
    throw new BudgetTooSmallError(`mha2mla: ratio ${ratio} leaves no room for a latent after ${ropeNumbers} RoPE channels per token`, { ratio, ropeNumbers });
  }
  return rank;
}

/**
 * MHA2MLA (Ji et al., 2025) as a cache: partial RoPE plus a joint low-rank latent of the RoPE-free
 * key channels and the values, fitted by `fitMha2Mla`. The paper fine-tunes after converting; this
 * runs the converted model without fine-tuning (the quality reported is that of the conversion alone).
 */
export function mha2mla(options: Mha2MlaOptions): CacheLayerFactory {
  const conversion = options?.conversion;
  validateConversion(conversion, 'mha2mla');
  if (options.rank !== undefined && options.ratio !== undefined) throw new InvalidConfigError('mha2mla: give rank or ratio, not both');
  const available = Math.min(...conversion.layers.map((l) => l.latent.basis.cols));
  const rank = Math.min(options.rank ?? mlaRankForRatio(conversion, options.ratio ?? 0.5), available);
  if (!Number.isInteger(rank) || rank < 1) throw new InvalidConfigError(`mha2mla: rank must be a positive integer, got ${options.rank}`);
  const storage = resolveLatentStorage(options.storage, 'mha2mla');
  const initialCapacity = options.initialCapacity ?? 256;
  const plans = new Map<number, MlaLayerPlan>();
  return (spec: LayerSpec) => {
    if (spec.numLayers !== conversion.numLayers || spec.kvHeads !== conversion.kvHeads || spec.headDim !== conversion.headDim) {
      throw new InvalidConfigError(`mha2mla: the conversion is for ${conversion.numLayers} × ${conversion.kvHeads} × ${conversion.headDim}, the model is ${spec.numLayers} × ${spec.kvHeads} × ${spec.headDim}`);
    }
    if (spec.rope.invFreq.length !== conversion.rope.invFreq.length || spec.rope.layout !== conversion.rope.layout) {
      throw new InvalidConfigError("mha2mla: the model's RoPE differs from the one the conversion was fitted with");
    }
    let plan = plans.get(spec.layerIndex);
    if (!plan) {
      plan = layerPlan(conversion, spec.layerIndex, rank, storage, initialCapacity);
      plans.set(spec.layerIndex, plan);
    }
    return new Mha2MlaCacheLayer(spec, plan);
  };
}

function layerPlan(conversion: MlaConversion, layer: number, rank: number, storage: LatentStorage, initialCapacity: number): MlaLayerPlan {
  const { kvHeads, headDim: d } = conversion;
  const fit = conversion.layers[layer];
  const basis = leadingColumns(fit.latent.basis, rank);
  const channels = fit.keptFrequencies.map((kept) => mlaChannels(d, kept, conversion.rope));
  const keyBlocks: Float32Array[] = [];
  const valueBlocks: Float32Array[] = [];
  const basisRow = (r: number) => basis.data.subarray(r * rank, (r + 1) * rank);
  let row = 0; // rows of the joint basis: each head's RoPE-free key channels, then every head's values
  for (let h = 0; h < kvHeads; h++) {
    const block = new Float32Array(d * rank);
    for (const c of channels[h].nope) block.set(basisRow(row++), c * rank);
    keyBlocks.push(block);
  }
  for (let h = 0; h < kvHeads; h++) {
    const block = new Float32Array(d * rank);
    for (let c = 0; c < d; c++) block.set(basisRow(row++), c * rank);
    valueBlocks.push(block);
  }
  return { ropeChannels: channels.map((c) => c.rope), keyBlocks, valueBlocks, rank, storage, initialCapacity };
}

export interface MlaWeights {
  /** Per KV head, the frequency pairs that keep RoPE. */
  keptFrequencies: Int32Array[];
  /** [kvHeads·2f, hidden]: rows of W_k producing the RoPE channels (rotate them with the kept frequencies). */
  keyRope: Matrix;
  /** [r, hidden]: c = W_down·x, the joint latent. */
  down: Matrix;
  /** [kvHeads·headDim, r]: RoPE-free key channels = W_up,k·c (rows of RoPE channels are zero). */
  upKey: Matrix;
  /** [kvHeads·headDim, r]: values = W_up,v·c. */
  upValue: Matrix;
}

/**
 * Folds one layer's conversion into MLA weights (HF layout [out, in]): W_down = Uᵀ[W_k,nope; W_v],
 * the up-projections are U's blocks, and the kept RoPE channels keep their W_k rows.
 */
export function convertMha2Mla(weights: Pick<ProjectionWeights, 'k' | 'v'>, conversion: MlaConversion, layer: number, rank: number): MlaWeights {
  validateConversion(conversion, 'convertMha2Mla');
  if (!Number.isInteger(layer) || layer < 0 || layer >= conversion.numLayers) throw new InvalidConfigError(`convertMha2Mla: layer ${layer} is out of range`);
  const fit = conversion.layers[layer];
  if (!Number.isInteger(rank) || rank < 1 || rank > fit.latent.basis.cols) {
    throw new InvalidConfigError(`convertMha2Mla: rank must be an integer in [1, ${fit.latent.basis.cols}], got ${rank}`);
  }
  const { kvHeads, headDim: d } = conversion;
  const channels = fit.keptFrequencies.map((kept) => mlaChannels(d, kept, conversion.rope));
  const joint = jointWeights(weights, channels.map((c) => c.nope), kvHeads, d, layer);
  const basis = leadingColumns(fit.latent.basis, rank);
  const down = matmulMatrix(basis, joint, { transposeA: true });
  const k = weights.k as Matrix;
  const ropeRows = channels.flatMap((c, h) => c.rope.map((ch) => h * d + ch));
  const keyRope = matrix(ropeRows.length, k.cols);
  ropeRows.forEach((r, i) => keyRope.data.set(k.data.subarray(r * k.cols, (r + 1) * k.cols), i * k.cols));
  const plan = layerPlan(conversion, layer, rank, {}, 1);
  const stack = (blocks: Float32Array[]) => matrix(kvHeads * d, rank, concatArrays(blocks, Float64Array));
  return { keptFrequencies: fit.keptFrequencies.map((x) => Int32Array.from(x)), keyRope, down, upKey: stack(plan.keyBlocks), upValue: stack(plan.valueBlocks) };
}

function validateConversion(conversion: MlaConversion, where: string): void {
  if (!conversion || !Array.isArray(conversion.layers) || conversion.layers.length !== conversion.numLayers) {
    throw new InvalidConfigError(`${where}: a conversion from fitMha2Mla is required`);
  }
  const { kvHeads, headDim: d, ropeFrequencies: f } = conversion;
  const width = kvHeads * (d - 2 * f) + kvHeads * d;
  conversion.layers.forEach((layer, l) => {
    if (layer.keptFrequencies.length !== kvHeads || layer.keptFrequencies.some((k) => k.length !== f || k.some((i) => i < 0 || i >= conversion.rope.invFreq.length))) {
      throw new InvalidConfigError(`${where}: layer ${l} must keep ${f} valid RoPE frequencies per KV head`);
    }
    if (layer.latent.basis.rows !== width) throw new ShapeMismatchError(`${where}: layer ${l}'s latent basis must have ${width} rows, got ${layer.latent.basis.rows}`);
  });
}
