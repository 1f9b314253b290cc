/** Bundled by simd-threads-browser.test.ts as /worker.js: runs the threads check in a Web Worker. */
import { threadsCheck } from './threads-check.js';

const scope = globalThis as unknown as { onmessage: (event: { data: number }) => void; postMessage(message: unknown): void };
scope.onmessage = async ({ data: seed }) => {
  try {
    scope.postMessage(await threadsCheck(seed));
  } catch (error) {
    scope.postMessage({ error: String((error as Error)?.stack ?? error) });
  }
};
