import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KvkitError } from '@kvkit/tensor-core';
import { startChatServer } from './server.js';

const USAGE = `chat-web [--model DIR] [--port N] [--host HOST]

Serves a page that runs a Hugging Face model in your browser with kvkit — WebGPU or the CPU
backend, any KV cache method of @kvkit/kv-quant and @kvkit/kv-evict — and shows what each cache
holds. Default model: the shipped models/kvkit-tiny. Open the printed URL in Chrome or Edge
(WebGPU), or any browser for the CPU backend.`;

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void console.log(USAGE);
  const server = await startChatServer({
    modelDir: values.model ?? resolve(repoRoot, 'models', 'kvkit-tiny'),
    port: Number(values.port),
    host: values.host,
  });
  console.log(`chat-web: open ${server.url} (Ctrl-C stops it)`);
}

main().catch((error: unknown) => {
  console.error(error instanceof KvkitError ? `chat-web: ${error.message}` : error);
  process.exit(1);
});
