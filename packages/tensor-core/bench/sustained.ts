/**
 * Sustained GPU timing for memory-bound kernels. A few milliseconds of work after a host-side pause
 * run at the GPU's idle clocks (the first H200 run measured 10–26% of PyTorch's copy that way), so
 * every measurement here first keeps the GPU busy for `warmupMs` with the same work, then times
 * enough repetitions to fill `timedMs`, and reports the median and best repetition next to the mean.
 */
import type { WebGpuBackend } from '../src/webgpu/index.js';
import { BufferUsage, MapMode } from '../src/webgpu/gpu-flags.js';

export interface SustainOptions {
  warmupMs: number;
  timedMs: number;
  minReps: number;
  maxReps: number;
}

export interface Sustained {
  reps: number;
  /** Median / best / mean GPU ms per repetition. */
  medianMs: number;
  bestMs: number;
  meanMs: number;
  /** Host wall ms per repetition over the timed batch (submission gaps included). */
  wallMs: number;
  /** Where median/best come from: per-pass timestamps, timestamps around copies, chunk means, or wall time. */
  source: 'pass timestamps' | 'timestamps around copies' | 'chunks of passes' | 'wall';
  warmupWallMs: number;
  /** Epoch ms of the timed window (for the clock samples). */
  window: [number, number];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median and best of the per-repetition samples; without samples every figure is the wall time per repetition. */
function summarize(samples: readonly number[], meanMs: number, wallMs: number): Pick<Sustained, 'medianMs' | 'bestMs' | 'meanMs' | 'wallMs'> {
  if (samples.length === 0) return { medianMs: wallMs, bestMs: wallMs, meanMs: wallMs, wallMs };
  return { medianMs: median(samples), bestMs: Math.min(...samples), meanMs, wallMs };
}

function repsFor(perRepMs: number, ms: number, options: SustainOptions): number {
  return Math.max(options.minReps, Math.min(options.maxReps, Math.ceil(ms / Math.max(perRepMs, 1e-3))));
}

/**
 * Work timed by `sustainRaw`: `record` puts `reps` repetitions into one encoder, writing timestamps
 * into the query set when one is given (`queries(reps)` of them: around each pass, or around the
 * copies for work outside passes); `durations` turns the resolved stamps into per-repetition ms.
 */
export interface RawWork {
  record(encoder: GPUCommandEncoder, reps: number, querySet: GPUQuerySet | undefined): void;
  /** Queries `reps` repetitions use. */
  queries(reps: number): number;
  durations(stamps: BigUint64Array, reps: number): number[];
  source: Sustained['source'];
}

/** Runs `work` on `device` directly (no kvkit backend in between): warm-up, then one timed batch. */
export async function sustainRaw(device: GPUDevice, work: RawWork, options: SustainOptions, timestamps: boolean): Promise<Sustained> {
  const submit = async (reps: number, querySet?: GPUQuerySet): Promise<number> => {
    const encoder = device.createCommandEncoder();
    work.record(encoder, reps, querySet);
    const started = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - started;
  };
  // Warm-up: doubling batches (each at most ~100 ms) until warmupMs of wall time passed.
  let perRep = await submit(1);
  let warmupWallMs = perRep;
  let batch = 1;
  while (warmupWallMs < options.warmupMs) {
    batch = Math.max(1, Math.min(batch * 2, Math.ceil(100 / Math.max(perRep, 1e-3))));
    const ms = await submit(batch);
    warmupWallMs += ms;
    perRep = ms / batch;
  }
  const queryLimit = 4096;
  let reps = repsFor(perRep, options.timedMs, options);
  while (timestamps && work.queries(reps) > queryLimit) reps -= 1;
  const querySet = timestamps ? device.createQuerySet({ type: 'timestamp', count: work.queries(reps) }) : undefined;
  const start = Date.now();
  const wallMs = await submit(reps, querySet);
  const window: [number, number] = [start, Date.now()];
  let samples: number[] = [];
  if (querySet) {
    samples = work.durations(await readStamps(device, querySet, work.queries(reps)), reps).filter((ms) => ms > 0);
    querySet.destroy();
  }
  const meanMs = samples.reduce((s, x) => s + x, 0) / samples.length;
  return { reps, ...summarize(samples, meanMs, wallMs / reps), source: samples.length ? work.source : 'wall', warmupWallMs, window };
}

async function readStamps(device: GPUDevice, querySet: GPUQuerySet, count: number): Promise<BigUint64Array> {
  const bytes = count * 8;
  const resolve = device.createBuffer({ size: bytes, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
  const staging = device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.resolveQuerySet(querySet, 0, count, resolve, 0);
  encoder.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  try {
    await staging.mapAsync(MapMode.READ);
    return new BigUint64Array(staging.getMappedRange().slice(0));
  } finally {
    staging.destroy();
    resolve.destroy();
  }
}

/** ms between stamps[a] and stamps[b] (0 when the driver wrote them out of order). */
export function stampMs(stamps: BigUint64Array, a: number, b: number): number {
  return stamps[b] > stamps[a] ? Number(stamps[b] - stamps[a]) / 1e6 : 0;
}

/**
 * Times `body` (which records kvkit work and returns its output) through the backend's own timer:
 * warm-up, then chunks of repetitions (each chunk one `timeGpu`, each repetition its own submit
 * and compute pass, so its output buffer returns to the pool), median and best over chunk means.
 * Work without compute passes (buffer copies) has no GPU time: wall time is used then.
 */
export async function sustainKvkit(backend: WebGpuBackend, body: () => { dispose(): void }, options: SustainOptions): Promise<Sustained> {
  const chunk = async (reps: number) =>
    backend.timeGpu(() => {
      for (let r = 0; r < reps; r++) {
        body().dispose();
        backend.flush();
      }
    });
  const perRepOf = (t: { gpuMs: number | undefined; wallMs: number }, reps: number) => (t.gpuMs ?? t.wallMs) / reps;
  let first = await chunk(1);
  let perRep = perRepOf(first, 1);
  let warmupWallMs = first.wallMs;
  let batch = 1;
  while (warmupWallMs < options.warmupMs) {
    batch = Math.max(1, Math.min(batch * 2, Math.ceil(100 / Math.max(perRep, 1e-3))));
    first = await chunk(batch);
    warmupWallMs += first.wallMs;
    perRep = perRepOf(first, batch);
  }
  // At least 8 chunks of at least 1 repetition; chunk means give median and best.
  const reps = repsFor(perRep, options.timedMs, options);
  const chunks = Math.min(reps, Math.max(8, Math.ceil(reps / 32)));
  const perChunk = Math.ceil(reps / chunks);
  const means: number[] = [];
  let gpuTotal = 0;
  let wallTotal = 0;
  let timed = true;
  const start = Date.now();
  for (let c = 0; c < chunks; c++) {
    const t = await chunk(perChunk);
    if (t.gpuMs === undefined) timed = false;
    gpuTotal += t.gpuMs ?? 0;
    wallTotal += t.wallMs;
    means.push(perRepOf(t, perChunk));
  }
  const window: [number, number] = [start, Date.now()];
  const total = chunks * perChunk;
  return {
    reps: total,
    ...summarize(means, (timed ? gpuTotal : wallTotal) / total, wallTotal / total),
    source: timed ? 'chunks of passes' : 'wall',
    warmupWallMs,
    window,
  };
}
