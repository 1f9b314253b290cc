// The generation worker: the model, the backends and the generation loop live here, off the page's
// main thread, so the page stays responsive during prefill and decode, and the CPU backend's SIMD
// threads block in Atomics.wait instead of polling (a page's main thread may not block).
import { ChatSession, type GenerateOptions, type GenerateResult, type LlamaModel, type LoadProgress, generate, loadModel } from '@kvkit/llm';
import { type Backend, type CacheMethod, cpuBackend, denseF16Bytes, simdThreadCount, startSimdThreads } from '@kvkit/tensor-core';
import { createWebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { methodFromPageSpec, methodHelp } from './methods.js';
import type { PageRequest, RunStats, WorkerMessage } from './protocol.js';

const post = (message: WorkerMessage) => (self as unknown as { postMessage(message: WorkerMessage): void }).postMessage(message);

const backends = new Map<string, Promise<Backend>>();
const models = new Map<string, Promise<LlamaModel>>();
let running: AbortController | undefined;
/** The conversation of chat turns, with the model and cache method it runs on (a change of either starts a new one). */
let conversation: { session: ChatSession; model: LlamaModel; method: string; turns: number } | undefined;

function forgetConversation(): void {
  conversation?.session.dispose();
  conversation = undefined;
}

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
    const onProgress = ({ loadedParameters, totalParameters }: LoadProgress) =>
      post({ type: 'status', text: `loading the model on ${backendName} (${dtype} weights): ${Math.floor((100 * loadedParameters) / totalParameters)}%` });
    model = backendNamed(backendName).then((backend) => loadModel({ baseUrl: '/model/' }, { backend, dtype, halfWeights: backendName === 'cpu', onProgress }));
    model.catch(() => models.delete(key)); // a failed load is retried next time
    models.set(key, model);
  }
  return model;
}

/** How a run was prompted: as is, or as turn `turn` of the conversation, with the prompt tokens its cache held. */
interface PromptedRun {
  format: RunStats['promptFormat'];
  turn: number;
  reusedTokens: number;
  result: GenerateResult;
}

/**
 * With `chat` and a model that has a chat template (an instruct checkpoint's), the text is the next
 * user turn of the conversation (@kvkit/llm's ChatSession: one cache for all turns, only new tokens
 * computed); otherwise the text is the prompt as is.
 */
async function prompted(
  model: LlamaModel,
  request: Extract<PageRequest, { type: 'run' }>,
  cache: CacheMethod | undefined,
  options: Omit<GenerateOptions, 'cache'>,
): Promise<PromptedRun> {
  if (!request.chat || !model.tokenizer.hasChatTemplate) {
    forgetConversation(); // a text prompt is no turn of it
    return { format: 'text', turn: 0, reusedTokens: 0, result: await generate(model, request.prompt, { ...options, cache }) };
  }
  if (conversation && (conversation.model !== model || conversation.method !== request.method)) forgetConversation();
  conversation ??= { session: new ChatSession(model, { cache }), model, method: request.method, turns: 0 };
  const reply = await conversation.session.send(request.prompt, options);
  conversation.turns += 1;
  return { format: 'chat template', turn: conversation.turns, reusedTokens: reply.reusedTokens, result: reply };
}

function statsOf(model: LlamaModel, method: string, run: PromptedRun): RunStats {
  const { result } = run;
  const { numKvHeads, headDim } = model.config;
  const numLayers = model.config.attentionLayers.length; // the layers that hold K/V
  const tokensHeld = run.reusedTokens + result.promptTokens + Math.max(result.generatedTokens - 1, 0);
  return {
    backend: model.backend.name,
    threads: model.backend.name === 'cpu' ? simdThreadCount() : 1,
    weights: model.dtype,
    matrices: model.matrixDtype,
    weightBytes: model.weightBytes,
    method,
    promptFormat: run.format,
    turn: run.turn,
    reusedTokens: run.reusedTokens,
    promptTokens: result.promptTokens,
    generatedTokens: result.generatedTokens,
    stopReason: result.stopReason,
    prefillTokensPerSec: result.promptTokens / (result.timings.prefillMs / 1000),
    decodeTokensPerSec: result.generatedTokens > 1 ? (result.generatedTokens - 1) / (result.timings.decodeMs / 1000) : 0,
    kvBytes: result.memory.bytes,
    // A hybrid model's recurrent state (LFM2's convolutions), which no method compresses, counts on both sides.
    kvBytesF16: denseF16Bytes(tokensHeld, numKvHeads, headDim, numLayers, model.cacheSpec().valuesAreKeys) + (result.memory.parts.recurrent ?? 0),
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
    post({ type: 'status', text: 'generating…' });
    const run = await prompted(model, request, cache, {
      maxNewTokens: request.maxNewTokens,
      temperature: request.temperature,
      seed: 1,
      signal: running.signal, // generate yields a task per token, so a 'stop' message gets through
      onToken: ({ text }) => post({ type: 'token', text }),
    });
    post({ type: 'done', stats: statsOf(model, request.method, run) });
  } catch (error) {
    const e = error as Error & { code?: string };
    post({ type: 'error', code: e.code ?? e.name, message: e.message });
  } finally {
    running = undefined;
  }
}

self.onmessage = (event: MessageEvent<PageRequest>) => {
  if (event.data.type === 'stop') running?.abort();
  else if (event.data.type === 'new-conversation') forgetConversation();
  else void run(event.data);
};
post({ type: 'methods', methods: methodHelp() });
