import type { CacheLayerFactory, MethodContext, MethodDescriptor, MethodParams, ParamSpec } from '@kvkit/tensor-core';
import type { GqaReduce } from './gqa.js';
import type { TriggerOptions } from './layer/trigger.js';
import { chunkKV } from './methods/chunkkv.js';
import { clusterKV } from './methods/clusterkv.js';
import { fastGen } from './methods/fastgen.js';
import { dynamicKV, pyramidKV, squeezeAttention, zigzagKV } from './methods/layer-allocated.js';
import { d2o, ems, kvMerger } from './methods/merging-methods.js';
import { miniCache } from './methods/minicache.js';
import type { CommonOptions } from './methods/options.js';
import { razorAttention } from './methods/razor-attention.js';
import { SCORER_NAMES, type ScorerName, type ScorerOptions, streamingLLM } from './methods/scored-methods.js';
import { a2sf, h2o, l2norm, snapKV, tova } from './methods/scorer-methods.js';
import type { RetrievalHeadProfile } from './razor/retrieval-heads.js';
import type { Pooling } from './scoring/pooling.js';
import type { HeadAllocation } from './selection/head-budgets.js';
import { raggedDenseStore } from './storage/ragged-dense-store.js';
import type { TokenStoreFactory } from '@kvkit/tensor-core';

const PACKAGE = '@kvkit/kv-evict';

/**
 * What a harness may pass to kv-evict's `create(params, context)` besides the parameters.
 * - `store`: the per-head storage of kept tokens — pass a quantized store from kv-quant to run
 *   evict + quantize (it replaces the `dtype` parameter).
 * - `tokenClasses`: special and punctuation token ids for FastGen (`tokenClassesFromVocabulary`).
 * - `retrievalProfile`: RazorAttention's probe profile (`profileRetrievalHeads`); without it Razor
 *   profiles each prompt itself.
 */
export interface EvictMethodContext extends MethodContext {
  store?: TokenStoreFactory;
  tokenClasses?: { special?: ArrayLike<number>; punctuation?: ArrayLike<number> };
  retrievalProfile?: RetrievalHeadProfile;
}

const budget = (fallback = 0.25): ParamSpec => ({
  name: 'budget',
  type: 'number',
  description: 'tokens kept per head: a fraction (0, 1] of the tokens seen, or a whole number > 1',
  default: fallback,
  min: 0,
});
const sinks = (fallback: number): ParamSpec => ({ name: 'sinks', type: 'integer', description: 'first tokens always kept', default: fallback, min: 0 });
const recent = (fallback?: number): ParamSpec => ({
  name: 'recent',
  type: 'number',
  description: 'recent tokens always kept: a count, or a fraction (0, 1) of the budget' + (fallback === undefined ? ' (default: the observation window)' : ''),
  ...(fallback !== undefined ? { default: fallback } : {}),
  min: 0,
});
/** A number in [0, 1]. */
const share = (name: string, description: string, fallback: number): ParamSpec => ({ name, type: 'number', description, default: fallback, min: 0, max: 1 });
const COMMON: ParamSpec[] = [
  { name: 'heads', type: 'string', description: 'split of a layer budget over KV heads (adaptive = Ada-KV)', default: 'uniform', values: ['uniform', 'adaptive'] },
  { name: 'gqa', type: 'string', description: 'score aggregation over a query group', default: 'mean', values: ['mean', 'max'] },
  { name: 'phases', type: 'string', description: 'when to compress', default: 'both', values: ['prefill', 'decode', 'both'] },
  { name: 'interval', type: 'integer', description: 'while decoding, compress every this many steps', default: 1, min: 1 },
  { name: 'dtype', type: 'string', description: 'storage dtype of kept K/V (ignored when the harness passes a store)', default: 'f16', values: ['f16', 'f32'] },
];
const SCORER_PARAMS: ParamSpec[] = [
  { name: 'observationWindow', type: 'integer', description: 'queries in the observation window (snapkv, globallocal)', default: 32, min: 1 },
  { name: 'kernel', type: 'integer', description: 'SnapKV pooling kernel (odd)', default: 5, min: 1 },
  { name: 'pooling', type: 'string', description: 'SnapKV pooling', default: 'avg', values: ['avg', 'max', 'none'] },
  share('decay', 'A2SF forgetting factor', 0.9),
];
const scorerChoice = (fallback: ScorerName): ParamSpec => ({ name: 'scorer', type: 'string', description: 'token scorer the method wraps', default: fallback, values: [...SCORER_NAMES] });

