/**
 * The WebAssembly SIMD loops in headless Chromium: the package source is bundled with esbuild (the
 * .wat compiled and inlined by @kvkit/wat, as in the published bundle), served from localhost and
 * run by /usr/bin/chromium through playwright-core. It checks that the browser compiles and runs
 * the module (a refused compile would silently fall back to the JavaScript loops) and that both
 * paths agree there.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { watEsbuildPlugin } from '@kvkit/wat';
import { build } from 'esbuild';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import type { SimdBrowserRun } from './simd-entry.js';

const CHROMIUM = process.env.KVKIT_CHROMIUM ?? '/usr/bin/chromium';
const required = process.env.KVKIT_REQUIRE_WEBGPU === '1'; // CI: the browser suites must run
const available = existsSync(CHROMIUM);
if (!available) {
  const message = `${CHROMIUM} not found (install Debian's chromium package or set KVKIT_CHROMIUM)`;
  if (required) throw new Error(`the browser SIMD suite cannot run: ${message}`);
  console.warn(`[kernel-methods] browser SIMD suite skipped: ${message}`);
}

describe.skipIf(!available)('kernel-methods SIMD loops in headless Chromium', () => {
  let server: Server | undefined;
  let context: BrowserContext | undefined;
  let profile: string | undefined;

  afterAll(async () => {
    await context?.close();
    server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('compiles and runs the inlined module there, with the same K, K·v and KPCA eigenvalues as the JavaScript loops', async () => {
    const seed = freshSeed();
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL('./simd-entry.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
      plugins: [watEsbuildPlugin()],
    });
    const script = bundle.outputFiles[0].text;
    server = createServer((request, response) => {
      if (request.url === '/bundle.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
      else response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><script type="module" src="/bundle.js"></script>');
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    profile = mkdtempSync(join(tmpdir(), 'kvkit-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
    const page = await context.newPage();
    await page.goto(`http://localhost:${port}/`);
    await page.waitForFunction(() => 'runSimdCheck' in globalThis);
    const run = await page.evaluate((s) => (globalThis as unknown as { runSimdCheck(seed: number): SimdBrowserRun }).runSimdCheck(s), seed);
    expect(run.simd, `seed ${seed}: the browser ran the SIMD loops`).toBe(true);
    expect(run.matrixDifference, `seed ${seed}: K`).toBeLessThan(1e-14);
    expect(run.productDifference, `seed ${seed}: K·v`).toBeLessThan(1e-12);
    expect(run.eigenvalueDifference, `seed ${seed}: eigenvalues`).toBeLessThan(1e-12);
  }, 120_000);
});
