import type { CudaBackend } from '@kvkit/tensor-core/cuda';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
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

/**
 * Mean GPU ms per repetition of `body` on WebGPU after a warm-up: timestamp queries where the adapter
 * has them, wall time otherwise. Each repetition is flushed on its own, so its buffers return to the
 * pool and the next one reuses them.
 */
export async function timeWebGpuMs(backend: WebGpuBackend, reps: number, body: () => void): Promise<number> {
  body();
  await backend.synchronize();
  const timing = await backend.timeGpu(() => {
    for (let r = 0; r < reps; r++) {
      body();
      backend.flush();
    }
  });
  return (timing.gpuMs ?? timing.wallMs) / reps;
}
