// K(x, y)·V for a radial kernel on the CUDA and WebGPU backends in one fused pass (the KeOps idea):
// every thread owns one row of x and walks the rows of y, forming ‖x_i − y_j‖² by direct differences
// (no cancellation, as squaredDistanceTensor), applying the kernel's profile and accumulating into up
// to eight columns of the product in registers, so no kernel tile and no [t, t, d] difference tensor is
// ever stored. The rows of y are split into chunks (one grid row each, so the device has enough
// blocks) whose partial products a second launch sums: two launches per product, whatever n is.
import { type Backend, type Tensor } from '@kvkit/tensor-core';
import type { CudaBackend } from '@kvkit/tensor-core/cuda';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import type { DeviceProfile } from '../kernels/device-profile.js';
import type { Kernel } from '../kernels/kernel.js';
import { arg, deviceProfileOn, kernelMethodsCudaModule, WGSL_PROFILE } from './device-modules.js';
import radialProductSource from './radial-product.cu';

// Only types come from tensor-core's cuda / webgpu entry points, so importing this package loads neither.

/** Threads (rows of x) per block / workgroup. */
const ROWS = 128;
/** Rows of y staged in shared memory at a time. */
const STAGE = 32;
/** Largest feature count the fused kernels take (a thread keeps its row of x in a local array). */
export const MAX_FUSED_DIM = 64;
/** Product columns per thread (more columns: a third grid dimension). */
const COLS = 8;
/** Rows of y per chunk (grid row) before the partial products are summed. */
const CHUNK = 1024;

/** The kernel's device profile when the fused product can run it on `backend` for points of `dim` features. */
export function fusedProfile(kernel: Kernel, backend: Backend, dim: number): DeviceProfile | undefined {
  return dim >= 1 && dim <= MAX_FUSED_DIM ? deviceProfileOn(kernel, backend) : undefined;
}

/**
 * K(x, y)·V as an [x.rows, V.cols] f32 tensor on the backend of x, y and v (all row-major f32 with
 * offset 0): two launches (chunks' partial products, then their sum; one when y fits one chunk).
 */
export function fusedRadialProduct(backend: Backend, profile: DeviceProfile, x: Tensor, y: Tensor, v: Tensor): Tensor {
  const [n, d] = x.shape;
  const m = y.shape[0];
  const k = v.shape[1];
  const parts = Math.max(1, Math.ceil(m / CHUNK));
  const geometry = { n, m, d, k, parts, chunk: CHUNK, colGroups: Math.ceil(k / COLS) };
  if (backend.name === 'cuda') return cudaProduct(backend as CudaBackend, profile, geometry, x, y, v);
  return webGpuProduct(backend as WebGpuBackend, profile, geometry, x, y, v);
}

interface Geometry {
  n: number;
  m: number;
  d: number;
  k: number;
  parts: number;
  chunk: number;
  colGroups: number;
}

// The CUDA C source lives in radial-product.cu (compiled by NVRTC at first use); these sizes lead it.
const CUDA_SOURCE = `#define KM_ROWS ${ROWS}\n#define KM_STAGE ${STAGE}\n#define KM_MAXD ${MAX_FUSED_DIM}\n#define KM_COLS ${COLS}\n${radialProductSource}`;

const cudaModule = kernelMethodsCudaModule('kvkit-kernel-methods-radial-product', CUDA_SOURCE);

function cudaProduct(backend: CudaBackend, profile: DeviceProfile, g: Geometry, x: Tensor, y: Tensor, v: Tensor): Tensor {
  const out = backend.empty([g.n, g.k], 'f32');
  if (g.n === 0 || g.k === 0) return out;
  const partial = g.parts === 1 ? out : backend.empty([g.parts, g.n, g.k], 'f32');
  try {
    backend.launch(cudaModule, 'km_radial_product', { grid: [Math.ceil(g.n / ROWS), g.parts, g.colGroups], block: ROWS }, [
      arg.ptr(backend.address(partial)), arg.ptr(backend.address(x)), arg.ptr(backend.address(y)), arg.ptr(backend.address(v)),
      arg.i32(g.n), arg.i32(g.m), arg.i32(g.d), arg.i32(g.k), arg.i32(g.chunk), arg.i32(profile.code), arg.f32(profile.a), arg.f32(profile.b),
    ]);
    if (partial !== out) {
      backend.launch(cudaModule, 'km_sum_partials', { grid: Math.max(1, Math.min(Math.ceil((g.n * g.k) / 256), backend.device.multiprocessors * 8)), block: 256 }, [
        arg.ptr(backend.address(out)), arg.ptr(backend.address(partial)), arg.i32(g.parts), arg.i64(g.n * g.k),
      ]);
    }
  } finally {
    if (partial !== out) partial.dispose();
  }
  return out;
}

