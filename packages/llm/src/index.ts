export { loadModel, type LoadModelOptions, type LoadProgress } from './load-model.js';
export { LlamaModel, type ForwardOptions, type BatchItem, type BatchForwardOptions } from './model.js';
export { defaultCacheMethod } from './default-cache.js';
export type { LayerActivations } from './decoder-layer.js';
export { type LlamaConfig, type ModelType, SUPPORTED_MODEL_TYPES, SUPPORTED_ROPE_TYPES, layerWindow, parseModelConfig } from './config.js';
export type { MoeConfig } from './moe-config.js';
export { LlamaTokenizer, loadTokenizer, type EncodeOptions, type DecodeOptions } from './tokenizer.js';
export { ChatTemplates, type ChatMessage, type ChatTemplateOptions } from './chat-template.js';
export { ChatSession, type ChatSessionOptions, type ChatReply } from './chat-session.js';
export { type ModelSource, type ModelFiles, type RandomAccessFile, openModelSource } from './model-source.js';
// The safetensors format lives in @kvkit/tensor-core (kv-lowrank writes it too); re-exported under llm's names.
export {
  parseSafetensors,
  safetensorsHeaderLength,
  parseSafetensorsHeader,
  readSafetensorsFloat32 as readFloat32,
  decodeSafetensorsFloat32 as decodeFloat32,
  serializeSafetensors,
  type SafetensorsHeader,
  type SafetensorsFile,
  type SafetensorsEntry,
  type SafetensorsInput,
  SAFETENSORS_FLOAT_DTYPES as SUPPORTED_WEIGHT_DTYPES,
} from '@kvkit/tensor-core';
export { parseShardIndex, type ShardIndex, SHARD_INDEX_FILE } from './safetensors-index.js';
export { generate, generateBatch, type GenerateOptions, type GenerateResult, type StopReason, type TokenEvent } from './generate.js';
export { streamGenerate, type GenerationStream } from './generation-stream.js';
export { type TokenLogprob, tokenLogprob } from './token-logprobs.js';
export { Sampler, argmax, type SamplingOptions } from './sampler.js';
export { StopCriteria } from './stop-criteria.js';
