import { loadCudaRuntime } from '../src/index.js';

/** KVKIT_REQUIRE_CUDA=1: the CUDA suites fail instead of skipping when something they need is missing. */
export const requireCuda = process.env.KVKIT_REQUIRE_CUDA === '1';

/** Whether a CUDA device opens here, and if not, why. */
export function deviceStatus(): { available: true } | { available: false; reason: string } {
  try {
    loadCudaRuntime();
    return { available: true };
  } catch (error) {
    return { available: false, reason: (error as Error).message };
  }
}