/** Shared options from resolved parameters. */
function common(p: MethodParams, context: EvictMethodContext | undefined): CommonOptions {
  const trigger: TriggerOptions = { phases: p.phases as TriggerOptions['phases'], interval: p.interval as number };
  return {
    ...(p.sinks !== undefined ? { sinks: p.sinks as number } : {}),
    ...(p.recent !== undefined ? { recent: p.recent as number } : {}),
    heads: (p.heads as HeadAllocation | undefined) ?? 'uniform',
    gqa: (p.gqa as GqaReduce | undefined) ?? 'mean',
    trigger,
    store: context?.store ?? raggedDenseStore({ dtype: (p.dtype as 'f16' | 'f32' | undefined) ?? 'f16' }),
  };
}

function scorerOptions(p: MethodParams): ScorerOptions {
  return {
    observationWindow: p.observationWindow as number | undefined,
    kernel: p.kernel as number | undefined,
    pooling: p.pooling as Pooling | undefined,
    decay: p.decay as number | undefined,
  };
}

/** `takesStore`: every kv-evict method keeps its tokens in `context.store` when given one (harnesses compose method+store). */
function describe(
  name: string,
  description: string,
  params: ParamSpec[],
  create: (p: MethodParams, c?: EvictMethodContext) => CacheLayerFactory,
): MethodDescriptor {
  return { name, package: PACKAGE, description, params, takesStore: true, create: (p, c) => create(p, c as EvictMethodContext | undefined) };
}