function webGpuProduct(backend: WebGpuBackend, profile: DeviceProfile, g: Geometry, x: Tensor, y: Tensor, v: Tensor): Tensor {
  const out = backend.empty([g.n, g.k], 'f32');
  if (g.n === 0 || g.k === 0) return out;
  const partial = g.parts === 1 ? out : backend.empty([g.parts, g.n, g.k], 'f32');
  try {
    const product = backend.program('kernel-methods:radial-product', () => ({
      bindings: [
        { name: 'x', dtype: 'f32', access: 'read' },
        { name: 'y', dtype: 'f32', access: 'read' },
        { name: 'v', dtype: 'f32', access: 'read' },
        { name: 'partial', dtype: 'f32', access: 'write' },
      ],
      uniforms: [
        ...['n', 'm', 'd', 'k', 'chunk', 'code'].map((name) => ({ name, type: 'u32' as const })),
        { name: 'a', type: 'f32' as const },
        { name: 'b', type: 'f32' as const },
      ],
      code: `
var<workgroup> ys: array<f32, ${STAGE * MAX_FUSED_DIM}>;
var<workgroup> vs: array<f32, ${STAGE * COLS}>;
${WGSL_PROFILE}
@compute @workgroup_size(${ROWS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = u_n();
  let m = u_m();
  let d = u_d();
  let k = u_k();
  let i = wid.x * ${ROWS}u + lid;
  let j0 = wid.y * u_chunk();
  let j1 = min(m, j0 + u_chunk());
  let l0 = wid.z * ${COLS}u;
  let width = min(${COLS}u, k - l0);
  var xi: array<f32, ${MAX_FUSED_DIM}>;
  for (var t = 0u; t < d; t = t + 1u) { xi[t] = select(0.0, x_load(min(i, n - 1u) * d + t), i < n); }
  var acc: array<f32, ${COLS}>;
  for (var c0 = j0; c0 < j1; c0 = c0 + ${STAGE}u) {
    let rows = min(${STAGE}u, j1 - c0);
    workgroupBarrier();
    for (var e = lid; e < rows * d; e = e + ${ROWS}u) { ys[e] = y_load(c0 * d + e); }
    for (var e = lid; e < rows * ${COLS}u; e = e + ${ROWS}u) {
      let r = e / ${COLS}u;
      let l = e % ${COLS}u;
      vs[e] = select(0.0, v_load((c0 + r) * k + l0 + min(l, width - 1u)), l < width);
    }
    workgroupBarrier();
    for (var r = 0u; r < rows; r = r + 1u) {
      var s = 0.0;
      for (var t = 0u; t < d; t = t + 1u) {
        let q = xi[t] - ys[r * d + t];
        s = s + q * q;
      }
      let f = km_profile(s);
      for (var l = 0u; l < ${COLS}u; l = l + 1u) { acc[l] = acc[l] + f * vs[r * ${COLS}u + l]; }
    }
  }
  if (i < n) {
    let base = (wid.y * n + i) * k + l0;
    for (var l = 0u; l < width; l = l + 1u) { partial_store(base + l, acc[l]); }
  }
}`,
    }));
    backend.dispatch(product, [x, y, v, partial], { n: g.n, m: g.m, d: g.d, k: g.k, chunk: g.chunk, code: profile.code, a: profile.a, b: profile.b }, [
      Math.ceil(g.n / ROWS),
      g.parts,
      g.colGroups,
    ]);
    if (partial !== out) {
      const sum = backend.program('kernel-methods:sum-partials', () => ({
        bindings: [
          { name: 'partial', dtype: 'f32', access: 'read' },
          { name: 'out', dtype: 'f32', access: 'write' },
        ],
        uniforms: ['size', 'parts'].map((name) => ({ name, type: 'u32' as const })),
        code: `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (e >= u_size()) { return; }
  var s = 0.0;
  for (var p = 0u; p < u_parts(); p = p + 1u) { s = s + partial_load(p * u_size() + e); }
  out_store(e, s);
}`,
      }));
      backend.dispatch(sum, [partial, out], { size: g.n * g.k, parts: g.parts }, backend.grid(Math.ceil((g.n * g.k) / 256)));
    }
  } finally {
    if (partial !== out) partial.dispose();
  }
  return out;
}
