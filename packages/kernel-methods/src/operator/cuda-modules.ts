// This package's CUDA modules as defineCudaModule would make them, and the launch arguments they
// take, without importing tensor-core's CUDA entry point: importing kernel-methods loads neither it
// nor a CUDA prelude. Every module gets the shared radial profiles (radial-profile.cuh).
import type { CudaModuleDefinition } from '@kvkit/tensor-core/cuda';
import radialProfileHeader from './radial-profile.cuh';

/** A module named `name` from `source` (its sizes' #defines prepended by the caller). */
export function kernelMethodsCudaModule(name: string, source: string): CudaModuleDefinition {
  return Object.freeze({ name, source, headers: Object.freeze({ 'radial-profile.cuh': radialProfileHeader }), options: [] });
}

/** Typed kernel arguments, as tensor-core/cuda's `arg`. */
export const arg = {
  ptr: (value: number) => ({ type: 'ptr' as const, value }),
  i32: (value: number) => ({ type: 'i32' as const, value }),
  i64: (value: number) => ({ type: 'i64' as const, value }),
  f32: (value: number) => ({ type: 'f32' as const, value }),
  f64: (value: number) => ({ type: 'f64' as const, value }),
};
