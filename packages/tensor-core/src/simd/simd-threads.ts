// Worker threads for the SIMD loops: each worker instantiates an arena's modules on the arena's
// shared memory and runs one export per job on its own arguments, while the calling thread runs
// its own share. In Node (worker_threads through process.getBuiltinModule) the pool starts on first
// use; in a cross-origin isolated page, `startSimdThreads` starts it (thread-host.ts says why).
// Elsewhere, or with setSimdThreads(1), there is no pool and callers run on one thread.
import { type HostedWorker, type ThreadHost, threadHost, waitWhile } from './thread-host.js';

/** Most argument values a job passes to an export. */
const MAX_ARGS = 14;
/** Per worker: the export's index, its argument count, then the arguments. */
const SLOT = MAX_ARGS + 2;
/** control[SEQUENCE] counts jobs; control[DONE] counts workers finished with the current one. */
const SEQUENCE = 0;
const DONE = 1;
const KIND = 2;
const FAILED = 3;
const CALL = 1;
const DETACH = 2;
/**
 * How long a worker polls for its next job, and the caller for the workers' end of one, before
 * blocking in Atomics.wait. Waking a blocked thread costs a futex call on each side, 0.1 ms a
 * hand-off on the VMs measured; jobs handed off back to back (CG's and Lanczos's products, a
 * little JavaScript between them) are caught while polling in 1–20 µs. A poll that finds nothing
 * costs at most this much of a core, as an OpenMP or BLAS thread pool's spin does.
 */
const POLL_MS = 0.2;
/** Most workers a pool starts. */
const MAX_WORKERS = 8;
/** How long an attach (or a start) waits for the workers to instantiate the modules (the first one also starts them, ≈ 0.1 s; generous for a loaded CI machine). */
const ATTACH_TIMEOUT_MS = 30_000;

// The worker's whole program, the same script for Node and browsers. Its first message hands it
// the pool's control cells and its slot, which it acknowledges ('ready'); then, on each attach
// message, it instantiates the modules on the memory and serves jobs until told to detach, which
// returns it to its event loop for the next attach.
//
// Node evaluates it as CommonJS, or as an ES module when the process runs with --input-type=module
// (workers inherit execArgv), where there is no require: process.getBuiltinModule serves both.
const WORKER_SOURCE = `
const POLL_MS = ${POLL_MS};
const port = globalThis.process?.getBuiltinModule?.('node:worker_threads')?.parentPort ?? null;
const post = (message) => (port ? port.postMessage(message) : postMessage(message));
let control, args, base;
const finish = () => { Atomics.add(control, ${DONE}, 1); Atomics.notify(control, ${DONE}); };
const serve = ({ memory, modules, names }) => {
  let functions = [];
  try {
    const imports = { env: { memory } };
    const exports = Object.assign({}, ...modules.map((module) => new WebAssembly.Instance(module, imports).exports));
    functions = names.map((name) => exports[name]);
  } catch (error) {
    Atomics.store(control, ${FAILED}, 1);
  }
  let seen = Atomics.load(control, ${SEQUENCE});
  finish();
  for (;;) {
    const pollUntil = performance.now() + POLL_MS;
    while (Atomics.load(control, ${SEQUENCE}) === seen && performance.now() < pollUntil);
    Atomics.wait(control, ${SEQUENCE}, seen);
    seen = Atomics.load(control, ${SEQUENCE});
    if (Atomics.load(control, ${KIND}) === ${DETACH}) return finish();
    const index = args[base];
    if (index >= 0) {
      try {
        functions[index](...args.subarray(base + 2, base + 2 + args[base + 1]));
      } catch (error) {
        Atomics.store(control, ${FAILED}, 1);
      }
    }
    finish();
  }
};
const receive = (message) => {
  if (control) return serve(message);
  control = new Int32Array(message.control);
  args = new Float64Array(message.args);
  base = message.slot * ${SLOT};
  post('ready');
};
if (port) port.on('message', receive);
else self.onmessage = (event) => receive(event.data);
`;

interface Pool {
  host: ThreadHost;
  workers: HostedWorker[];
  /** Workers that take jobs: every one in Node; in browsers, those `startSimdThreads` saw start. */
  usable: number;
  /** A browser start in progress. */
  starting: Promise<void> | null;
  control: Int32Array;
  args: Float64Array;
  attached: SimdThreads | null;
}

let requested: number | undefined;
let pool: Pool | null | undefined;

