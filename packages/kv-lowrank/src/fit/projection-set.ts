import { InvalidConfigError, type LayerSpec, type Matrix } from '@kvkit/tensor-core';

/** What a key basis was fitted on. */
export type KeyBasisSource =
  /** PCA of keys after RoPE: attention runs in the latent space (Eigen Attention, MatryoshkaKV). */
  | 'keys-post-rope'
  /** PCA of keys before RoPE: keys are rebuilt and rotated at attention time (CSKV, ShadowKV). */
  | 'keys-pre-rope'
  /** PCA of post-RoPE keys and queries together, each normalized to unit energy (Eigen Attention). */
  | 'keys-queries'
  /** SVD of the key projection weights W_k (Palu): pre-RoPE. */
  | 'weights'
  /** RoPE-commuting (complex) PCA across the heads of a group (KV-head merging). */
  | 'rope-aware-merge';

/** What a value basis was fitted on. */
export type ValueBasisSource = 'values' | 'weights';

/** The fitted basis of one group of KV heads in one layer. */
export interface GroupBasis {
  /**
   * dim × k with orthonormal columns (dim = groupSize·headDim), ordered by decreasing energy, so the
   * first r columns are the best rank-r basis (nested: every rank uses a prefix).
   */
  basis: Matrix;
  /** Energy of each column's direction: eigenvalues of the per-token second moment, or σ² of the weights. */
  spectrum: Float64Array;
  /** Energy over all dim directions (the trace), so captured energy is exact even when k < dim. */
  totalEnergy: number;
}

export interface PartProjections<S extends string = string> {
  source: S;
  /** KV heads per group; groups are contiguous heads [j·groupSize, (j+1)·groupSize). */
  groupSize: number;
  /** layers[layer][group]. */
  layers: GroupBasis[][];
}

/**
 * Fitted projections of a model: one key and one value basis per layer and head group. They save
 * and load (`saveProjections` / `loadProjections`), so calibration runs once per model.
 */
export interface ProjectionSet {
  numLayers: number;
  kvHeads: number;
  headDim: number;
  /** Which keys the cache layers take: post-RoPE bases project rotated keys, pre-RoPE ones rebuild then rotate. */
  keyInput: 'post-rope' | 'pre-rope';
  key: PartProjections<KeyBasisSource>;
  value: PartProjections<ValueBasisSource>;
}

export const KEY_SOURCES: readonly KeyBasisSource[] = ['keys-post-rope', 'keys-pre-rope', 'keys-queries', 'weights', 'rope-aware-merge'];
export const VALUE_SOURCES: readonly ValueBasisSource[] = ['values', 'weights'];

/** Whether keys for a basis source enter the cache before RoPE. */
export function keyInputOf(source: KeyBasisSource): 'post-rope' | 'pre-rope' {
  return source === 'keys-pre-rope' || source === 'weights' ? 'pre-rope' : 'post-rope';
}

/** Groups of a part: kvHeads / groupSize. */
export function groupCount(set: ProjectionSet, part: 'key' | 'value'): number {
  return set.kvHeads / set[part].groupSize;
}

/**
 * Structural checks of a projection set (shapes, orthonormal-basis sizes, finite spectra), so
 * a hand-made or loaded set fails early with InvalidConfigError instead of deep inside a layer.
 */
export function validateProjectionSet(set: ProjectionSet, where: string): void {
  const fail = (message: string): never => {
    throw new InvalidConfigError(`${where}: ${message}`);
  };
  if (!set || typeof set !== 'object') fail('projections are missing');
  for (const key of ['numLayers', 'kvHeads', 'headDim'] as const) {
    if (!Number.isInteger(set[key]) || set[key] <= 0) fail(`projections.${key} must be a positive integer, got ${set[key]}`);
  }
  if (set.keyInput !== 'post-rope' && set.keyInput !== 'pre-rope') fail(`projections.keyInput must be 'post-rope' or 'pre-rope'`);
  if (!KEY_SOURCES.includes(set.key?.source)) fail(`unknown key basis source ${String(set.key?.source)}`);
  if (!VALUE_SOURCES.includes(set.value?.source)) fail(`unknown value basis source ${String(set.value?.source)}`);
  if (keyInputOf(set.key.source) !== set.keyInput) fail(`key basis source ${set.key.source} needs keyInput ${keyInputOf(set.key.source)}`);
  for (const part of ['key', 'value'] as const) {
    const { groupSize, layers } = set[part];
    if (!Number.isInteger(groupSize) || groupSize <= 0 || set.kvHeads % groupSize !== 0) {
      fail(`${part} groupSize must divide kvHeads=${set.kvHeads}, got ${groupSize}`);
    }
    if (!Array.isArray(layers) || layers.length !== set.numLayers) fail(`${part} bases must list ${set.numLayers} layers`);
    const dim = groupSize * set.headDim;
    layers.forEach((groups, l) => {
      if (!Array.isArray(groups) || groups.length !== set.kvHeads / groupSize) fail(`${part} layer ${l} must have ${set.kvHeads / groupSize} groups`);
      groups.forEach((g, j) => {
        const at = `${part} basis of layer ${l} group ${j}`;
        if (!g?.basis || g.basis.rows !== dim || g.basis.cols < 1 || g.basis.cols > dim || g.basis.data.length !== dim * g.basis.cols) {
          fail(`${at} must be ${dim} × k (1 ≤ k ≤ ${dim})`);
        }
        if (!(g.spectrum instanceof Float64Array) || g.spectrum.length !== g.basis.cols) fail(`${at}: spectrum must have ${g.basis.cols} values`);
        if (!(g.totalEnergy >= 0) || !Number.isFinite(g.totalEnergy)) fail(`${at}: totalEnergy must be a finite number >= 0`);
        for (const x of g.basis.data) if (!Number.isFinite(x)) fail(`${at} has a non-finite entry`);
        for (const x of g.spectrum) if (!Number.isFinite(x) || x < 0) fail(`${at}: spectrum values must be finite and >= 0`);
      });
    });
  }
}

/** Throws InvalidConfigError unless the projections were fitted for a model of this shape. */
export function assertProjectionsFit(set: ProjectionSet, spec: LayerSpec, where: string): void {
  if (set.kvHeads !== spec.kvHeads || set.headDim !== spec.headDim || set.numLayers !== spec.numLayers) {
    throw new InvalidConfigError(
      `${where}: the projections were fitted for ${set.numLayers} layers × ${set.kvHeads} KV heads × headDim ${set.headDim}, ` +
        `but the model has ${spec.numLayers} × ${spec.kvHeads} × ${spec.headDim}`,
    );
  }
}
