// The Nyström normal equations K_mnK_nm and K_mnY on a CUDA device, in float64 throughout.
// Float64 because the direct solve needs it: K_mnK_nm sums n products per entry, and its smallest
// eigenvalues sit near α·λ_min(K_mm); accumulated in f32 (n = 8000, m = 461, the bench's rows) the
// errors already exceed them and the system comes out indefinite. GPUs made for computing
// (A100/H100/H200) run float64 at a large fraction of their f32 rate. WebGPU has no float64, so
// there the direct solve stays on the host.
import { type Backend, type Matrix, type Tensor, tensor } from '@kvkit/tensor-core';
import type { CudaBackend } from '@kvkit/tensor-core/cuda';
import type { DeviceProfile } from '../kernels/device-profile.js';
import type { Kernel } from '../kernels/kernel.js';
import { arg, kernelMethodsCudaModule } from './cuda-modules.js';
import normalSource from './nystroem-normal.cu';

/** Side of the Gram tiles (a block of 16 × 16 threads, 2 × 2 entries each). */
const TILE = 32;
/** Rows of the chunk staged in shared memory at a time. */
const STEP = 16;
/** Threads per block of the row evaluation (one entry each). */
const COLUMN_THREADS = 128;
/** Values of one chunk of [K_nm | Y] on the device (64 MiB of float64); also below CUDA's 65 535 grid rows. */
const CHUNK_VALUES = 2 ** 23;
const MAX_GRID_ROWS = 65535;

const CUDA_SOURCE = `#define KM_TILE ${TILE}\n#define KM_STEP ${STEP}\n${normalSource}`;
const cudaModule = kernelMethodsCudaModule('kvkit-kernel-methods-nystroem-normal', CUDA_SOURCE);

/** The kernel's profile when `backend` can form the normal equations in float64 (CUDA, a radial kernel); else undefined. */
export function float64NormalProfile(kernel: Kernel, backend: Backend): DeviceProfile | undefined {
  if (backend.name !== 'cuda') return undefined;
  return (kernel as { deviceProfile?: DeviceProfile }).deviceProfile;
}

/**
 * K_mnK_nm (m × m) and K_mnY (m × t) for the points x, the centres and the targets y on the CUDA
 * `backend`, every value in float64: chunks of rows of [K_nm | Y] evaluated there (the squared
 * distances by direct differences), each chunk's Gram matrix added into one (m + t)² sum, which is
 * read back once. Two launches per chunk; one chunk up to `chunkValues` values (default 64 MiB).
 */
export async function cudaNormalEquations(
  backend: CudaBackend,
  profile: DeviceProfile,
  x: Matrix,
  centers: Matrix,
  y: Matrix,
  chunkValues = CHUNK_VALUES,
): Promise<{ normal: Matrix; rhs: Matrix }> {
  const n = x.rows;
  const d = x.cols;
  const m = centers.rows;
  const t = y.cols;
  const width = m + t;
  const chunkRows = Math.max(1, Math.min(n, MAX_GRID_ROWS, Math.floor(chunkValues / width)));
  const held: Tensor[] = [];
  const hold = (device: Tensor) => (held.push(device), device);
  let sums: Float64Array;
  try {
    const points = hold(float64Tensor(backend, x.data));
    const centres = hold(float64Tensor(backend, centers.data));
    const targets = hold(float64Tensor(backend, y.data));
    const rows = hold(backend.empty([2 * chunkRows * width], 'u32'));
    const gram = hold(backend.empty([2 * width * width], 'u32'));
    const tiles = Math.ceil(width / TILE);
    for (let r0 = 0; r0 < n; r0 += chunkRows) {
      const count = Math.min(chunkRows, n - r0);
      backend.launch(cudaModule, 'km_normal_rows', { grid: [Math.ceil(width / COLUMN_THREADS), count], block: COLUMN_THREADS }, [
        arg.ptr(backend.address(rows)), arg.ptr(backend.address(points) + 8 * r0 * d), arg.ptr(backend.address(centres)),
        arg.ptr(backend.address(targets) + 8 * r0 * t), arg.i32(count), arg.i32(m), arg.i32(t), arg.i32(d),
        arg.i32(profile.code), arg.f64(profile.a), arg.f64(profile.b),
      ]);
      backend.launch(cudaModule, 'km_normal_gram', { grid: [tiles, tiles], block: [16, 16] }, [
        arg.ptr(backend.address(gram)), arg.ptr(backend.address(rows)), arg.i32(count), arg.i32(width), arg.i32(r0 > 0 ? 1 : 0),
      ]);
    }
    sums = float64Of((await gram.read()) as Uint32Array);
  } finally {
    for (const device of held) device.dispose();
  }
  // The upper triangle was summed: its m × m corner (mirrored) and the m × t block beside it.
  const normal = new Float64Array(m * m);
  const rhs = new Float64Array(m * t);
  for (let i = 0; i < m; i++) {
    for (let j = i; j < m; j++) normal[i * m + j] = normal[j * m + i] = sums[i * width + j];
    for (let l = 0; l < t; l++) rhs[i * t + l] = sums[i * width + m + l];
  }
  return { normal: { rows: m, cols: m, data: normal }, rhs: { rows: m, cols: t, data: rhs } };
}

/**
 * Float64 values on the device in a u32 tensor (tensor-core has no float64 dtype; the kernels read
 * the bytes as double). u32, not f32: integer elements are copied as they are, so no half of a double
 * that happens to look like a NaN can be rewritten on the way.
 */
function float64Tensor(backend: CudaBackend, values: Float64Array): Tensor {
  const copy = values.length > 0 ? values.slice() : new Float64Array(1);
  return tensor(new Uint32Array(copy.buffer), [2 * copy.length], { dtype: 'u32', backend });
}

/** The float64 values held in the bytes of a u32 read-back. */
function float64Of(words: Uint32Array): Float64Array {
  return new Float64Array(words.slice().buffer);
}
