// What the tensor-core pass tests share: an emulated CUDA backend that logs the pass-1 kernels it
// launches (so a case can check dispatch took the kernel it targets), and the check of a result
// against the CPU's together with the kernels that produced it. Their random inputs come from
// ../gpu/paged-inputs.ts (gapped positions, paged pools) like the GPU parity cases'.
import { loadCudaRuntime } from '@kvkit/cuda-runtime';
import { getBackend, type Tensor, tensor, toBackend } from '@kvkit/tensor-core';
import { type CudaBackend, type CudaModuleDefinition, createCudaBackend } from '@kvkit/tensor-core/cuda';
import { afterEach, beforeAll, beforeEach, expect, vi } from 'vitest';
import type { KernelResult } from '../../src/index.js';
import { compareResults } from '../gpu/parity-cases.js';

/** The emulated backend with `modules` compiled up front; every pass-1 kernel it launches is pushed onto `launched`. */
async function emulatedCudaLoggingPassOne(modules: readonly CudaModuleDefinition[], launched: string[]): Promise<CudaBackend> {
  const cuda = await createCudaBackend({ runtime: () => loadCudaRuntime({ emulate: true }) });
  for (const module of modules) cuda.module(module);
  const launch = cuda.launch.bind(cuda);
  cuda.launch = (definition, kernel, config, args) => {
    if (kernel.includes('_partial')) launched.push(kernel);
    launch(definition, kernel, config, args);
  };
  return cuda;
}

/** The emulated backend of a pass test's suite, its pass-1 log (emptied before each case), and `onCuda`. */
export interface PassOneSuite {
  readonly cuda: CudaBackend;
  readonly launched: string[];
  /** A copy of `t` on the emulated backend. */
  onCuda(t: Tensor): Promise<Tensor>;
}

/**
 * Registers a pass test file's hooks: the emulated backend built once with `modules` (logging its
 * pass-1 launches), the log emptied before every case, stubbed environment variables undone after.
 */
export function passOneSuite(modules: readonly CudaModuleDefinition[]): PassOneSuite {
  let cuda: CudaBackend | undefined;
  const launched: string[] = [];
  beforeAll(async () => {
    cuda = await emulatedCudaLoggingPassOne(modules, launched);
  }, 600_000);
  beforeEach(() => {
    launched.length = 0;
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });
  const backend = (): CudaBackend => {
    if (!cuda) throw new Error('passOneSuite: the emulated backend is built in beforeAll; use it inside a case');
    return cuda;
  };
  return {
    get cuda() {
      return backend();
    },
    launched,
    onCuda: (t) => toBackend(t, backend()),
  };
}

/** Worst relative error against the CPU within `limit`, and every pass-1 kernel launched named with the prefix `expected`. */
export async function expectPassOne(got: KernelResult, ref: KernelResult, launched: readonly string[], expected: string, limit: number, seed: number): Promise<void> {
  const error = await compareResults(got, ref);
  expect(launched.length).toBeGreaterThan(0);
  for (const kernel of launched) expect(kernel.startsWith(expected), `pass 1 ran ${kernel}, not ${expected}*`).toBe(true);
  if (!(error <= limit)) throw new Error(`relative error ${error} > ${limit} [seed ${seed}]`);
}

/** An i32 tensor on the CPU backend (positions, block tables, lengths). */
export function ints(values: Int32Array, shape: number[]): Tensor {
  return tensor(values, shape, { dtype: 'i32', backend: getBackend('cpu') });
}
