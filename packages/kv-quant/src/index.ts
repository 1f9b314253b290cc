// Cache-layer factories (the methods)
export { type UniformQuantOptions, type QuantAxis, uniformQuant } from './methods/uniform.js';
export { type Fp8Options, fp8 } from './methods/fp8.js';
export { type KiviOptions, KiviLayer, kivi } from './methods/kivi.js';
export { type KvQuantOptions, kvquant } from './methods/kvquant.js';
export { type RotateKvOptions, rotateKV } from './methods/rotatekv.js';
export { type ZipCacheOptions, zipCache } from './methods/zipcache.js';
export { type MixedPrecisionOptions, mixedPrecision } from './methods/mikv.js';
export { type QaqOptions, qaq } from './methods/qaq.js';
export { type CoupledQuantOptions, coupledQuant } from './methods/coupled.js';
export type { CommonQuantOptions } from './methods/options.js';
export { listMethods, methodFromSpec } from './methods/registry.js';

// Evict + quantize: a TokenStore for eviction methods (e.g. @kvkit/kv-evict's `store` option)
export { type QuantizedStoreOptions, type QuantizedStoreSettings, STORE_BITS, quantizedStore } from './store/quantized-store.js';
export { QuantizedTokenStore } from './store/quantized-token-store.js';
// StoreDescriptor is tensor-core's (the shared interface); re-exported for harnesses importing it from here.
export type { StoreDescriptor } from '@kvkit/tensor-core';
export { listStores } from './store/store-registry.js';

// Layers
export { QuantizedCacheLayer, type QuantizedLayerParts } from './layers/quantized-layer.js';
export { MixedPrecisionLayer, type MixedPrecisionParts } from './layers/mixed-precision-layer.js';
export { ChannelRotation, type ChannelRotationOptions } from './layers/channel-rotation.js';
export { type TokenStatistics, type TokenScorer, accumulatedAttention, normalizedAttention } from './scorers/token-scores.js';

// Calibration
export {
  KVCalibration,
  type KVCalibrationInit,
  type KVCalibrationJSON,
  type LayerSamples,
  type LayerSamplesInput,
  CALIBRATION_FORMAT,
} from './calibration/calibration.js';
export { KVCalibrationCollector, type CollectorOptions, type LayerActivations, type ModelLayerEvent } from './calibration/collector.js';
export { fitChannelRanges, fitDatatype, fitCodebooks, outlierAwareOrder } from './calibration/fit.js';
export { CalibrationRequiredError } from './errors.js';

// Quantizers (tensor ops dispatched through tensor-core's kernel registry: CPU everywhere; uniform,
// FP8, LUT and outliers also on CUDA (src/cuda) and WebGPU (src/webgpu), bit-exact with the CPU, picked by the tensors' backend)
export {
  type UniformQuantAttrs,
  type UniformQuantized,
  ASYMMETRIC_BITS,
  SYMMETRIC_BITS,
  quantizeUniform,
  dequantizeUniform,
} from './kernels/uniform.js';
export { type Fp8Attrs, quantizeFp8, dequantizeFp8 } from './kernels/fp8.js';
export { type LutQuantAttrs, type LutQuantized, quantizeLut, dequantizeLut } from './kernels/lut.js';
export { type VectorQuantAttrs, quantizeVector, dequantizeVector } from './kernels/vector.js';
export { type OutlierAttrs, type OutlierSplit, splitOutliers, mergeOutliers } from './kernels/outliers.js';
export { hadamard } from './kernels/hadamard.js';

// Number formats
export { type Fp8Format, FP8_FORMATS, encodeFp8, decodeFp8, fp8Max } from './numeric/fp8.js';
export { type ParamDType, roundDownToParam, roundUpToParam, roundHalfEven } from './numeric/param-dtype.js';
