/**
 * Bundled by browser.test.ts and loaded into headless Chromium: runs the parity cases (every kernel,
 * LITE scope) on `navigator.gpu` (the backend's browser path) and hands the results back to the test.
 */
import { createWebGpuBackend } from '../../src/webgpu/index.js';
import { LITE, type ParityResult, runParityCases } from './parity-cases.js';

export interface BrowserRun {
  adapter: { vendor: string; architecture: string };
  results: ParityResult[];
}

async function runParity(seed: number): Promise<BrowserRun> {
  const gpu = await createWebGpuBackend();
  try {
    const results = await runParityCases(gpu, seed, LITE);
    return { adapter: { vendor: gpu.info.vendor, architecture: gpu.info.architecture }, results };
  } finally {
    gpu.dispose();
  }
}

(globalThis as { runParity?: typeof runParity }).runParity = runParity;
