/**
 * The parity cases in headless Chromium (WebGPU through `navigator.gpu`; SwiftShader without a GPU):
 * @kvkit/browser-test bundles browser-entry.ts, serves it from localhost and drives /usr/bin/chromium
 * with playwright-core (never `npx playwright install`).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, openInChromium } from '@kvkit/browser-test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshSeed } from '../../src/testing/index.js';
import type { BrowserRun } from './browser-entry.js';
import { PARITY_CASES } from './parity-cases.js';
import { TEST_DAWN_FEATURES, webgpuRequired } from '../../src/testing/index.js';

const FLAGS = ['--enable-unsafe-webgpu', `--enable-dawn-features=${TEST_DAWN_FEATURES}`, '--disable-gpu-sandbox'];

const available = existsSync(CHROMIUM);
if (!available) {
  const message = `${CHROMIUM} not found (install Debian's chromium package or set KVKIT_CHROMIUM)`;
  if (webgpuRequired) throw new Error(`KVKIT_REQUIRE_WEBGPU=1 but the browser WebGPU suite cannot run: ${message}`);
  console.warn(`[webgpu] browser suite skipped: ${message}`);
}

describe.skipIf(!available)('webgpu parity in headless Chromium (navigator.gpu)', () => {
  const seed = freshSeed();
  let close: (() => Promise<void>) | undefined;
  let run: BrowserRun | undefined;

  beforeAll(async () => {
    const opened = await openInChromium(fileURLToPath(new URL('./browser-entry.ts', import.meta.url)), { args: FLAGS });
    close = opened.close;
    const page = opened.page;
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
    await close?.();
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
