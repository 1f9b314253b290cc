import type { CudaBackend } from '@kvkit/tensor-core/cuda';
import type { loadCudaRuntime } from '@kvkit/cuda-runtime';

/** Mean device time of `body` in ms: two warm-up runs, then CUDA events around `reps` runs. */
export async function timeDeviceMs(runtime: ReturnType<typeof loadCudaRuntime>, cuda: CudaBackend, reps: number, body: () => void): Promise<number> {
  body();
  body();
  await cuda.synchronize();
  const start = runtime.createEvent();
  const end = runtime.createEvent();
  start.record();
  for (let i = 0; i < reps; i++) body();
  end.record();
  await cuda.synchronize();
  const ms = end.elapsedSince(start) / reps;
  start.dispose();
  end.dispose();
  return ms;
}
