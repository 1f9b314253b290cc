// What this package's device kernels share: which kernels they run (`deviceProfileOn`), its CUDA
// modules as defineCudaModule would make them and the launch arguments they take (without importing tensor-core's CUDA entry point: importing
// kernel-methods loads neither it nor a CUDA prelude), every one with the radial profiles of
// radial-profile.cuh; and the same profiles in WGSL.
import type { Backend } from '@kvkit/tensor-core';
import type { CudaModuleDefinition } from '@kvkit/tensor-core/cuda';
import type { DeviceProfile } from '../kernels/device-profile.js';
import type { Kernel } from '../kernels/kernel.js';
import radialProfileHeader from './radial-profile.cuh';

/** The kernel's radial profile when `backend` is one this package has kernels for (CUDA, WebGPU); else undefined. */
export function deviceProfileOn(kernel: Kernel, backend: Backend): DeviceProfile | undefined {
  if (backend.name !== 'cuda' && backend.name !== 'webgpu') return undefined;
  return (kernel as { deviceProfile?: DeviceProfile }).deviceProfile;
}

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

/**
 * The radial profiles of radial-profile.cuh in WGSL (f32), reading the uniforms `code`, `a` and `b`
 * that a program using it declares.
 */
export const WGSL_PROFILE = `
fn km_profile(s: f32) -> f32 {
  let a = u_a();
  let b = u_b();
  let code = u_code();
  if (code == 0u) { return exp(-a * s); }
  if (code == 1u) { return pow(a + s, -b); }
  if (code == 2u) { return exp(-a * sqrt(s)); }
  let z = a * sqrt(s);
  if (code == 3u) { return (1.0 + z) * exp(-z); }
  return (1.0 + z + z * z * (1.0 / 3.0)) * exp(-z);
}`;
