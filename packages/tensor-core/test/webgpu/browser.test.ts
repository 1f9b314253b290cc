/**
 * The parity cases in headless Chromium (WebGPU through `navigator.gpu`; SwiftShader without a GPU):
 * the test bundles browser-entry.ts with esbuild, serves it from a localhost server and drives
 * /usr/bin/chromium with playwright-core (never `npx playwright install`).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { watEsbuildPlugin } from '@kvkit/wat';
import { build } from 'esbuild';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSeed } from '../../src/testing/index.js';
import type { BrowserRun } from './browser-entry.js';
import { PARITY_CASES } from './parity-cases.js';
import { TEST_DAWN_FEATURES, webgpuRequired } from '../../src/testing/index.js';

const CHROMIUM = process.env.KVKIT_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--enable-unsafe-webgpu', `--enable-dawn-features=${TEST_DAWN_FEATURES}`, '--no-sandbox', '--disable-gpu-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

const available = existsSync(CHROMIUM);
if (!available) {
  const message = `${CHROMIUM} not found (install Debian's chromium package or set KVKIT_CHROMIUM)`;
  if (webgpuRequired) throw new Error(`KVKIT_REQUIRE_WEBGPU=1 but the browser WebGPU suite cannot run: ${message}`);
  console.warn(`[webgpu] browser suite skipped: ${message}`);
}

describe.skipIf(!available)('webgpu parity in headless Chromium (navigator.gpu)', () => {
  const seed = freshSeed();
  let server: Server | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  let run: BrowserRun | undefined;

  beforeAll(async () => {
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL('./browser-entry.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
      // openBackend's lazy import of the CUDA subpath comes along; its kernel sources are text (as in tsup).
      loader: { '.cu': 'text', '.cuh': 'text' },
      plugins: [watEsbuildPlugin()],
    });
    const script = bundle.outputFiles[0].text;
    server = createServer((request, response) => {
      if (request.url === '/bundle.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      } else {
        response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/bundle.js"></script>');
      }
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    profile = mkdtempSync(join(tmpdir(), 'kvkit-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS });
    const page = await context.newPage();
    // localhost is a secure context, which navigator.gpu requires.
    await page.goto(`http://localhost:${port}/`);
    await page.waitForFunction(() => 'runParity' in globalThis);
    const hasGpu = await page.evaluate(async () => Boolean(await (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu?.requestAdapter()));
    if (!hasGpu) {
      if (webgpuRequired) throw new Error('KVKIT_REQUIRE_WEBGPU=1 but headless Chromium found no WebGPU adapter');
      console.warn('[webgpu] browser suite skipped: headless Chromium found no WebGPU adapter');
      return;
    }
    run = await page.evaluate((s) => (globalThis as unknown as { runParity(seed: number): Promise<BrowserRun> }).runParity(s), seed);
    console.info(`[webgpu] browser adapter: ${run.adapter.vendor}/${run.adapter.architecture}; seed ${seed}`);
    console.info(run.results.map((r) => `${r.ms.toFixed(0).padStart(7)} ms  ${r.name}`).join('\n'));
  }, 600_000);

  afterAll(async () => {
    await context?.close();
    server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  for (const testCase of PARITY_CASES) {
    it(testCase.name, (ctx) => {
      if (!run) return ctx.skip();
      const result = run.results.find((r) => r.name === testCase.name);
      expect(result, 'the case ran in the browser').toBeDefined();
      if (!result?.ok) throw new Error(`${result?.error} (browser run; its cases are seeded from KVKIT_SEED=${seed})`);
    });
  }
});
