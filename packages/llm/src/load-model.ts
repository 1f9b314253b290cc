import { type Backend, backendOf, InvalidConfigError, resolveBackend } from '@kvkit/tensor-core';
import { parseModelConfig } from './config.js';
import { LlamaModel } from './model.js';
import { type ModelSource, openModelSource, parseJson, requireFile } from './model-source.js';
import { loadTokenizer } from './tokenizer.js';
import { loadWeights } from './weights.js';

export interface LoadModelOptions {
  /** A backend, or the name of a registered one (initialized here); default: the default backend (CPU). */
  backend?: Backend | string;
  /** Weight and compute dtype on the backend; default f32 (f16/bf16 checkpoints are widened at load, but see `halfWeights`). */
  dtype?: 'f32' | 'f16';
  /**
   * On the CPU with dtype f32, keep the matrices of an f16 or bf16 checkpoint as stored instead of
   * widening them at load (default false): half the memory for the same values (matmul widens them
   * exactly as it reads them, so outputs equal those of f32 copies bit for bit). A decode step's
   * products read them in place; prefill and batched steps widen each matrix per call in SIMD
   * (BENCHMARKS.md, llm section). Without WebAssembly SIMD (no WeightPool) they are widened at load
   * as before; `model.matrixDtype` says which.
   */
  halfWeights?: boolean;
  /** Load tokenizer.json too (default true); false for weights-only directories. */
  tokenizer?: boolean;
  /**
   * config.json fields to replace before it is read, as transformers' `from_pretrained(…, **kwargs)`
   * or vLLM's `--hf-overrides` do: e.g. `{ rope_scaling: { rope_type: 'yarn', factor: 4,
   * original_max_position_embeddings: 32768 } }` for Qwen2.5 or Qwen3 past 32k tokens. Top-level
   * fields are replaced whole.
   */
  configOverrides?: Record<string, unknown>;
  /** Called after each weight tensor is on the backend: how many of the model's parameters are loaded (a page's progress bar). */
  onProgress?: (progress: LoadProgress) => void;
}

/** How far `loadModel` is: parameters on the backend so far of the model's total (from config.json), and the tensor just loaded. */
export interface LoadProgress {
  loadedParameters: number;
  totalParameters: number;
  tensor: string;
}

/**
 * Loads a Hugging Face model directory: config.json, model.safetensors or a sharded
 * model.safetensors.index.json, tokenizer.json (+ tokenizer_config.json, generation_config.json).
 * `source` is a directory path (Node), `{ files }` (in-memory files) or `{ baseUrl, fetch? }`.
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<LlamaModel> {
  const dtype = options.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16') throw new InvalidConfigError(`loadModel: dtype must be 'f32' or 'f16', got ${JSON.stringify(dtype)}`);
  const backend = typeof options.backend === 'string' ? await resolveBackend(options.backend) : backendOf(options.backend);
  const files = openModelSource(source);
  const overrides = options.configOverrides ?? {};
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new InvalidConfigError(`loadModel: configOverrides must be an object of config.json fields, got ${JSON.stringify(overrides)}`);
  }
  const raw = parseJson(await requireFile(files, 'config.json'), 'config.json');
  // A config.json that is not an object is left for parseModelConfig to refuse.
  const config = parseModelConfig(typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...raw, ...overrides } : raw);
  const tokenizer = options.tokenizer === false ? undefined : await loadTokenizer(files);
  if (tokenizer && tokenizer.vocabSize > config.vocabSize) {
    throw new InvalidConfigError(`tokenizer.json has ${tokenizer.vocabSize} tokens, more than config.json's vocab_size ${config.vocabSize}`);
  }
  if (options.halfWeights !== undefined && typeof options.halfWeights !== 'boolean') {
    throw new InvalidConfigError(`loadModel: halfWeights must be true or false, got ${JSON.stringify(options.halfWeights)}`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new InvalidConfigError('loadModel: onProgress must be a function');
  }
  const weights = await loadWeights(files, config, backend, dtype, options.halfWeights ?? false, options.onProgress);
  return new LlamaModel(config, weights, backend, dtype, tokenizer);
}
