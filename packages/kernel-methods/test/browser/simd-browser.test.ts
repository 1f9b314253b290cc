/**
 * The WebAssembly SIMD loops in headless Chromium: @kvkit/browser-test bundles the package source
 * (the .wat compiled and inlined by @kvkit/wat, as in the published bundle), serves it from
 * localhost and runs it in /usr/bin/chromium through playwright-core. It checks that the browser
 * compiles and runs the module (a refused compile would silently fall back to the JavaScript
 * loops) and that both paths agree there.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, openInChromium } from '@kvkit/browser-test';
import { freshSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import type { SimdBrowserRun, ThreadedBrowserRun } from './simd-entry.js';

const required = process.env.KVKIT_REQUIRE_WEBGPU === '1'; // CI: the browser suites must run
const available = existsSync(CHROMIUM);
if (!available) {
  const message = `${CHROMIUM} not found (install Debian's chromium package or set KVKIT_CHROMIUM)`;
  if (required) throw new Error(`the browser SIMD suite cannot run: ${message}`);
  console.warn(`[kernel-methods] browser SIMD suite skipped: ${message}`);
}

describe.skipIf(!available)('kernel-methods SIMD loops in headless Chromium', () => {
  it('compiles and runs the inlined module there, with the same K, K·v and KPCA eigenvalues as the JavaScript loops', async () => {
    const seed = freshSeed();
    const { page, close } = await openInChromium(fileURLToPath(new URL('./simd-entry.ts', import.meta.url)));
    try {
      await page.waitForFunction(() => 'runSimdCheck' in globalThis);
      const run = await page.evaluate((s) => (globalThis as unknown as { runSimdCheck(seed: number): SimdBrowserRun }).runSimdCheck(s), seed);
      expect(run.simd, `seed ${seed}: the browser ran the SIMD loops`).toBe(true);
      expect(run.matrixDifference, `seed ${seed}: K`).toBeLessThan(1e-14);
      expect(run.productDifference, `seed ${seed}: K·v`).toBeLessThan(1e-12);
      expect(run.eigenvalueDifference, `seed ${seed}: eigenvalues`).toBeLessThan(1e-12);
    } finally {
      await close();
    }
  }, 120_000);

  it('splits the stored K and K·v among worker threads in a cross-origin isolated page, with the one-thread values', async () => {
    const seed = freshSeed();
    const { page, close } = await openInChromium(fileURLToPath(new URL('./simd-entry.ts', import.meta.url)), { crossOriginIsolated: true });
    try {
      await page.waitForFunction(() => 'runThreadedCheck' in globalThis);
      const run = await page.evaluate((s) => (globalThis as unknown as { runThreadedCheck(seed: number): Promise<ThreadedBrowserRun> }).runThreadedCheck(s), seed);
      expect(run.started, `seed ${seed}: threads started`).toBe(2);
      expect(run.attached, `seed ${seed}: threads attached to the stored K`).toBe(2);
      expect(run.differingEntries, `seed ${seed}: K`).toBe(0);
      expect(run.productDifference, `seed ${seed}: K·v`).toBeLessThan(1e-13);
    } finally {
      await close();
    }
  }, 120_000);
});
