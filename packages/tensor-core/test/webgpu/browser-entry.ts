/**
 * Bundled by browser.test.ts and loaded into headless Chromium: runs the parity cases (every kernel,
 * LITE scope) on `navigator.gpu` (the backend's browser path) and hands the results back to the test.
 */
import { createRng } from '../../src/index.js';
import { createWebGpuBackend } from '../../src/webgpu/index.js';
import { LITE, PARITY_CASES } from './parity-cases.js';

export interface BrowserCaseResult {
  name: string;
  ok: boolean;
  error?: string;
  ms: number;
}

export interface BrowserRun {
  adapter: { vendor: string; architecture: string };
  results: BrowserCaseResult[];
}

async function runParity(seed: number): Promise<BrowserRun> {
  const gpu = await createWebGpuBackend();
  const results: BrowserCaseResult[] = [];
  try {
    for (const [i, testCase] of PARITY_CASES.entries()) {
      const started = performance.now();
      try {
        await testCase.run(gpu, createRng((seed + i) >>> 0), LITE);
        results.push({ name: testCase.name, ok: true, ms: performance.now() - started });
      } catch (error) {
        results.push({ name: testCase.name, ok: false, error: error instanceof Error ? error.message : String(error), ms: performance.now() - started });
      }
    }
    return { adapter: { vendor: gpu.info.vendor, architecture: gpu.info.architecture }, results };
  } finally {
    gpu.dispose();
  }
}

(globalThis as { runParity?: typeof runParity }).runParity = runParity;
