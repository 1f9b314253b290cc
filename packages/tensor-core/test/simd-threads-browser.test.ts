/**
 * The SIMD worker threads in headless Chromium (@kvkit/browser-test serves the bundled entries from
 * localhost): in a cross-origin isolated page, startSimdThreads starts the pool, and products past
 * the threaded threshold run on two threads with the one-thread values, bit for bit, both in a Web
 * Worker (which blocks in Atomics.wait) and on the page's main thread (which polls). Without
 * isolation there is no shared memory: the start resolves with 1 and the products run here.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, openInChromium } from '@kvkit/browser-test';
import { describe, expect, it } from 'vitest';
import { freshSeed } from '../src/testing/index.js';
import type { ThreadsRun } from './browser/threads-check.js';

const required = process.env.KVKIT_REQUIRE_WEBGPU === '1'; // CI: the browser suites must run
const available = existsSync(CHROMIUM);
if (!available) {
  const message = `${CHROMIUM} not found (install Debian's chromium package or set KVKIT_CHROMIUM)`;
  if (required) throw new Error(`the browser SIMD-threads suite cannot run: ${message}`);
  console.warn(`[simd-threads] browser suite skipped: ${message}`);
}

const page = fileURLToPath(new URL('./browser/threads-page.ts', import.meta.url));
const worker = fileURLToPath(new URL('./browser/threads-worker.ts', import.meta.url));

type Where = 'threadsCheck' | 'threadsCheckInWorker';

async function runInChromium(where: Where, seed: number, crossOriginIsolated: boolean): Promise<ThreadsRun> {
  const opened = await openInChromium(page, { worker, crossOriginIsolated });
  try {
    await opened.page.waitForFunction((name) => name in globalThis, where);
    return await opened.page.evaluate(
      ([name, s]) => (globalThis as unknown as Record<Where, (seed: number) => Promise<ThreadsRun>>)[name](s),
      [where, seed] as const,
    );
  } finally {
    await opened.close();
  }
}

function expectSameValues(run: ThreadsRun, seed: number): void {
  expect(run.cases).toHaveLength(4);
  run.cases.forEach(({ differing, largest }, index) => {
    expect(differing, `seed ${seed}, product ${index}: entries differing from one thread`).toBe(0);
    expect(largest, `seed ${seed}, product ${index}: non-trivial values`).toBeGreaterThan(1);
  });
}

describe.skipIf(!available)('SIMD worker threads in headless Chromium', () => {
  for (const where of ['threadsCheckInWorker', 'threadsCheck'] as const) {
    const label = where === 'threadsCheck' ? "on the page's main thread" : 'in a Web Worker';
    it(`starts in a cross-origin isolated page and splits products ${label}, with the one-thread values`, async () => {
      const seed = freshSeed();
      const run = await runInChromium(where, seed, true);
      expect(run.crossOriginIsolated).toBe(true);
      expect(run.started, `seed ${seed}`).toBe(2);
      expect(run.count).toBe(2);
      expect(run.attached, `seed ${seed}: the workers ran the products`).toBe(true);
      // Chromium has relaxed SIMD: the products ran the fused module, on the workers too.
      expect(run.fused, 'fused multiply-adds in Chromium').toBe(true);
      expectSameValues(run, seed);
      console.info(`[simd-threads] Chromium ${label}: ${run.threadedMs.toFixed(0)} ms on two threads, ${run.singleMs.toFixed(0)} ms on one`);
    }, 120_000);
  }

  it('stays on one thread, with the same values, in a page without cross-origin isolation', async () => {
    const seed = freshSeed();
    const run = await runInChromium('threadsCheckInWorker', seed, false);
    expect(run.crossOriginIsolated).toBe(false);
    expect(run.started).toBe(1);
    expect(run.count).toBe(1);
    expect(run.attached).toBe(false);
    expectSameValues(run, seed);
  }, 120_000);
});
