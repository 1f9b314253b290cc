// Calibration
export {
  type CalibrationActivations,
  type ActivationKind,
  type ProjectionWeights,
  type WeightInput,
  type ModelShape,
  type KVCalibrationOptions,
  type CalibrationSetJson,
  KVCalibrationSet,
} from './calibration/calibration-set.js';

// Fitting
export {
  type KeyBasisSource,
  type ValueBasisSource,
  type GroupBasis,
  type PartProjections,
  type ProjectionSet,
  validateProjectionSet,
  keyInputOf,
} from './fit/projection-set.js';
export { type FitOptions, fitProjections, groupSamples } from './fit/fit-projections.js';
export { type DirectionOptions, secondMoment, principalDirections, leftSingularDirections } from './fit/principal-directions.js';
export { capturedEnergy, rankForEnergy } from './fit/energy.js';
export { blockHadamard, rotateBasis } from './fit/hadamard.js';

// Rank search
export { type RankAllocation, uniformAllocation, fixedRankAllocation, allocationCost, fullCost, validateAllocation } from './rank/allocation.js';
export { type RankGranularity, type RankUnit, rankUnits, budgetFor } from './rank/units.js';
export { type EnergySearchOptions, allocateRanksByEnergy } from './rank/energy-search.js';
export { type KLSearchOptions, type KLSearchResult, type UnitSensitivity, searchRanksByKL } from './rank/kl-search.js';

// Cache layers
export { type LatentStorage, type LatentStore } from './cache/latent-store.js';
export { type LowRankLayerPlan, LowRankCacheLayer } from './cache/low-rank-layer.js';
export { type LatentOperand, type DirectOperand, lowRankHeadAttention } from './attention/latent-attention.js';

// Methods
export { type RankChoice, type FeatureProjectionOptions, featureProjectionCache } from './methods/feature-projection.js';
export { type EigenAttentionOptions, eigenAttention, fitEigenAttention } from './methods/eigen-attention.js';
export { type PaluOptions, palu, fitPalu, paluFactors, defaultPaluGroup } from './methods/palu.js';
export { type MatryoshkaOptions, matryoshka, fitMatryoshka } from './methods/matryoshka.js';
export { type CskvOptions, cskv, fitCskv } from './methods/cskv.js';

// Save / load
export { type EncodeProjectionOptions, type EncodedProjections, type ProjectionSidecar, encodeProjections, decodeProjections, saveProjections, loadProjections } from './io/projection-files.js';

// Other methods
export { type ShadowKVOptions, shadowKV } from './shadowkv/shadowkv.js';
export { type ShadowKVPlan, ShadowKVCacheLayer } from './shadowkv/shadowkv-layer.js';
export { type HeadMergeFitOptions, type HeadMergeOptions, fitHeadMerge, headMerge, convertHeadMerge, ropeAwareMergeBasis } from './heads/head-merge.js';
export { ropePairs } from './heads/rope-pairs.js';
export { type Mha2MlaFitOptions, type MlaLayerFit, type MlaConversion, fitMha2Mla, mlaChannels } from './mla/mha2mla-fit.js';
export { type Mha2MlaOptions, type MlaWeights, mha2mla, convertMha2Mla, mlaRankForRatio } from './mla/mha2mla.js';
export { type MlaLayerPlan, Mha2MlaCacheLayer } from './mla/mha2mla-layer.js';
export { type SharingPlan, validateSharingPlan, sharedLayerCount, sharedLayers, SharedKVLayer } from './sharing/shared-layers.js';
export { type KVSharerOptions, type KVSharerResult, layerDistances, searchKVSharer, planKVSharer, kvSharer, claPlan, cla } from './sharing/kvsharer.js';

// Harness integration
export { type LowRankCalibration } from './methods/calibration-context.js';
export { listMethods } from './descriptors.js';
