import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidConfigError } from '@kvkit/tensor-core';

export interface ChatServerOptions {
  /** A Hugging Face model directory (config.json, model.safetensors, tokenizer.json …). */
  modelDir: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: localhost is a secure context, which WebGPU needs. */
  host?: string;
}

export interface ChatServer {
  url: string;
  close(): Promise<void>;
}

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// The page, its two scripts, and the model's files under /model/. Every response is cross-origin
// isolated (COOP + COEP), the condition for SharedArrayBuffer and so for the CPU backend's threads.
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: join(packageDir, 'public', 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: join(packageDir, 'dist', 'page', 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/app.js.map': { file: join(packageDir, 'dist', 'page', 'app.js.map'), type: 'application/json' },
  '/worker.js': { file: join(packageDir, 'dist', 'page', 'worker.js'), type: 'text/javascript; charset=utf-8' },
  '/worker.js.map': { file: join(packageDir, 'dist', 'page', 'worker.js.map'), type: 'application/json' },
};
/** What a model directory may serve: its JSON files, safetensors (shards included) and chat template (chat_template.jinja), nothing else. */
const MODEL_FILE = /^([\w.-]+\.(json|safetensors)|chat_template\.jinja)$/;
const MODEL_FILE_TYPES: Record<string, string> = { json: 'application/json', jinja: 'text/plain; charset=utf-8', safetensors: 'application/octet-stream' };

/** Serves the chat page and `modelDir` on localhost; resolves once it listens. */
export async function startChatServer({ modelDir, port = 0, host = '127.0.0.1' }: ChatServerOptions): Promise<ChatServer> {
  const directory = resolve(modelDir);
  if (!existsSync(join(directory, 'config.json'))) {
    throw new InvalidConfigError(`${directory} is not a model directory (no config.json)`, { modelDir: directory });
  }
  const modelFiles = new Set(readdirSync(directory).filter((name) => MODEL_FILE.test(name)));
  const server = createServer((request, response) => respond(request, response, directory, modelFiles));
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, done);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host === '127.0.0.1' ? 'localhost' : host}:${bound}/`,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

function respond(request: IncomingMessage, response: ServerResponse, modelDir: string, modelFiles: ReadonlySet<string>): void {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  const page = PAGE_FILES[path];
  if (page) return sendFile(response, page.file, page.type);
  const name = path.startsWith('/model/') ? decodedName(path.slice('/model/'.length)) : undefined;
  // A file the model does not have is a 404, which @kvkit/llm reads as "absent" (optional files).
  if (name !== undefined && modelFiles.has(name)) {
    return sendFile(response, join(modelDir, name), MODEL_FILE_TYPES[name.slice(name.lastIndexOf('.') + 1)]);
  }
  response.writeHead(404, { ...ISOLATION, 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
}

/** A percent-encoded file name, or undefined for a malformed one (which must not bring the server down). */
function decodedName(encoded: string): string | undefined {
  try {
    return decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
}

function sendFile(response: ServerResponse, file: string, type: string): void {
  if (!existsSync(file)) {
    response.writeHead(500, { ...ISOLATION, 'content-type': 'text/plain' }).end(`${file} is missing: run npm run build -w chat-web\n`);
    return;
  }
  response.writeHead(200, { ...ISOLATION, 'content-type': type, 'content-length': statSync(file).size, 'cache-control': 'no-cache' });
  createReadStream(file)
    .on('error', () => response.destroy()) // a file gone mid-read ends this response, not the server
    .pipe(response);
}
