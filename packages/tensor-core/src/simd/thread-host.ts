// Where the SIMD loops' worker threads come from, and how a thread waits for them: Node's
// worker_threads, or a browser's Worker in a cross-origin isolated page (the only kind that may
// share memory). Browsers differ from Node in two ways that shape the pool: a worker starts only
// once its creator returns to the event loop (so the pool is started ahead, by an async call), and
// a page's main thread may not Atomics.wait (so it polls instead, as it would sit blocked anyway).

/** A started worker as the pool drives it. */
export interface HostedWorker {
  postMessage(message: unknown): void;
}

export interface ThreadHost {
  /**
   * 'node': a worker started now runs while its creator blocks, so the pool can grow on demand;
   * 'web': it runs only after its creator yields, so workers are started by `startSimdThreads`.
   */
  readonly kind: 'node' | 'web';
  /** Logical processors the runtime reports. */
  readonly parallelism: number;
  /**
   * A worker running `source` (a classic script); `onMessage` receives what it posts, `onError` a
   * failure to load or run it.
   */
  spawn(source: string, onMessage: (data: unknown) => void, onError: () => void): HostedWorker;
}

interface NodeWorker extends HostedWorker {
  unref(): void;
  on(event: 'message' | 'error', listener: (value: unknown) => void): void;
}

interface WorkerThreadsModule {
  Worker: new (source: string, options: { eval: boolean }) => NodeWorker;
}

interface WebWorker extends HostedWorker {
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: (() => void) | null;
}

interface WebGlobals {
  Worker?: new (url: string) => WebWorker;
  Blob?: new (parts: string[], options: { type: string }) => object;
  URL?: { createObjectURL(blob: object): string };
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}

/** A Node built-in module without an import statement (bundles for browsers stay free of it); undefined elsewhere. */
function nodeBuiltin(name: string): unknown {
  return (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process?.getBuiltinModule?.(name);
}

let host: ThreadHost | null | undefined;

/** This runtime's host, or null where threads cannot share memory here (no workers, no SharedArrayBuffer, a page without cross-origin isolation). */
export function threadHost(): ThreadHost | null {
  if (host === undefined) host = typeof SharedArrayBuffer === 'undefined' ? null : (nodeHost() ?? webHost());
  return host;
}

function nodeHost(): ThreadHost | null {
  const threads = nodeBuiltin('node:worker_threads') as WorkerThreadsModule | undefined;
  if (!threads) return null;
  const os = nodeBuiltin('node:os') as { availableParallelism?: () => number } | undefined;
  return {
    kind: 'node',
    parallelism: os?.availableParallelism?.() ?? 1,
    spawn(source, onMessage, onError) {
      const worker = new threads.Worker(source, { eval: true });
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.unref(); // an idle pool never keeps the process alive
      return worker;
    },
  };
}

function webHost(): ThreadHost | null {
  const web = globalThis as WebGlobals;
  const { Worker, Blob, URL } = web;
  // Without cross-origin isolation a page has no shared memory to hand its workers.
  if (!Worker || !Blob || !URL || web.crossOriginIsolated !== true) return null;
  let scriptUrl: string | undefined;
  return {
    kind: 'web',
    parallelism: web.navigator?.hardwareConcurrency ?? 1,
    spawn(source, onMessage, onError) {
      // One object URL for every worker of the pool (it lives as long as the page's pool).
      scriptUrl ??= URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
      const worker = new Worker(scriptUrl);
      worker.onmessage = (event) => onMessage(event.data);
      worker.onerror = onError;
      return worker;
    },
  };
}

let mayBlock: boolean | undefined;

/**
 * Waits until `cells[index]` no longer holds `value`, or `timeoutMs` passed (then false): by
 * Atomics.wait where this thread may block, else (a page's main thread) by polling it.
 */
export function waitWhile(cells: Int32Array, index: number, value: number, timeoutMs: number): boolean {
  if (mayBlock === undefined) {
    try {
      Atomics.wait(cells, index, Atomics.load(cells, index) + 1, 0);
      mayBlock = true;
    } catch {
      mayBlock = false; // "Atomics.wait cannot be called in this context"
    }
  }
  if (mayBlock) return Atomics.wait(cells, index, value, timeoutMs) !== 'timed-out';
  const deadline = performance.now() + timeoutMs;
  while (Atomics.load(cells, index) === value) if (performance.now() > deadline) return false;
  return true;
}
