/**
 * Bundled by simd-threads-browser.test.ts as the page: runs the threads check on the page's main
 * thread (where the calling thread polls, as Atomics.wait is refused there) or hands it to
 * /worker.js (threads-worker.ts) and relays the answer.
 */
import { type ThreadsRun, threadsCheck } from './threads-check.js';

/** The part of the DOM's Worker used here (this package's TypeScript settings have no DOM library). */
interface PageWorker {
  onmessage: (event: { data: ThreadsRun | { error: string } }) => void;
  onerror: (event: { message: string }) => void;
  postMessage(message: unknown): void;
  terminate(): void;
}
const { Worker } = globalThis as unknown as { Worker: new (url: string, options: { type: 'module' }) => PageWorker };

function threadsCheckInWorker(seed: number): Promise<ThreadsRun> {
  const worker = new Worker('/worker.js', { type: 'module' });
  return new Promise((resolve, reject) => {
    worker.onmessage = (event) => {
      worker.terminate();
      if ('error' in event.data) reject(new Error(event.data.error));
      else resolve(event.data);
    };
    worker.onerror = (event) => reject(new Error(`the worker failed: ${event.message}`));
    worker.postMessage(seed);
  });
}

Object.assign(globalThis, { threadsCheck, threadsCheckInWorker });
