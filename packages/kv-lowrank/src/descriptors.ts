import { type CacheLayerFactory, InvalidConfigError, type MethodContext, type MethodDescriptor, type MethodParams, type ParamSpec, denseCache, valuesPerWord } from '@kvkit/tensor-core';
import type { LatentStorage } from './cache/latent-store.js';
import type { ProjectionSet } from './fit/projection-set.js';
import { fitHeadMerge, headMerge } from './heads/head-merge.js';
import { calibrationOf, memoizedFit, projectionsFor } from './methods/calibration-context.js';
import { cskv, fitCskv } from './methods/cskv.js';
import { eigenAttention, fitEigenAttention } from './methods/eigen-attention.js';
import type { RankChoice } from './methods/feature-projection.js';
import { fitMatryoshka, matryoshka } from './methods/matryoshka.js';
import { defaultPaluGroup, fitPalu, palu } from './methods/palu.js';
import { fitMha2Mla } from './mla/mha2mla-fit.js';
import { mha2mla } from './mla/mha2mla.js';
import { allocateRanksByEnergy } from './rank/energy-search.js';
import { shadowKV } from './shadowkv/shadowkv.js';
import { cla, kvSharer, planKVSharer } from './sharing/kvsharer.js';

const PACKAGE = '@kvkit/kv-lowrank';

const ratio = (fallback: number, what = 'share of the feature dimension kept'): ParamSpec => ({ name: 'ratio', type: 'number', description: what, default: fallback, min: 0.001, max: 1 });
const rank: ParamSpec = { name: 'rank', type: 'integer', description: 'rank per head group (0: from ratio)', default: 0, min: 0 };
const allocation = (fallback: 'uniform' | 'energy', values: readonly string[] = ['uniform', 'energy', 'given']): ParamSpec => ({
  name: 'allocation',
  type: 'string',
  description: "how ranks are spread: uniform, energy (global budget by eigenvalues), given (calibration.ranks[method], e.g. from searchRanksByKL)",
  default: fallback,
  values,
});
const dtype: ParamSpec = { name: 'dtype', type: 'string', description: 'storage dtype of latents and full-precision windows', default: 'f16', values: ['f16', 'f32'] };
const bits: ParamSpec = { name: 'bits', type: 'integer', description: 'quantize latents to this many bits (0: dense)', default: 0, values: [0, 2, 3, 4, 8] };
const quantGroup: ParamSpec = { name: 'quantGroup', type: 'integer', description: 'latent numbers per quantization group', default: 32, min: 1 };
const hadamard = (fallback: boolean): ParamSpec => ({ name: 'hadamard', type: 'boolean', description: 'Hadamard-rotate latents before quantizing', default: fallback });

function storageOf(p: MethodParams): LatentStorage {
  return { dtype: p.dtype as 'f16' | 'f32', bits: (p.bits as number) || undefined, quantGroup: p.quantGroup as number };
}

/** The rank choice of a feature method from its parameters (rank, ratio, allocation). */
function rankChoice(method: string, p: MethodParams, projections: ProjectionSet, context: MethodContext | undefined): RankChoice {
  if ((p.rank as number) > 0) return { rank: p.rank as number };
  if (p.allocation === 'energy') {
    // Quantized latents pack whole u32 words per group: ranks in multiples of a word's codes waste no bits.
    const step = (p.bits as number) > 0 ? valuesPerWord(p.bits as number) : 1;
    return { ranks: allocateRanksByEnergy(projections, { ratio: p.ratio as number, granularity: 'group', step, minRank: step }) };
  }
  if (p.allocation === 'given') {
    const ranks = calibrationOf(context).ranks?.[method];
    if (!ranks) throw new InvalidConfigError(`${method}: allocation=given needs context.calibration.ranks.${method} (from searchRanksByKL or allocateRanksByEnergy)`);
    return { ranks };
  }
  return { ratio: p.ratio as number };
}