/**
 * Threads the SIMD loops of every kvkit package may use, the caller's included: 1 turns the worker
 * threads off; no argument restores the default, the machine's available parallelism (at most 4).
 * Takes effect for arenas created afterwards; a larger count than the pool has starts more workers
 * (8 at most; in browsers, at the next `startSimdThreads`).
 */
export function setSimdThreads(count?: number): void {
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new RangeError(`setSimdThreads: count must be an integer >= 1, got ${count}`);
  requested = count;
}

/** The thread count the next arena gets (1 where workers are unavailable, or in a browser before `startSimdThreads`). */
export function simdThreadCount(): number {
  const host = pool === null ? null : threadHost(); // null: found unavailable, or failed once
  if (!host) return 1;
  const wanted = wantedThreads(host);
  return host.kind === 'node' ? wanted : Math.min(wanted, (pool?.usable ?? 0) + 1);
}

/** The requested thread count (default: available parallelism, at most 4), capped by the pool's size. */
function wantedThreads(host: ThreadHost): number {
  return Math.min(requested ?? Math.min(4, host.parallelism), MAX_WORKERS + 1);
}

/**
 * Starts the worker threads now and resolves with the thread count arenas get from then on.
 * Browsers need this call, once, before the work: a worker there starts only after its creator
 * returns to the event loop, which kvkit's synchronous calls never do. It works from a Web Worker
 * or the page itself, in a cross-origin isolated page (served with `Cross-Origin-Opener-Policy:
 * same-origin` and `Cross-Origin-Embedder-Policy: require-corp`, for SharedArrayBuffer); elsewhere
 * it resolves with 1 and the loops run on one thread. In Node the pool starts on first use, and
 * this call only starts it early.
 */
export async function startSimdThreads(): Promise<number> {
  const host = pool === null ? null : threadHost();
  if (!host) return 1;
  const current = poolWith(host, wantedThreads(host) - 1);
  await current?.starting;
  return simdThreadCount();
}

/** The pool with at least `workers` workers started (in browsers, once `starting` settles), or null where threads are unavailable. */
function poolWith(host: ThreadHost, workers: number): Pool | null {
  try {
    pool ??= { host, workers: [], usable: 0, starting: null, control: new Int32Array(new SharedArrayBuffer(16)), args: new Float64Array(new SharedArrayBuffer(8 * SLOT * MAX_WORKERS)), attached: null };
    const current = pool;
    if (current.workers.length >= workers) return current;
    const first = current.workers.length;
    const started: Array<Promise<boolean>> = [];
    for (let slot = first; slot < workers; slot++) {
      let settle: (ok: boolean) => void = () => {};
      started.push(new Promise((resolve) => (settle = resolve)));
      const worker = host.spawn(WORKER_SOURCE, () => settle(true), () => {
        settle(false);
        if (slot < current.usable) pool = null; // a worker that took jobs is gone: one thread from now on
      });
      worker.postMessage({ control: current.control.buffer, args: current.args.buffer, slot });
      current.workers.push(worker);
    }
    if (host.kind === 'node') current.usable = current.workers.length; // they start while an attach waits
    else current.starting = startedInTime(started).then((ok) => {
      if (ok) current.usable = current.workers.length;
      else pool = null; // a blocked script URL, or workers that never started: one thread from now on
      current.starting = null;
    });
    return current;
  } catch {
    // A runtime with the API but not all of it (workers from source, shared buffers in messages): one thread from now on.
    pool = null;
    return null;
  }
}

