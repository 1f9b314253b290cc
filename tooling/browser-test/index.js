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

/** A page that loaded the bundled `entry` (a file path), and `close()` for the page, browser and server. */
export async function openInChromium(entry, { args = [] } = {}) {
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
  const script = bundle.outputFiles[0].text;
  const server = createServer((request, response) => {
    if (request.url === '/bundle.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/bundle.js"></script>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const profile = mkdtempSync(join(tmpdir(), 'kvkit-chromium-'));
  const close = async () => {
    await context?.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  };
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...args],
    });
    const page = await context.newPage();
    await page.goto(`http://localhost:${server.address().port}/`);
    return { page, close };
  } catch (error) {
    await close();
    throw error;
  }
}
