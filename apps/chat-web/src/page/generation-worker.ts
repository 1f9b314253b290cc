// The generation worker: the model, the backends and the generation loop live here, off the page's
// main thread, so the page stays responsive during prefill and decode, and the CPU backend's SIMD
// threads block in Atomics.wait instead of polling (a page's main thread may not block).
import { type GenerateResult, type LlamaModel, generate, loadModel } from '@kvkit/llm';
import { type Backend, cpuBackend, denseF16Bytes, simdThreadCount, startSimdThreads } from '@kvkit/tensor-core';
import { createWebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { methodFromPageSpec, methodHelp } from './methods.js';
import type { PageRequest, RunStats, WorkerMessage } from './protocol.js';

const post = (message: WorkerMessage) => (self as unknown as { postMessage(message: WorkerMessage): void }).postMessage(message);

const backends = new Map<string, Promise<Backend>>();
const models = new Map<string, Promise<LlamaModel>>();
let running: AbortController | undefined;

/** One backend per name for the worker's life (a WebGPU device serves the f32 and the f16 model). */
function backendNamed(name: 'cpu' | 'webgpu'): Promise<Backend> {
  let backend = backends.get(name);
  if (!backend) {
    backend =
      name === 'webgpu'
        ? createWebGpuBackend() // navigator.gpu (workers have it too); BackendUnavailable says why not
        : startSimdThreads().then(() => cpuBackend()); // threads where the page is cross-origin isolated (the server sends the headers)
    backend.catch(() => backends.delete(name));
    backends.set(name, backend);
  }
  return backend;
}

/**
 * The model on a backend with its weights in `dtype`, loaded once per pair. On the CPU in f32 the
 * checkpoint's f16 matrices stay as stored (halfWeights): half the tab's memory, the same tokens.
 */
function modelOn(backendName: 'cpu' | 'webgpu', dtype: 'f32' | 'f16'): Promise<LlamaModel> {
  const key = `${backendName}/${dtype}`;
  let model = models.get(key);
  if (!model) {
    model = backendNamed(backendName).then((backend) => loadModel({ baseUrl: '/model/' }, { backend, dtype, halfWeights: backendName === 'cpu' }));
    model.catch(() => models.delete(key)); // a failed load is retried next time
    models.set(key, model);
  }
  return model;
}

/**
 * The prompt of a run: with `chat`, the text as a user turn through the model's chat template
 * (an instruct checkpoint's; the opening of the assistant's turn last), else the text as is.
 */
function promptOf(model: LlamaModel, request: Extract<PageRequest, { type: 'run' }>): { prompt: string | Int32Array; format: RunStats['promptFormat'] } {
  if (!request.chat || !model.tokenizer.hasChatTemplate) return { prompt: request.prompt, format: 'text' };
  const prompt = model.tokenizer.encodeChat([{ role: 'user', content: request.prompt }], { addGenerationPrompt: true });
  return { prompt, format: 'chat template' };
}

function statsOf(model: LlamaModel, method: string, format: RunStats['promptFormat'], result: GenerateResult): RunStats {
  const { numLayers, numKvHeads, headDim } = model.config;
  const tokensHeld = result.promptTokens + Math.max(result.generatedTokens - 1, 0);
  return {
    backend: model.backend.name,
    threads: model.backend.name === 'cpu' ? simdThreadCount() : 1,
    weights: model.dtype,
    matrices: model.matrixDtype,
    weightBytes: model.weightBytes,
    method,
    promptFormat: format,
    promptTokens: result.promptTokens,
    generatedTokens: result.generatedTokens,
    stopReason: result.stopReason,
    prefillTokensPerSec: result.promptTokens / (result.timings.prefillMs / 1000),
    decodeTokensPerSec: result.generatedTokens > 1 ? (result.generatedTokens - 1) / (result.timings.decodeMs / 1000) : 0,
    kvBytes: result.memory.bytes,
    kvBytesF16: denseF16Bytes(tokensHeld, numKvHeads, headDim, numLayers),
    parts: result.memory.parts,
    ids: Array.from(result.ids),
  };
}

async function run(request: Extract<PageRequest, { type: 'run' }>): Promise<void> {
  running = new AbortController();
  try {
    const cache = methodFromPageSpec(request.method); // a bad spec fails here, before any loading
    post({ type: 'status', text: `loading the model on ${request.backend} (${request.dtype} weights)…` });
    const model = await modelOn(request.backend, request.dtype);
    const { prompt, format } = promptOf(model, request);
    post({ type: 'status', text: 'generating…' });
    const result = await generate(model, prompt, {
      maxNewTokens: request.maxNewTokens,
      temperature: request.temperature,
      seed: 1,
      cache,
      signal: running.signal, // generate yields a task per token, so a 'stop' message gets through
      onToken: ({ text }) => post({ type: 'token', text }),
    });
    post({ type: 'done', stats: statsOf(model, request.method, format, result) });
  } catch (error) {
    const e = error as Error & { code?: string };
    post({ type: 'error', code: e.code ?? e.name, message: e.message });
  } finally {
    running = undefined;
  }
}

self.onmessage = (event: MessageEvent<PageRequest>) => {
  if (event.data.type === 'stop') running?.abort();
  else void run(event.data);
};
post({ type: 'methods', methods: methodHelp() });