const eigen: MethodDescriptor = {
  name: 'eigen',
  package: PACKAGE,
  description: 'Eigen Attention: per-head PCA of keys+queries and values; attention computed in the low-rank space (Saxena et al. 2024)',
  needsCalibration: true,
  params: [ratio(0.5), rank, allocation('uniform'), dtype, bits, quantGroup, hadamard(false)],
  create(p, context) {
    const projections = projectionsFor('eigen', context, 'eigen', fitEigenAttention);
    return eigenAttention({ projections, ...rankChoice('eigen', p, projections, context), storage: storageOf(p), hadamard: p.hadamard as boolean });
  },
};

const paluMethod: MethodDescriptor = {
  name: 'palu',
  package: PACKAGE,
  description: 'Palu: SVD of W_k/W_v per head group, cached latents rebuilt on the fly (pre-RoPE), optional Hadamard + low-bit latents (Chang et al. 2024)',
  needsCalibration: true,
  params: [ratio(0.5), rank, { name: 'group', type: 'integer', description: 'KV heads per decomposition group (0: up to 4)', default: 0, min: 0 }, allocation('energy'), dtype, bits, quantGroup, hadamard(true)],
  create(p, context) {
    const set = calibrationOf(context).set;
    const group = (p.group as number) || (set ? defaultPaluGroup(set.kvHeads) : 0);
    const projections = projectionsFor('palu', context, `palu:group=${group}`, (s) => fitPalu(s, { groupSize: group }));
    return palu({ projections, ...rankChoice('palu', p, projections, context), ...storageOf(p), hadamard: p.hadamard as boolean });
  },
};

const matryoshkaMethod: MethodDescriptor = {
  name: 'matryoshka',
  package: PACKAGE,
  description: "MatryoshkaKV's PCA variant: nested per-head projections, per-layer/head ranks under a global budget (Lin et al. 2024)",
  needsCalibration: true,
  params: [ratio(0.5, 'share of the whole cache kept'), allocation('energy', ['energy', 'given']), dtype, bits, quantGroup],
  create(p, context) {
    const projections = projectionsFor('matryoshka', context, 'matryoshka', fitMatryoshka);
    const given = p.allocation === 'given' ? rankChoice('matryoshka', p, projections, context).ranks : undefined;
    return matryoshka({ projections, ...(given ? { ranks: given } : { ratio: p.ratio as number }), storage: storageOf(p) });
  },
};

const cskvMethod: MethodDescriptor = {
  name: 'cskv',
  package: PACKAGE,
  description: 'CSKV: channel-shrunk K/V latents (joint PCA of the layer) plus a full-precision window of recent tokens (Wang et al. 2024)',
  needsCalibration: true,
  params: [ratio(0.5), rank, { name: 'window', type: 'integer', description: 'recent tokens kept in full precision', default: 32, min: 0 }, allocation('uniform'), dtype, bits, quantGroup, hadamard(false)],
  create(p, context) {
    const projections = projectionsFor('cskv', context, 'cskv', fitCskv);
    return cskv({ projections, ...rankChoice('cskv', p, projections, context), window: p.window as number, storage: storageOf(p), hadamard: p.hadamard as boolean });
  },
};

const shadowkvMethod: MethodDescriptor = {
  name: 'shadowkv',
  package: PACKAGE,
  description: "ShadowKV's key path: per-sequence low-rank pre-RoPE keys, whole values, chunk landmarks select the tokens rebuilt per step (Sun et al. 2024)",
  params: [
    ratio(0.25, 'key rank as a share of kvHeads·headDim'),
    { name: 'chunk', type: 'integer', description: 'tokens per landmark chunk', default: 8, min: 1 },
    { name: 'budget', type: 'integer', description: 'tokens attended per decode step from the compressed part', default: 128, min: 0 },
    { name: 'outliers', type: 'integer', description: 'chunks per KV head kept with exact keys', default: 2, min: 0 },
    { name: 'window', type: 'integer', description: 'recent tokens kept whole', default: 32, min: 0 },
    dtype,
  ],
  create(p, context) {
    const projections = calibrationOf(context).projections?.shadowkv;
    return shadowKV({
      ratio: p.ratio as number,
      chunk: p.chunk as number,
      budget: p.budget as number,
      outliers: p.outliers as number,
      window: p.window as number,
      dtype: p.dtype as 'f16' | 'f32',
      projections,
    });
  },
};