/** Every kv-evict method, for harnesses such as kv-bench (`name:key=value:…`). */
export function listMethods(): MethodDescriptor[] {
  return [
    describe('streaming', 'StreamingLLM: attention sinks + a recent window (Xiao et al., 2024)', [budget(), sinks(4), ...COMMON], (p, c) =>
      streamingLLM({ ...common(p, c), budget: p.budget as number, recent: 0 }),
    ),
    describe('h2o', 'H2O: heavy hitters by accumulated attention + recent tokens (Zhang et al., 2023)', [budget(), sinks(0), recent(0.5), ...COMMON], (p, c) =>
      h2o({ ...common(p, c), budget: p.budget as number }),
    ),
    describe(
      'a2sf',
      'A2SF: accumulated attention with a forgetting factor (Jo & Shin, 2024)',
      [budget(), sinks(0), recent(0.5), share('decay', 'forgetting factor λ', 0.9), ...COMMON],
      (p, c) => a2sf({ ...common(p, c), budget: p.budget as number, decay: p.decay as number }),
    ),
    describe(
      'l2norm',
      'L2-norm: keep the keys with the lowest norm, no attention needed (Devoto et al., 2024)',
      [budget(), sinks(0), recent(0), { name: 'skipLayers', type: 'integer', description: 'first layers left uncompressed', default: 2, min: 0 }, ...COMMON],
      (p, c) => l2norm({ ...common(p, c), budget: p.budget as number, skipLayers: p.skipLayers as number }),
    ),
    describe('snapkv', 'SnapKV: observation-window attention, pooled (Li et al., 2024)', [budget(), sinks(0), recent(), ...SCORER_PARAMS.slice(0, 3), ...COMMON], (p, c) =>
      snapKV({ ...common(p, c), ...scorerOptions(p), budget: p.budget as number }),
    ),
    describe('tova', "TOVA: keep what the current query attends to (Oren et al., 2024)", [budget(), sinks(0), recent(0), ...COMMON], (p, c) =>
      tova({ ...common(p, c), budget: p.budget as number }),
    ),
    describe(
      'fastgen',
      'FastGen: per-head policy (special, punctuation, heavy hitters, local, full) from prompt profiling (Ge et al., 2024); special/punctuation ids from context.tokenClasses',
      [
        share('threshold', 'share of a head’s prompt attention its policy must recover', 0.95),
        share('localRatio', 'local window share of the tokens seen', 0.3),
        share('frequencyRatio', 'heavy-hitter share of the tokens seen', 0.3),
        sinks(1),
        ...COMMON.filter((s) => s.name !== 'heads'),
      ],
      (p, c) =>
        fastGen({
          ...common(p, c),
          threshold: p.threshold as number,
          localRatio: p.localRatio as number,
          frequencyRatio: p.frequencyRatio as number,
          specialTokenIds: c?.tokenClasses?.special,
          punctuationTokenIds: c?.tokenClasses?.punctuation,
        }),
    ),
    describe(
      'razor',
      'RazorAttention: full cache for retrieval heads, sinks + window + a compensation token for the rest (Tang et al., 2024)',
      [
        { ...budget(0.2), description: 'tokens a non-retrieval head keeps (sinks + window): fraction of the tokens seen or a count' },
        sinks(4),
        share('echoShare', 'share of heads kept as echo heads', 0.01),
        share('inductionShare', 'share of heads kept as induction heads', 0.14),
        { name: 'compensation', type: 'boolean', description: 'summarize dropped tokens in a compensation token', default: true },
        { name: 'gqa', type: 'string', description: 'echo/induction aggregation over a query group', default: 'max', values: ['mean', 'max'] },
        ...COMMON.filter((s) => s.name !== 'heads' && s.name !== 'gqa'),
      ],
      (p, c) =>
        razorAttention({
          ...common(p, c),
          gqa: p.gqa as GqaReduce,
          budget: p.budget as number,
          echoShare: p.echoShare as number,
          inductionShare: p.inductionShare as number,
          compensation: p.compensation as boolean,
          profile: c?.retrievalProfile,
        }),
    ),
    describe(
      'chunkkv',
      'ChunkKV: keep or drop contiguous chunks, with layer-wise index reuse (Liu et al., 2025)',
      [
        budget(),
        { name: 'chunk', type: 'integer', description: 'tokens per chunk', default: 10, min: 1 },
        { name: 'reuse', type: 'integer', description: 'layers sharing one selection (1 = no reuse)', default: 1, min: 1 },
        scorerChoice('snapkv'),
        sinks(0),
        recent(),
        ...SCORER_PARAMS,
        ...COMMON,
      ],
      (p, c) => chunkKV({ ...common(p, c), ...scorerOptions(p), budget: p.budget as number, chunk: p.chunk as number, reuse: p.reuse as number, scorer: p.scorer as ScorerName }),
    ),
    describe(
      'kvmerger',
      'KVMerger: merge dropped tokens into similar consecutive kept ones with Gaussian-kernel weights (Wang et al., 2024)',
      [
        budget(),
        { name: 'threshold', type: 'number', description: 'adjacent-key cosine that chains a merging set', default: 0.8, min: -1, max: 1 },
        { name: 'sigma', type: 'number', description: 'Gaussian bandwidth (0 = RMS distance in the set)', default: 0, min: 0 },
        scorerChoice('h2o'),
        sinks(0),
        recent(0.5),
        ...SCORER_PARAMS,
        ...COMMON,
      ],
      (p, c) => kvMerger({ ...common(p, c), ...scorerOptions(p), budget: p.budget as number, threshold: p.threshold as number, sigma: p.sigma as number, scorer: p.scorer as ScorerName }),
    ),
    describe(
      'd2o',
      'D2O: layer budgets from attention density, evicted tokens recalled and merged past an EMA threshold (Wan et al., 2024)',
      [
        budget(),
        share('beta', 'EMA factor of the merge threshold', 0.9),
        share('floor', 'share of the budget every layer keeps', 0.2),
        sinks(0),
        recent(0.5),
        ...COMMON,
      ],
      (p, c) => d2o({ ...common(p, c), budget: p.budget as number, beta: p.beta as number, floor: p.floor as number }),
    ),
    describe(
      'ems',
      'EMS: Global-Local scores, head-wise budgets, evict then merge (Li et al., 2024)',
      [
        budget(),
        share('evict', 'share of the overflow dropped; the rest is merged', 0.5),
        { name: 'observationWindow', type: 'integer', description: 'queries of the local score', default: 32, min: 1 },
        sinks(0),
        recent(),
        ...COMMON.map((s) => (s.name === 'heads' ? { ...s, default: 'adaptive' } : s)),
      ],
      (p, c) => ems({ ...common(p, c), heads: p.heads as HeadAllocation, budget: p.budget as number, evict: p.evict as number, observationWindow: p.observationWindow as number }),
    ),
    describe(
      'clusterkv',
      'ClusterKV: keep every token, attend to the key clusters nearest the query under a token budget (Liu et al., 2024)',
      [
        { ...budget(), description: 'tokens attention reads per step: fraction of the tokens seen or a count' },
        sinks(4),
        { name: 'recent', type: 'integer', description: 'recent tokens always read', default: 32, min: 0 },
        { name: 'clusterSize', type: 'integer', description: 'mean tokens per cluster', default: 16, min: 1 },
        { name: 'interval', type: 'integer', description: 'old tokens clustered in batches of at least this many', default: 32, min: 1 },
        { name: 'iterations', type: 'integer', description: 'k-means iterations', default: 10, min: 1 },
        { name: 'seed', type: 'integer', description: 'k-means seed', default: 0, min: 0 },
        { name: 'gqa', type: 'string', description: 'cluster score aggregation over a query group', default: 'mean', values: ['mean', 'max'] },
        { name: 'dtype', type: 'string', description: 'storage dtype of the token tier', default: 'f16', values: ['f16', 'f32'] },
      ],
      (p, c) =>
        clusterKV({
          budget: p.budget as number,
          sinks: p.sinks as number,
          recent: p.recent as number,
          clusterSize: p.clusterSize as number,
          interval: p.interval as number,
          iterations: p.iterations as number,
          seed: p.seed as number,
          gqa: p.gqa as GqaReduce,
          store: c?.store ?? raggedDenseStore({ dtype: p.dtype as 'f16' | 'f32' }),
        }),
    ),
    describe(
      'pyramidkv',
      'PyramidKV: layer budgets falling linearly with depth, over any scorer (Cai et al., 2024)',
      [budget(), scorerChoice('snapkv'), { name: 'beta', type: 'number', description: 'max/min budget ratio parameter β', default: 20, min: 1 }, sinks(0), recent(), ...SCORER_PARAMS, ...COMMON],
      (p, c) => pyramidKV({ ...common(p, c), ...scorerOptions(p), budget: p.budget as number, scorer: p.scorer as ScorerName, beta: p.beta as number }),
    ),
    describe(
      'squeeze',
      'SqueezeAttention: layer budgets from hidden-state cosine similarity, over any scorer (Wang et al., 2024); needs the runtime hook (else uniform)',
      [budget(), scorerChoice('h2o'), share('squeeze', 'budget share of the least important layer group', 0.5), sinks(0), recent(0.5), ...SCORER_PARAMS, ...COMMON],
      (p, c) => squeezeAttention({ ...common(p, c), ...scorerOptions(p), budget: p.budget as number, scorer: p.scorer as ScorerName, squeeze: p.squeeze as number }),
    ),
    describe(
      'dynamickv',
      'DynamicKV: task-adaptive layer budgets from a global top-k of scores, reallocated periodically (Zhou et al., 2024)',
      [
        budget(),
        scorerChoice('snapkv'),
        { name: 'layerInterval', type: 'integer', description: 'reallocate among the layers seen every this many layers (0 = end of pass)', default: 4, min: 0 },
        { name: 'reallocateEvery', type: 'integer', description: 'reallocate every this many decode steps (0 = never)', default: 0, min: 0 },
        { name: 'maxWeight', type: 'number', description: 'largest layer budget as a multiple of the uniform one', default: 3, min: 1 },
        sinks(0),
        recent(),
        ...SCORER_PARAMS,
        ...COMMON,
      ],
      (p, c) =>
        dynamicKV({
          ...common(p, c),
          ...scorerOptions(p),
          budget: p.budget as number,
          scorer: p.scorer as ScorerName,
          layerInterval: p.layerInterval as number,
          reallocateEvery: p.reallocateEvery as number,
          maxWeight: p.maxWeight as number,
        }),
    ),
    describe(
      'zigzag',
      'ZigZagKV: layer budgets from layer uncertainty (tokens needed for a share of attention), over any scorer (Zhong et al., 2024)',
      [
        budget(),
        scorerChoice('snapkv'),
        share('mass', 'attention share the uncertainty measures', 0.9),
        share('floor', 'share of the budget every layer keeps', 0.2),
        sinks(0),
        recent(),
        ...SCORER_PARAMS,
        ...COMMON,
      ],
      (p, c) => zigzagKV({ ...common(p, c), ...scorerOptions(p), budget: p.budget as number, scorer: p.scorer as ScorerName, mass: p.mass as number, floor: p.floor as number }),
    ),
    describe(
      'minicache',
      'MiniCache: merge adjacent layers per token (shared SLERP directions, own norms, distinct tokens kept) (Liu et al., 2024)',
      [
        share('start', 'first merged layer as a share of the depth', 0.5),
        share('t', 'SLERP interpolation factor', 0.6),
        share('retain', 'share of the most distinct tokens kept unmerged', 0.05),
        { name: 'dtype', type: 'string', description: 'storage dtype', default: 'f16', values: ['f16', 'f32'] },
      ],
      (p, c) => miniCache({ start: p.start as number, t: p.t as number, retain: p.retain as number, store: c?.store ?? raggedDenseStore({ dtype: p.dtype as 'f16' | 'f32' }) }),
    ),
  ];
}
