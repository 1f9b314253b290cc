import { type CacheLayerFactory, type CacheMethod, InvalidConfigError } from '@kvkit/tensor-core';
import type { KVCalibrationSet } from '../calibration/calibration-set.js';
import { type SharingPlan, sharedLayers, validateSharingPlan } from './shared-layers.js';

/**
 * Distance between every two layers' caches on the calibration tokens:
 * sqrt(mean over tokens of ‖[k; v]_i − [k; v]_j‖²) over all KV heads (keys after RoPE when the set has
 * them). Row-major numLayers × numLayers, symmetric, zero diagonal.
 */
export function layerDistances(set: KVCalibrationSet): Float64Array {
  const L = set.numLayers;
  const n = set.tokens(0);
  for (let l = 1; l < L; l++) {
    if (set.tokens(l) !== n) throw new InvalidConfigError(`layerDistances: layer ${l} holds ${set.tokens(l)} tokens but layer 0 holds ${n}; layers must see the same tokens`);
  }
  if (n === 0) throw new InvalidConfigError('layerDistances: the calibration set is empty');
  const keyKind = set.has('key') ? 'key' : 'keyPreRope';
  const caches = Array.from({ length: L }, (_, l) => [set.samples(l, keyKind), set.samples(l, 'value')]);
  const out = new Float64Array(L * L);
  for (let i = 0; i < L; i++) {
    for (let j = i + 1; j < L; j++) {
      let sum = 0;
      for (let part = 0; part < 2; part++) {
        const a = caches[i][part];
        const b = caches[j][part];
        for (let x = 0; x < a.length; x++) sum += (a[x] - b[x]) ** 2;
      }
      out[i * L + j] = out[j * L + i] = Math.sqrt(sum / n);
    }
  }
  return out;
}

export interface KVSharerOptions {
  /** Layers that give up their own cache (default: a quarter of the layers). */
  shared?: number;
  /**
   * Checks a candidate plan on calibration data and returns a loss (e.g. KL to the unshared model, or
   * 1 − cosine similarity of the last hidden states, the paper's check); a candidate is kept when the
   * loss is at most `threshold`. Without it, candidates are taken in dissimilarity order unchecked.
   */
  evaluate?: (plan: SharingPlan) => number | Promise<number>;
  threshold?: number;
}

export interface KVSharerResult {
  plan: SharingPlan;
  distances: Float64Array;
  /** [source, consumer] pairs kept, in the order they were accepted. */
  pairs: [number, number][];
  evaluations: number;
}

/**
 * KVSharer (Yang et al., 2024): layer pairs are tried from the most dissimilar caches to the least
 * (the paper's counter-intuitive finding: sharing dissimilar caches hurts least); the later layer of a
 * pair reads the earlier one's cache, provided the earlier one keeps its own and the later one is not
 * a source. Each candidate can be checked with `evaluate`; the search stops at `shared` layers.
 */
export async function searchKVSharer(set: KVCalibrationSet, options: KVSharerOptions = {}): Promise<KVSharerResult> {
  const shared = sharedCount(set.numLayers, options.shared);
  if (options.evaluate && !Number.isFinite(options.threshold)) throw new InvalidConfigError('KVSharer: evaluate needs a finite threshold');
  const distances = layerDistances(set);
  const sourceOf = Array.from({ length: set.numLayers }, (_, l) => l);
  const pairs: [number, number][] = [];
  let evaluations = 0;
  for (const [source, consumer] of dissimilarFirst(distances, set.numLayers)) {
    if (pairs.length === shared) break;
    if (!canShare(sourceOf, source, consumer)) continue;
    const trial = [...sourceOf];
    trial[consumer] = source;
    if (options.evaluate) {
      evaluations++;
      const loss = await options.evaluate({ sourceOf: trial });
      if (!Number.isFinite(loss)) throw new InvalidConfigError(`KVSharer: evaluate returned ${loss}; it must return a finite loss`);
      if (loss > (options.threshold as number)) continue;
    }
    sourceOf[consumer] = source;
    pairs.push([source, consumer]);
  }
  return { plan: { sourceOf }, distances, pairs, evaluations };
}

/** The sharing plan by dissimilarity alone (no check): `searchKVSharer` without `evaluate`, synchronously. */
export function planKVSharer(set: KVCalibrationSet, shared?: number): SharingPlan {
  const count = sharedCount(set.numLayers, shared);
  const sourceOf = Array.from({ length: set.numLayers }, (_, l) => l);
  let taken = 0;
  for (const [source, consumer] of dissimilarFirst(layerDistances(set), set.numLayers)) {
    if (taken === count) break;
    if (!canShare(sourceOf, source, consumer)) continue;
    sourceOf[consumer] = source;
    taken++;
  }
  return { sourceOf };
}

function sharedCount(numLayers: number, shared: number | undefined): number {
  const count = shared ?? Math.floor(numLayers / 4);
  if (!Number.isInteger(count) || count < 0 || count >= numLayers) throw new InvalidConfigError(`KVSharer: shared must be an integer in [0, ${numLayers - 1}], got ${count}`);
  return count;
}

/** Every pair (earlier, later) of layers, most distant caches first. */
function dissimilarFirst(distances: Float64Array, L: number): [number, number][] {
  const candidates: [number, number][] = [];
  for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) candidates.push([i, j]);
  return candidates.sort((a, b) => distances[b[0] * L + b[1]] - distances[a[0] * L + a[1]] || a[0] - b[0] || a[1] - b[1]);
}

/** The later layer may read the earlier one's cache: both still own theirs and nobody reads the later one. */
function canShare(sourceOf: readonly number[], source: number, consumer: number): boolean {
  if (sourceOf[consumer] !== consumer || sourceOf[source] !== source) return false;
  return !sourceOf.some((s, l) => s === consumer && l !== consumer);
}

/** KVSharer's cache: `plan` (from `searchKVSharer` / `planKVSharer`) over `base` layers (dense by default). */
export function kvSharer(options: { plan: SharingPlan; base?: CacheMethod }): CacheLayerFactory {
  validateSharingPlan(options?.plan, options?.plan?.sourceOf?.length ?? 0, 'kvsharer');
  return sharedLayers(options.plan, options.base);
}

/**
 * Cross-Layer Attention's sharing pattern (Brandon et al., 2024) as the post-hoc baseline: each run
 * of `factor` adjacent layers reads the first one's cache (the paper trains for it; here the pattern
 * is applied to a model as is).
 */
export function claPlan(numLayers: number, factor = 2): SharingPlan {
  if (!Number.isInteger(numLayers) || numLayers < 1) throw new InvalidConfigError(`cla: numLayers must be a positive integer, got ${numLayers}`);
  if (!Number.isInteger(factor) || factor < 1) throw new InvalidConfigError(`cla: factor must be a positive integer, got ${factor}`);
  return { sourceOf: Array.from({ length: numLayers }, (_, l) => l - (l % factor)) };
}

/** CLA-style adjacent sharing for any model: the plan is made from the model's layer count when layer 0 is built. */
export function cla(options: { factor?: number; base?: CacheMethod } = {}): CacheLayerFactory {
  const factor = options.factor ?? 2;
  claPlan(1, factor); // checks factor now rather than at the first cache
  let inner: CacheLayerFactory | undefined;
  return (spec) => {
    if (spec.layerIndex === 0) inner = sharedLayers(claPlan(spec.numLayers, factor), options.base);
    if (!inner) throw new InvalidConfigError('cla: layers must be built in order, starting at layer 0');
    return inner(spec);
  };
}