const headmergeMethod: MethodDescriptor = {
  name: 'headmerge',
  package: PACKAGE,
  description: 'KV-head merging (MHA→GQA): RoPE-aware complex PCA of each group of KV heads into one (Yu et al. 2024)',
  needsCalibration: true,
  params: [{ name: 'group', type: 'integer', description: 'KV heads merged into one', default: 2, min: 1 }, dtype],
  create(p, context) {
    const group = p.group as number;
    const projections = projectionsFor('headmerge', context, `headmerge:group=${group}`, (s) => fitHeadMerge(s, { groupSize: group }));
    return headMerge({ projections, storage: { dtype: p.dtype as 'f16' | 'f32' } });
  },
};

const mha2mlaMethod: MethodDescriptor = {
  name: 'mha2mla',
  package: PACKAGE,
  description: 'MHA2MLA conversion without fine-tuning: partial RoPE + joint K/V latent (Ji et al. 2025)',
  needsCalibration: true,
  params: [
    ratio(0.5, 'share of the dense cache kept (RoPE channels + latent)'),
    { name: 'rope', type: 'integer', description: 'RoPE frequency pairs kept per KV head (0: an eighth)', default: 0, min: 0 },
    { name: 'selection', type: 'string', description: 'which pairs keep RoPE', default: '2-norm', values: ['2-norm', 'high'] },
    { name: 'source', type: 'string', description: 'joint basis from activations (PCA) or weights (SVD)', default: 'activations', values: ['activations', 'weights'] },
    dtype,
    bits,
    quantGroup,
  ],
  create(p, context) {
    const calibration = calibrationOf(context);
    let conversion = calibration.mla;
    if (!conversion) {
      const set = calibration.set;
      if (!set) throw new InvalidConfigError('mha2mla needs calibration: pass context.calibration = a KVCalibrationSet (or { mla } from fitMha2Mla)');
      const options = { ropeFrequencies: (p.rope as number) || undefined, selection: p.selection as '2-norm' | 'high', source: p.source as 'activations' | 'weights' };
      conversion = memoizedFit(set, `mha2mla:${JSON.stringify(options)}`, () => fitMha2Mla(set, options));
    }
    return mha2mla({ conversion, ratio: p.ratio as number, storage: storageOf(p) });
  },
};

const kvsharerMethod: MethodDescriptor = {
  name: 'kvsharer',
  package: PACKAGE,
  description: 'KVSharer: layers with the most dissimilar caches share one (later reads earlier), dense otherwise (Yang et al. 2024)',
  needsCalibration: true,
  params: [{ name: 'ratio', type: 'number', description: 'share of layers that give up their cache', default: 0.25, min: 0, max: 0.99 }, dtype],
  create(p, context): CacheLayerFactory {
    const calibration = calibrationOf(context);
    const base = denseCache({ dtype: p.dtype as 'f16' | 'f32' });
    if (calibration.sharing) return kvSharer({ plan: calibration.sharing, base });
    const set = calibration.set;
    if (!set) throw new InvalidConfigError('kvsharer needs calibration: pass context.calibration = a KVCalibrationSet (or { sharing } from searchKVSharer)');
    const shared = Math.min(set.numLayers - 1, Math.round((p.ratio as number) * set.numLayers));
    return kvSharer({ plan: memoizedFit(set, `kvsharer:${shared}`, () => planKVSharer(set, shared)), base });
  },
};

const claMethod: MethodDescriptor = {
  name: 'cla',
  package: PACKAGE,
  description: 'CLA-style adjacent layer sharing applied post hoc: each run of `factor` layers reads the first one’s cache (Brandon et al. 2024)',
  params: [{ name: 'factor', type: 'integer', description: 'adjacent layers per shared cache', default: 2, min: 1 }, dtype],
  create: (p) => cla({ factor: p.factor as number, base: denseCache({ dtype: p.dtype as 'f16' | 'f32' }) }),
};

/** Every method of @kvkit/kv-lowrank, for harnesses such as kv-bench (`name:key=value:…`). */
export function listMethods(): MethodDescriptor[] {
  return [eigen, paluMethod, matryoshkaMethod, cskvMethod, shadowkvMethod, headmergeMethod, mha2mlaMethod, kvsharerMethod, claMethod];
}
