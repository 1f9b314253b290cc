// The chat page: the form, the streamed text and the cache's bytes by part. The model runs in the
// generation worker (generation-worker.ts); this thread only talks to it.
import { formatBytes } from '@kvkit/tensor-core';
import type { MethodHelp, PageRequest, RunStats, WorkerMessage } from './protocol.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = {
  prompt: $<HTMLTextAreaElement>('prompt'),
  backend: $<HTMLSelectElement>('backend'),
  dtype: $<HTMLSelectElement>('dtype'),
  method: $<HTMLInputElement>('method'),
  methods: $<HTMLDataListElement>('methods'),
  tokens: $<HTMLInputElement>('tokens'),
  temperature: $<HTMLInputElement>('temperature'),
  chat: $<HTMLInputElement>('chat'),
  newConversation: $<HTMLButtonElement>('new-conversation'),
  run: $<HTMLButtonElement>('run'),
  stop: $<HTMLButtonElement>('stop'),
};
const view = { status: $('status'), output: $('output'), stats: $('stats'), help: $('method-help') };
const worker = new Worker('/worker.js', { type: 'module' });
const ask = (request: PageRequest) => worker.postMessage(request);
let methods: MethodHelp[] = [];
/** The conversation's turns so far as the output shows them (empty outside a conversation). */
let transcript = '';

function setStatus(text: string, state: 'busy' | 'done' | 'error' | 'ready'): void {
  view.status.textContent = text;
  view.status.dataset.state = state;
}

function setRunning(on: boolean): void {
  form.run.disabled = on;
  form.stop.disabled = !on;
}

function showStats(stats: RunStats): void {
  view.stats.dataset.json = JSON.stringify(stats);
  const rows: [string, string][] = [
    [
      'backend',
      `${stats.backend}${stats.backend === 'cpu' ? ` (${stats.threads} thread${stats.threads > 1 ? 's' : ''})` : ''}, ${stats.weights} weights` +
        `${stats.matrices === stats.weights ? '' : ` (${stats.matrices} matrices as stored)`} (${formatBytes(stats.weightBytes)})`,
    ],
    ['cache', stats.method],
    [
      'prompt',
      stats.promptFormat === 'chat template'
        ? `turn ${stats.turn}, a user turn written by the model's chat template: ${stats.reusedTokens} tokens from the conversation's cache, ${stats.promptTokens} computed`
        : 'the text as is',
    ],
    ['tokens', `${stats.promptTokens} prompt + ${stats.generatedTokens} generated (${stats.stopReason})`],
    ['prefill', `${stats.prefillTokensPerSec.toFixed(0)} tokens/s`],
    ['decode', `${stats.decodeTokensPerSec.toFixed(1)} tokens/s`],
    ['KV cache resident', `${formatBytes(stats.kvBytes)}, ${(stats.kvBytes / stats.kvBytesF16).toFixed(2)}× the ${formatBytes(stats.kvBytesF16)} of the same tokens' K and V in f16`],
    ...Object.entries(stats.parts).map(([part, bytes]): [string, string] => [`  ${part}`, formatBytes(bytes)]),
  ];
  view.stats.replaceChildren(
    ...rows.map(([name, value]) => {
      const row = document.createElement('tr');
      for (const text of [name, value]) row.appendChild(document.createElement('td')).textContent = text;
      return row;
    }),
  );
}

worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
  const message = event.data;
  if (message.type === 'methods') {
    methods = message.methods;
    for (const { name } of methods) form.methods.appendChild(document.createElement('option')).value = name;
    showMethodHelp();
    setStatus('ready', 'ready'); // the worker has loaded every package and can take a run
  } else if (message.type === 'status') setStatus(message.text, 'busy');
  else if (message.type === 'token') view.output.append(message.text);
  else if (message.type === 'done') {
    transcript = message.stats.promptFormat === 'chat template' ? (view.output.textContent ?? '') : '';
    showStats(message.stats);
    setStatus('done', 'done');
    setRunning(false);
  } else {
    setStatus(`${message.code}: ${message.message}`, 'error');
    setRunning(false);
  }
};
worker.onerror = (event) => {
  setStatus(`the generation worker failed: ${event.message}`, 'error');
  setRunning(false);
};

function run(): void {
  setRunning(true);
  // A chat turn is shown below the conversation's earlier ones; a text prompt alone.
  view.output.textContent = form.chat.checked ? `${transcript}${transcript ? '\n\n' : ''}› ${form.prompt.value}\n` : form.prompt.value;
  setStatus('starting…', 'busy');
  ask({
    type: 'run',
    backend: form.backend.value as 'cpu' | 'webgpu',
    dtype: form.dtype.value as 'f32' | 'f16',
    method: form.method.value.trim() || 'default',
    prompt: form.prompt.value,
    chat: form.chat.checked,
    maxNewTokens: Number(form.tokens.value),
    temperature: Number(form.temperature.value),
  });
}

function showMethodHelp(): void {
  const name = form.method.value.split(':')[0].trim();
  const method = methods.find((m) => m.name === name);
  view.help.textContent = method ? method.help : `methods: ${methods.map((m) => m.name).join(', ')}`;
}

form.method.addEventListener('input', showMethodHelp);
form.run.addEventListener('click', run);
form.stop.addEventListener('click', () => ask({ type: 'stop' }));
form.newConversation.addEventListener('click', () => {
  ask({ type: 'new-conversation' });
  transcript = '';
  view.output.textContent = '';
});
if (!('gpu' in navigator)) form.backend.querySelector<HTMLOptionElement>('option[value=webgpu]')!.disabled = true;
