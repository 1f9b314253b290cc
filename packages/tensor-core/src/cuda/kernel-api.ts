import { InvalidConfigError } from '../errors.js';
import { type KernelImpl, type KernelName, registerKernel } from '../kernel-registry.js';
import type { Tensor } from '../tensor.js';
import type { CudaBackend } from './cuda-backend.js';
import asyncCopy from './include/kvkit/async-copy.cuh';
import mma from './include/kvkit/mma.cuh';
import prelude from './include/kvkit/prelude.cuh';
import vec16 from './include/kvkit/vec16.cuh';
import type {} from './kernel-signatures.js';
import type { CudaSource, KernelArg } from './runtime-contract.js';

/** The include name of the shared prelude (types, f16/bf16, strided layouts, reductions). */
export const PRELUDE_INCLUDE = 'kvkit/prelude.cuh';
/** The include name of the shared cp.async wrappers (global → shared copies that do not wait). */
export const ASYNC_COPY_INCLUDE = 'kvkit/async-copy.cuh';
/** The include name of the shared 16-byte row vectors (KvVec16 and its per-dtype lanes). */
export const VEC16_INCLUDE = 'kvkit/vec16.cuh';
/** The include name of the shared tensor-core fragment operations (ldmatrix, mma.m16n8k16, f16x2/bf16x2 packing). */
export const MMA_INCLUDE = 'kvkit/mma.cuh';

/** A CUDA C module as packages declare it; compiled on first use, once per backend (and cached on disk). */
export interface CudaModuleDefinition extends CudaSource {
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Declares a CUDA C module. `source` is the `.cu` text (import it with the `.cu` text loader, or
 * write it inline); it may `#include "kvkit/prelude.cuh"`, `"kvkit/async-copy.cuh"`, `"kvkit/vec16.cuh"` and `"kvkit/mma.cuh"`, which every module gets. Kernels are
 * `extern "C" __global__` functions, launched by name through `backend.launch(module, name, …)`.
 */
export function defineCudaModule(definition: { name: string; source: string; headers?: Readonly<Record<string, string>>; options?: readonly string[] }): CudaModuleDefinition {
  if (!/^[A-Za-z0-9_.-]+$/.test(definition.name)) {
    throw new InvalidConfigError(`defineCudaModule: name "${definition.name}" must be letters, digits, '_', '.' or '-'`);
  }
  return Object.freeze({
    name: definition.name,
    source: definition.source,
    headers: Object.freeze({ [PRELUDE_INCLUDE]: prelude, [ASYNC_COPY_INCLUDE]: asyncCopy, [VEC16_INCLUDE]: vec16, [MMA_INCLUDE]: mma, ...(definition.headers ?? {}) }),
    options: definition.options ?? [],
  });
}

/** Registers the CUDA implementation of `kernel` (the kernel registry key is `(kernel, 'cuda')`). */
export function registerCudaKernel<K extends KernelName>(kernel: K, impl: KernelImpl<K, CudaBackend>): void {
  registerKernel<K, CudaBackend>(kernel, 'cuda', impl);
}

/** Typed kernel arguments, in the order of the kernel's parameters. */
export const arg = {
  ptr: (value: number): KernelArg => ({ type: 'ptr', value }),
  i32: (value: number): KernelArg => ({ type: 'i32', value }),
  u32: (value: number): KernelArg => ({ type: 'u32', value }),
  i64: (value: number): KernelArg => ({ type: 'i64', value }),
  f32: (value: number): KernelArg => ({ type: 'f32', value }),
  f64: (value: number): KernelArg => ({ type: 'f64', value }),
  bool: (value: boolean): KernelArg => ({ type: 'i32', value: value ? 1 : 0 }),
  struct: (value: Uint8Array, align: number): KernelArg => ({ type: 'bytes', value, align }),
};

/** Threads per block for 1-D elementwise kernels. */
export const BLOCK = 256;

/**
 * Blocks for a grid-stride loop over `n` items: enough to fill the device (8 blocks of 256 per SM)
 * without launching one block per element.
 */
export function gridFor(n: number, backend: CudaBackend, block = BLOCK): number {
  return Math.max(1, Math.min(Math.ceil(n / block), backend.device.multiprocessors * 8));
}

/** The dtype name as kernel names spell it (kv_unary_f16 ...). */
export function suffix(t: Tensor): string {
  return t.dtype;
}