/** Whether every worker reported its start within the attach timeout. */
async function startedInTime(started: Array<Promise<boolean>>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ATTACH_TIMEOUT_MS)));
  const all = Promise.all(started).then((results) => results.every(Boolean));
  try {
    return await Promise.race([all, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Worker threads for one shared arena: `run` calls an export on every thread at once, each with its
 * own arguments, and returns when all have finished. The pool's workers serve one arena at a time:
 * a `run` on an arena whose workers another arena has since taken (or that `release`d them) takes
 * them back first, which costs an instantiation of its modules on each worker (≈ 0.15 ms for
 * tensor-core's on a 2-core VM), so arenas in use at the same time share the pool correctly.
 */
export class SimdThreads {
  private readonly names: string[];

  private constructor(
    private readonly pool: Pool,
    private readonly memory: object,
    private readonly modules: object[],
    private readonly exports: Record<string, (...args: number[]) => void>,
    /** Threads taking part in each job, the caller's included. */
    readonly count: number,
  ) {
    this.names = Object.keys(exports);
  }

  /**
   * Workers serving `modules` instantiated on the shared `memory`; `exports` are the caller's own
   * instances' functions (the caller's share of each job runs there). Null when the thread count
   * is 1 or workers are unavailable or could not instantiate the modules.
   */
  static attach(memory: object, modules: object[], exports: Record<string, (...args: number[]) => void>): SimdThreads | null {
    const count = simdThreadCount();
    const host = threadHost();
    if (count < 2 || !host) return null;
    const current = poolWith(host, count - 1);
    if (!current) return null;
    const threads = new SimdThreads(current, memory, modules, exports, Math.min(count, current.usable + 1));
    return threads.takeWorkers() ? threads : null;
  }

  /** Whether the pool's workers serve this arena now (a `run` takes them back when not). */
  get attached(): boolean {
    return this.pool.attached === this;
  }

  /** Hands the pool's workers to this arena (detaching whichever had them); false if they could not take it. */
  private takeWorkers(): boolean {
    const current = this.pool;
    try {
      current.attached?.detach();
      const { workers, control } = current;
      const used = workers.slice(0, this.count - 1);
      Atomics.store(control, DONE, 0);
      Atomics.store(control, FAILED, 0);
      for (const worker of used) worker.postMessage({ memory: this.memory, modules: this.modules, names: this.names });
      if (!this.waitForWorkers(used.length, ATTACH_TIMEOUT_MS)) {
        // Workers that never came up (a starved machine): one thread from now on.
        pool = null;
        return false;
      }
      current.attached = this;
      if (Atomics.load(control, FAILED)) {
        this.detach();
        return false;
      }
      return true;
    } catch {
      // Workers that cannot be messaged (a memory or module the runtime will not post): one thread from now on.
      pool = null;
      return false;
    }
  }

  /**
   * Calls export `name` on every thread at once, thread t (0 is the caller) with args[t], or not at
   * all where args[t] is null, and returns when every call has returned. A worker's failure throws.
   */
  run(name: string, args: Array<number[] | null>): void {
    const { control, args: slots } = this.pool;
    const index = this.names.indexOf(name);
    if (index < 0) throw new Error(`SimdThreads.run: '${name}' is not an export of the arena's modules`);
    if (this.pool.attached !== this && (pool !== this.pool || !this.takeWorkers())) {
      // The workers are gone: every share runs here, one after another (the same values, later).
      for (const values of args) if (values) this.exports[name](...values);
      return;
    }
    for (let worker = 1; worker < this.count; worker++) {
      const values = args[worker] ?? null;
      if (values && values.length > MAX_ARGS) throw new Error(`SimdThreads.run: at most ${MAX_ARGS} arguments, got ${values.length}`);
      const base = (worker - 1) * SLOT;
      slots[base] = values ? index : -1;
      slots[base + 1] = values?.length ?? 0;
      if (values) slots.set(values, base + 2);
    }
    this.signal(CALL);
    try {
      if (args[0]) this.exports[name](...args[0]);
    } finally {
      this.waitForWorkers(this.count - 1);
    }
    if (Atomics.load(control, FAILED)) throw new Error(`SimdThreads.run: '${name}' failed on a worker thread`);
  }

  /** Returns the workers to their event loops (call when done with the arena). */
  detach(): void {
    if (this.pool.attached !== this) return;
    this.signal(DETACH);
    this.waitForWorkers(this.count - 1);
    this.pool.attached = null;
  }

  private signal(kind: number): void {
    const { control } = this.pool;
    Atomics.store(control, DONE, 0);
    Atomics.store(control, FAILED, 0);
    Atomics.store(control, KIND, kind);
    Atomics.add(control, SEQUENCE, 1);
    Atomics.notify(control, SEQUENCE);
  }

  /** Waits until `expected` workers have reported; false if `timeoutMs` passed first. */
  private waitForWorkers(expected: number, timeoutMs = Infinity): boolean {
    const { control } = this.pool;
    const deadline = performance.now() + timeoutMs;
    const pollUntil = performance.now() + POLL_MS;
    while (Atomics.load(control, DONE) < expected && performance.now() < pollUntil);
    for (let done = Atomics.load(control, DONE); done < expected; done = Atomics.load(control, DONE)) {
      const left = deadline - performance.now();
      if (left <= 0 || !waitWhile(control, DONE, done, left)) return false;
    }
    return true;
  }
}
