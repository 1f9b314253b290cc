// One way for every package's browser suite to run code in a real browser: bundle the entry
// (CUDA C sources as text and .wat compiled, as the tsup builds do), serve it from localhost (a secure
// context, which navigator.gpu requires), open it in headless Chromium through playwright-core with
// the system's chromium (never a downloaded browser), and close it all afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watEsbuildPlugin } from '@kvkit/wat';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.KVKIT_CHROMIUM ?? '/usr/bin/chromium';

// The headers that make a page cross-origin isolated, the condition for SharedArrayBuffer (and so
// for WebAssembly threads) in browsers.
const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/**
 * A page that loaded the bundled `entry` (a file path), and `close()` for the page, browser and
 * server. `worker`: a second entry, bundled and served at /worker.js for the page to start;
 * `crossOriginIsolated`: serve everything with the COOP/COEP headers.
 */
export async function openInChromium(entry, { args = [], worker, crossOriginIsolated = false } = {}) {
  const script = await bundled(entry);
  const workerScript = worker ? await bundled(worker) : undefined;
  const headers = crossOriginIsolated ? ISOLATION_HEADERS : {};
  const server = createServer((request, response) => {
    if (request.url === '/bundle.js') response.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(script);
    else if (request.url === '/worker.js' && workerScript) response.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(workerScript);
    else response.writeHead(200, { ...headers, 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/bundle.js"></script>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const opened = await openPage(`http://localhost:${server.address().port}/`, { args });
    return { page: opened.page, close: async () => { await opened.close(); server.close(); } };
  } catch (error) {
    server.close();
    throw error;
  }
}

/**
 * `url` (a page someone else serves) open in headless Chromium with a fresh profile, and `close()`
 * for the page, the browser and the profile.
 */
export async function openPage(url, { args = [] } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'kvkit-chromium-'));
  let context;
  const close = async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...args],
    });
    const page = await context.newPage();
    await page.goto(url);
    return { page, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** `entry` bundled for the browser as one ES module's text. */
async function bundled(entry) {
  const bundle = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    loader: { '.cu': 'text', '.cuh': 'text' },
    plugins: [watEsbuildPlugin()],
  });
  return bundle.outputFiles[0].text;
}
