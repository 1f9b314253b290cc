export { loadModel, type LoadModelOptions } from './load-model.js';
export { LlamaModel, type ForwardOptions, type BatchItem, type BatchForwardOptions } from './model.js';
export type { LayerActivations } from './decoder-layer.js';
export { type LlamaConfig, type ModelType, SUPPORTED_MODEL_TYPES, SUPPORTED_ROPE_TYPES, parseModelConfig } from './config.js';
export { LlamaTokenizer, loadTokenizer, type EncodeOptions, type DecodeOptions } from './tokenizer.js';
export { type ModelSource, type ModelFiles, type RandomAccessFile, openModelSource } from './model-source.js';
export {
  parseSafetensors,
  safetensorsHeaderLength,
  parseSafetensorsHeader,
  readFloat32,
  decodeFloat32,
  serializeSafetensors,
  type SafetensorsHeader,
  type SafetensorsFile,
  type SafetensorsEntry,
  type SafetensorsInput,
  SUPPORTED_WEIGHT_DTYPES,
} from './safetensors.js';
export { parseShardIndex, type ShardIndex, SHARD_INDEX_FILE } from './safetensors-index.js';
export { generate, generateBatch, type GenerateOptions, type GenerateResult, type StopReason, type TokenEvent } from './generate.js';
export { Sampler, argmax, type SamplingOptions } from './sampler.js';
export { StopCriteria } from './stop-criteria.js';
