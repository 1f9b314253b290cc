// Worker threads for the SIMD loops: each worker instantiates an arena's modules on the arena's
// shared memory and runs one export per job on its own arguments, while the calling thread runs
// its own share. Node only (worker_threads through process.getBuiltinModule, and Atomics.wait on the
// main thread); elsewhere, or with setSimdThreads(1), there is no pool and callers run on one thread.

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
/** How long an attach waits for the workers to instantiate the modules (the first one also starts them, ≈ 0.1 s; generous for a loaded CI machine). */
const ATTACH_TIMEOUT_MS = 30_000;

// The worker's whole program. On an attach message it instantiates the modules on the memory and
// serves jobs until told to detach, which returns it to its event loop for the next attach.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const control = new Int32Array(workerData.control);
const args = new Float64Array(workerData.args);
const base = workerData.slot * ${SLOT};
const finish = () => { Atomics.add(control, ${DONE}, 1); Atomics.notify(control, ${DONE}); };
parentPort.on('message', ({ memory, modules, names }) => {
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
});
`;

interface NodeWorker {
  postMessage(message: unknown): void;
  unref(): void;
}

interface WorkerModule {
  Worker: new (source: string, options: { eval: boolean; workerData: unknown }) => NodeWorker;
}

interface Pool {
  workers: NodeWorker[];
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
 * (8 at most).
 */
export function setSimdThreads(count?: number): void {
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) throw new RangeError(`setSimdThreads: count must be an integer >= 1, got ${count}`);
  requested = count;
}

/** The thread count the next arena gets (1 where workers are unavailable). */
export function simdThreadCount(): number {
  if (pool === null || !workerModule()) return 1; // null: found unavailable, or failed once
  const os = nodeBuiltin('node:os') as { availableParallelism?: () => number } | undefined;
  return requested ?? Math.min(4, os?.availableParallelism?.() ?? 1);
}

/** A Node built-in module without an import statement (bundles for browsers stay free of it); undefined elsewhere. */
function nodeBuiltin(name: string): unknown {
  return (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process?.getBuiltinModule?.(name);
}

function workerModule(): WorkerModule | undefined {
  return nodeBuiltin('node:worker_threads') as WorkerModule | undefined;
}

/** The pool with at least `workers` workers, or null where threads are unavailable. */
function poolWith(workers: number): Pool | null {
  if (pool === undefined) {
    if (!workerModule() || typeof SharedArrayBuffer === 'undefined') pool = null;
    else pool = { workers: [], control: new Int32Array(new SharedArrayBuffer(16)), args: new Float64Array(new SharedArrayBuffer(8 * SLOT * 8)), attached: null };
  }
  if (!pool) return null;
  const { Worker } = workerModule() as WorkerModule;
  while (pool.workers.length < Math.min(workers, 8)) {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { control: pool.control.buffer, args: pool.args.buffer, slot: pool.workers.length } });
    worker.unref(); // an idle pool never keeps the process alive
    pool.workers.push(worker);
  }
  return pool;
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
    if (count < 2) return null;
    let current: Pool | null;
    try {
      current = poolWith(count - 1);
    } catch {
      // A runtime with Node's API but not all of it (workers from source): one thread from now on.
      pool = null;
      return null;
    }
    if (!current) return null;
    const threads = new SimdThreads(current, memory, modules, exports, Math.min(count, current.workers.length + 1));
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
      // Atomics.wait refused on this thread, or workers that cannot be messaged: one thread from now on.
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
    for (let done = Atomics.load(control, DONE); done < expected; done = Atomics.load(control, DONE)) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(control, DONE, done, left);
    }
    return true;
  }
}
