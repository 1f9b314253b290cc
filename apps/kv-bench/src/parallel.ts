import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CalibrationData } from './calibration.js';
import { type MethodMeasurement, referenceFirst, toRecord } from './measure.js';
import type { MethodRun } from './methods.js';
import type { BenchRecord } from './record.js';
import type { BenchSettings } from './settings.js';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-protocol.js';

export interface ParallelBenchInput {
  modelDir: string;
  /** Each worker's model keeps an f16/bf16 checkpoint's matrices as stored (loadModel's halfWeights). */
  halfWeights?: boolean;
  /** config.json fields each worker's model replaces (loadModel's configOverrides). */
  configOverrides?: Record<string, unknown>;
  backend: string;
  text: string;
  /** Rows, already validated in this thread (parseMethodList), so bad input fails before any worker starts. */
  methods: MethodRun[];
  settings: BenchSettings;
  calibration: CalibrationData;
  workers: number;
  onProgress?: (label: string, tokens: number) => void;
}

/** A failure inside a worker, with the code of the error it caught there (KvkitError codes cross as strings). */
export class BenchWorkerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'BenchWorkerError';
  }
}

/**
 * runBench on several worker threads, one model copy each: rows are handed out one at a time to
 * whichever worker is free, the reference row first; its log-probabilities are broadcast to every
 * worker (the other rows need them for KL only at the end of their run). Same records as runBench.
 */
export async function runBenchParallel({ modelDir, halfWeights = false, configOverrides = {}, backend, text, methods, settings, calibration, workers, onProgress }: ParallelBenchInput): Promise<BenchRecord[]> {
  const ordered = referenceFirst(methods);
  const count = Math.max(1, Math.min(workers, ordered.length));
  // Workers already fill the cores: a worker's products take threads only from the cores left over.
  const setup: WorkerSetup = { modelDir, halfWeights, configOverrides, backend, text, settings, calibration, threads: Math.max(1, Math.floor(availableParallelism() / count)) };
  const results: MethodMeasurement[] = [];
  let next = 0;
  let finished = 0;
  const pool: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const dispatch = (worker: Worker) => {
        if (next >= ordered.length) return void worker.postMessage({ type: 'exit' } satisfies ToWorker);
        const index = next++;
        worker.postMessage({ type: 'run', index, spec: ordered[index].label, isReference: index === 0 } satisfies ToWorker);
      };
      for (let w = 0; w < count; w++) {
        const worker = new Worker(new URL('./bench-worker.js', import.meta.url), { workerData: setup });
        pool.push(worker);
        worker.on('message', (message: FromWorker) => {
          if (message.type === 'ready') dispatch(worker);
          else if (message.type === 'progress') onProgress?.(message.label, message.tokens);
          else if (message.type === 'reference') {
            // The producing worker already holds them; the others get a copy for their KL.
            for (const other of pool) if (other !== worker) other.postMessage({ type: 'reference', logProbs: message.logProbs } satisfies ToWorker);
          }
          else if (message.type === 'result') {
            results[message.index] = message.measurement;
            if (++finished === ordered.length) resolve();
          } else reject(new BenchWorkerError(message.code ?? 'WORKER_FAILED', message.message));
        });
        worker.on('error', reject);
        worker.on('exit', (code) => {
          if (code !== 0) reject(new BenchWorkerError('WORKER_FAILED', `a kv-bench worker exited with code ${code}`));
        });
      }
    });
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
  return results.map((m) => toRecord(m, results[0].recall));
}
