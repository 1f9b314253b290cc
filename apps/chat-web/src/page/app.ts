// The chat page: loads the model served under /model/ on the chosen backend, generates with the
// chosen KV cache method, streams the tokens and shows what the cache holds, by part.
import { type GenerateResult, type LlamaModel, generate, loadModel } from '@kvkit/llm';
import { type Backend, cpuBackend, startSimdThreads } from '@kvkit/tensor-core';
import { createWebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { MODEL_DEFAULT, describeParams, methodFromPageSpec, pageMethods } from './methods.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = {
  prompt: $<HTMLTextAreaElement>('prompt'),
  backend: $<HTMLSelectElement>('backend'),
  dtype: $<HTMLSelectElement>('dtype'),
  method: $<HTMLInputElement>('method'),
  methods: $<HTMLDataListElement>('methods'),
  tokens: $<HTMLInputElement>('tokens'),
  temperature: $<HTMLInputElement>('temperature'),
  run: $<HTMLButtonElement>('run'),
  stop: $<HTMLButtonElement>('stop'),
};
const view = { status: $('status'), output: $('output'), stats: $('stats'), help: $('method-help') };

const models = new Map<string, Promise<LlamaModel>>();
let running: AbortController | undefined;

function setStatus(text: string, state: 'busy' | 'done' | 'error' | 'ready'): void {
  view.status.textContent = text;
  view.status.dataset.state = state;
}

const backends = new Map<string, Promise<Backend>>();

/** One backend per name for the page's life (a WebGPU device serves the f32 and the f16 model). */
function backendNamed(name: string): Promise<Backend> {
  let backend = backends.get(name);
  if (!backend) {
    backend =
      name === 'webgpu'
        ? createWebGpuBackend() // navigator.gpu; BackendUnavailable says why not
        : startSimdThreads().then(() => cpuBackend()); // worker threads where the page is cross-origin isolated (the server sends the headers)
    backend.catch(() => backends.delete(name));
    backends.set(name, backend);
  }
  return backend;
}

/** The model on a backend with its weights in `dtype`, loaded once per pair. */
function modelOn(backendName: string, dtype: 'f32' | 'f16'): Promise<LlamaModel> {
  const key = `${backendName}/${dtype}`;
  let model = models.get(key);
  if (!model) {
    model = backendNamed(backendName).then((backend) => loadModel({ baseUrl: '/model/' }, { backend, dtype }));
    model.catch(() => models.delete(key)); // a failed load is retried next time
    models.set(key, model);
  }
  return model;
}

function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1 << 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1 << 20)).toFixed(2)} MiB`;
}

/** What the run measured, shown as a table and kept as JSON on the element for scripts and tests. */
function showStats(model: LlamaModel, backend: string, spec: string, result: GenerateResult): void {
  const { numLayers, numKvHeads, headDim } = model.config;
  const tokensHeld = result.promptTokens + Math.max(result.generatedTokens - 1, 0);
  const f16Bytes = 2 * numLayers * numKvHeads * headDim * 2 * tokensHeld; // K and V in f16, every token kept
  const stats = {
    backend,
    weights: model.dtype,
    method: spec,
    promptTokens: result.promptTokens,
    generatedTokens: result.generatedTokens,
    stopReason: result.stopReason,
    prefillTokensPerSec: result.promptTokens / (result.timings.prefillMs / 1000),
    decodeTokensPerSec: result.generatedTokens > 1 ? (result.generatedTokens - 1) / (result.timings.decodeMs / 1000) : 0,
    kvBytes: result.memory.bytes,
    kvBytesF16: f16Bytes,
    parts: result.memory.parts,
    ids: Array.from(result.ids),
  };
  view.stats.dataset.json = JSON.stringify(stats);
  const rows: [string, string][] = [
    ['backend', `${backend}, ${model.dtype} weights (${formatBytes(model.weightBytes)})`],
    ['cache', spec],
    ['tokens', `${stats.promptTokens} prompt + ${stats.generatedTokens} generated (${stats.stopReason})`],
    ['prefill', `${stats.prefillTokensPerSec.toFixed(0)} tokens/s`],
    ['decode', `${stats.decodeTokensPerSec.toFixed(1)} tokens/s`],
    ['KV cache resident', `${formatBytes(stats.kvBytes)}, ${(stats.kvBytes / f16Bytes).toFixed(2)}× the ${formatBytes(f16Bytes)} of the same tokens' K and V in f16`],
    ...Object.entries(result.memory.parts).map(([part, bytes]): [string, string] => [`  ${part}`, formatBytes(bytes)]),
  ];
  view.stats.replaceChildren(
    ...rows.map(([name, value]) => {
      const row = document.createElement('tr');
      for (const text of [name, value]) row.appendChild(document.createElement('td')).textContent = text;
      return row;
    }),
  );
}

async function run(): Promise<void> {
  const backendName = form.backend.value;
  const spec = form.method.value.trim() || 'dense';
  running = new AbortController();
  form.run.disabled = true;
  form.stop.disabled = false;
  view.output.textContent = '';
  try {
    const cache = methodFromPageSpec(spec); // a bad spec fails here, before any loading
    const dtype = form.dtype.value as 'f32' | 'f16';
    setStatus(`loading the model on ${backendName} (${dtype} weights)…`, 'busy');
    const model = await modelOn(backendName, dtype);
    setStatus('generating…', 'busy');
    const prompt = form.prompt.value;
    view.output.textContent = prompt;
    const result = await generate(model, prompt, {
      maxNewTokens: Number(form.tokens.value),
      temperature: Number(form.temperature.value),
      seed: 1,
      cache,
      signal: running.signal,
      onToken: ({ text }) => view.output.append(text),
    });
    showStats(model, model.backend.name, spec, result);
    setStatus('done', 'done');
  } catch (error) {
    const e = error as Error & { code?: string };
    setStatus(`${e.code ?? e.name}: ${e.message}`, 'error');
  } finally {
    running = undefined;
    form.run.disabled = false;
    form.stop.disabled = true;
  }
}

function showMethodHelp(): void {
  const name = form.method.value.split(':')[0].trim();
  const descriptor = pageMethods.find((m) => m.name === name);
  view.help.textContent =
    name === MODEL_DEFAULT
      ? "the model's own cache: fused paged attention on the CPU backend, the dense cache on WebGPU"
      : descriptor
        ? `${descriptor.description}\n${describeParams(descriptor)}`
        : `methods: ${[MODEL_DEFAULT, ...pageMethods.map((m) => m.name)].join(', ')}`;
}

for (const name of [MODEL_DEFAULT, ...pageMethods.map((m) => m.name)]) form.methods.appendChild(document.createElement('option')).value = name;
form.method.addEventListener('input', showMethodHelp);
form.run.addEventListener('click', () => void run());
form.stop.addEventListener('click', () => running?.abort());
if (!('gpu' in navigator)) form.backend.querySelector<HTMLOptionElement>('option[value=webgpu]')!.disabled = true;
showMethodHelp();
setStatus('ready', 'ready');
