// The Nyström normal equations K_mnK_nm and K_mnY on a GPU, for the direct solve. Their sums must
// not lose precision: K_mnK_nm sums n products per entry, and its smallest eigenvalues sit near
// α·λ_min(K_mm). Summed in f32 (n = 8000, m = 461, the bench's rows), the errors already exceed
// them and the system comes out indefinite. The kernel values themselves may be f32: with K_nm
// rounded to f32 and its Gram matrix summed exactly, the predictions stay within 1e-5 of the float64
// solve. So CUDA does everything in float64 (GPUs made for computing run it at a large fraction of
// their f32 rate). WebGPU, which has no float64, evaluates K_nm in f32 and sums its products
// exactly: each product split into four exact partial products, added into a (hi, lo) pair of f32
// by error-free two-sums.
import { type Backend, type Matrix, type Tensor, tensor } from '@kvkit/tensor-core';
import type { CudaBackend } from '@kvkit/tensor-core/cuda';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import type { DeviceProfile } from '../kernels/device-profile.js';
import { arg, kernelMethodsCudaModule, WGSL_PROFILE } from './device-modules.js';
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

/** K_mnK_nm and K_mnY on `backend` (CUDA or WebGPU, with the kernel's `deviceProfileOn` it): `cudaNormalEquations` or `webGpuNormalEquations`. */
export function deviceNormalEquations(backend: Backend, profile: DeviceProfile, x: Matrix, centers: Matrix, y: Matrix, chunkValues = CHUNK_VALUES): Promise<NormalEquations> {
  if (backend.name === 'cuda') return cudaNormalEquations(backend as CudaBackend, profile, x, centers, y, chunkValues);
  return webGpuNormalEquations(backend as WebGpuBackend, profile, x, centers, y, chunkValues);
}

export interface NormalEquations {
  /** K_mnK_nm, m × m. */
  normal: Matrix;
  /** K_mnY, m × t. */
  rhs: Matrix;
}

/**
 * K_mnK_nm (m × m) and K_mnY (m × t) for the points x, the centres and the targets y on the CUDA
 * `backend`, every value in float64: chunks of rows of [K_nm | Y] evaluated there (the squared
 * distances by direct differences), each chunk's Gram matrix added into one (m + t)² sum, which is
 * read back once. Two launches per chunk; one chunk up to `chunkValues` values (default 64 MiB).
 */
export async function cudaNormalEquations(backend: CudaBackend, profile: DeviceProfile, x: Matrix, centers: Matrix, y: Matrix, chunkValues = CHUNK_VALUES): Promise<NormalEquations> {
  const { n, d, m, t, width, chunkRows } = chunkShape(x, centers, y, chunkValues, MAX_GRID_ROWS);
  const sums = await withDeviceTensors(async (hold) => {
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
    return float64Of((await gram.read()) as Uint32Array);
  });
  return fromUpperTriangle(sums, m, t);
}

/** The summed upper triangle of [K_nm | Y]ᵀ[K_nm | Y] ((m + t)², row-major): its m × m corner (mirrored) and the m × t block beside it. */
function fromUpperTriangle(sums: Float64Array, m: number, t: number): NormalEquations {
  const width = m + t;
  const normal = new Float64Array(m * m);
  const rhs = new Float64Array(m * t);
  for (let i = 0; i < m; i++) {
    for (let j = i; j < m; j++) normal[i * m + j] = normal[j * m + i] = sums[i * width + j];
    for (let l = 0; l < t; l++) rhs[i * t + l] = sums[i * width + m + l];
  }
  return { normal: { rows: m, cols: m, data: normal }, rhs: { rows: m, cols: t, data: rhs } };
}

/** Side of the WebGPU Gram tiles (a 16 × 16 workgroup, one entry per invocation). */
const WGSL_TILE = 16;
/** Invocations per workgroup of the WebGPU row evaluation. */
const WGSL_ROW_THREADS = 64;

/**
 * K_mnK_nm and K_mnY on WebGPU: chunks of rows of [K_nm | Y] in f32 (`webGpuNormalRows`), and each
 * chunk's Gram matrix summed exactly into a (hi, lo) pair of f32 per entry: every product a·b is
 * split into four partial products of 12-bit halves, each exact in f32 whether or not the compiler
 * fuses it, and added by a two-sum, whose rounding error goes into lo. The host reads both and adds
 * them in float64 (relative error ~ n·ε_f32², against n·ε_f32 for plain f32 sums).
 */
export async function webGpuNormalEquations(backend: WebGpuBackend, profile: DeviceProfile, x: Matrix, centers: Matrix, y: Matrix, chunkValues = CHUNK_VALUES): Promise<NormalEquations> {
  const { n, d, m, t, width, chunkRows } = chunkShape(x, centers, y, chunkValues, backend.maxWorkgroupsPerDimension);
  const halves = await withDeviceTensors(async (hold) => {
    const inputs = webGpuInputs(backend, x, centers, y, hold);
    const rows = hold(backend.empty([chunkRows * width], 'f32'));
    // Every hi, then every lo: one buffer, one read-back.
    const pairs = hold(backend.empty([2 * width * width], 'f32'));
    const gram = backend.program('kernel-methods:normal-gram-exact', () => ({
      bindings: [
        { name: 'a', dtype: 'f32', access: 'read' },
        { name: 'sums', dtype: 'f32', access: 'write' },
      ],
      uniforms: ['rows', 'width', 'add'].map((name) => ({ name, type: 'u32' as const })),
      code: EXACT_GRAM_WGSL,
    }));
    const tiles = Math.ceil(width / WGSL_TILE);
    for (let r0 = 0; r0 < n; r0 += chunkRows) {
      const count = Math.min(chunkRows, n - r0);
      dispatchNormalRows(backend, profile, inputs, rows, r0, count, m, t, d);
      backend.dispatch(gram, [rows, pairs], { rows: count, width, add: r0 > 0 ? 1 : 0 }, [tiles, tiles]);
    }
    return pairs.readFloat32();
  });
  const area = width * width;
  const sums = Float64Array.from({ length: area }, (_, e) => halves[e] + halves[area + e]);
  return fromUpperTriangle(sums, m, t);
}

/** The rows [K_nm | Y] in f32 exactly as `webGpuNormalEquations` sums them (one chunk of all n rows), for tests. */
export async function webGpuNormalRows(backend: WebGpuBackend, profile: DeviceProfile, x: Matrix, centers: Matrix, y: Matrix): Promise<Float32Array> {
  return withDeviceTensors(async (hold) => {
    const inputs = webGpuInputs(backend, x, centers, y, hold);
    const rows = hold(backend.empty([x.rows * (centers.rows + y.cols)], 'f32'));
    dispatchNormalRows(backend, profile, inputs, rows, 0, x.rows, centers.rows, y.cols, x.cols);
    return rows.readFloat32();
  });
}

/** The sizes the sums work with: each pass of two launches takes `chunkRows` rows (≤ `maxRows`, a grid dimension's limit). */
function chunkShape(x: Matrix, centers: Matrix, y: Matrix, chunkValues: number, maxRows: number) {
  const width = centers.rows + y.cols;
  const chunkRows = Math.max(1, Math.min(x.rows, maxRows, Math.floor(chunkValues / width)));
  return { n: x.rows, d: x.cols, m: centers.rows, t: y.cols, width, chunkRows };
}

/** `body` with a `hold` that registers device tensors, every one disposed when the body settles. */
async function withDeviceTensors<T>(body: (hold: (device: Tensor) => Tensor) => Promise<T>): Promise<T> {
  const held: Tensor[] = [];
  try {
    return await body((device) => (held.push(device), device));
  } finally {
    for (const device of held) device.dispose();
  }
}

interface WebGpuInputs {
  points: Tensor;
  centres: Tensor;
  targets: Tensor;
}

function webGpuInputs(backend: WebGpuBackend, x: Matrix, centers: Matrix, y: Matrix, hold: (device: Tensor) => Tensor): WebGpuInputs {
  const upload = (matrix: Matrix) => hold(tensor(Float32Array.from(matrix.data), [matrix.data.length], { backend }));
  return { points: upload(x), centres: upload(centers), targets: upload(y) };
}

/** Rows r0 ≤ i < r0 + count of [K_nm | Y] in f32 into `rows` (count × (m + t)). */
function dispatchNormalRows(backend: WebGpuBackend, profile: DeviceProfile, inputs: WebGpuInputs, rows: Tensor, r0: number, count: number, m: number, t: number, d: number): void {
  const program = backend.program('kernel-methods:normal-rows', () => ({
    bindings: [
      { name: 'x', dtype: 'f32', access: 'read' },
      { name: 'c', dtype: 'f32', access: 'read' },
      { name: 'y', dtype: 'f32', access: 'read' },
      { name: 'rows', dtype: 'f32', access: 'write' },
    ],
    uniforms: [...['m', 't', 'd', 'r0', 'code'].map((name) => ({ name, type: 'u32' as const })), { name: 'a', type: 'f32' as const }, { name: 'b', type: 'f32' as const }],
    code: `
${WGSL_PROFILE}
@compute @workgroup_size(${WGSL_ROW_THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m = u_m();
  let width = m + u_t();
  let j = wid.x * ${WGSL_ROW_THREADS}u + lid;
  if (j >= width) { return; }
  let row = u_r0() + wid.y;
  var value = 0.0;
  if (j < m) {
    var s = 0.0;
    for (var q = 0u; q < u_d(); q = q + 1u) {
      let diff = x_load(row * u_d() + q) - c_load(j * u_d() + q);
      s = s + diff * diff;
    }
    value = km_profile(s);
  } else {
    value = y_load(row * u_t() + j - m);
  }
  rows_store(wid.y * width + j, value);
}`,
  }));
  backend.dispatch(program, [inputs.points, inputs.centres, inputs.targets, rows], { m, t, d, r0, code: profile.code, a: profile.a, b: profile.b }, [
    Math.ceil((m + t) / WGSL_ROW_THREADS),
    count,
  ]);
}

// One 16 × 16 tile of the upper triangle of AᵀA per workgroup (tiles below the diagonal return at
// once), the chunk's rows staged 16 at a time. Each sum is a pair, hi at sums[e] and lo one width²
// further: two_sum adds p to hi exactly, its rounding error going into lo.
const EXACT_GRAM_WGSL = `
var<workgroup> left: array<f32, ${WGSL_TILE * WGSL_TILE}>;
var<workgroup> right: array<f32, ${WGSL_TILE * WGSL_TILE}>;

// v with its low 12 significand bits cleared: v = high(v) + (v − high(v)), both 12-bit significands.
fn high(v: f32) -> f32 { return bitcast<f32>(bitcast<u32>(v) & 0xfffff000u); }

fn two_sum(acc: vec2<f32>, p: f32) -> vec2<f32> {
  let s = acc.x + p;
  let z = s - acc.x;
  let e = (acc.x - (s - z)) + (p - z);
  return vec2<f32>(s, acc.y + e);
}

@compute @workgroup_size(${WGSL_TILE}, ${WGSL_TILE})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  if (wid.y > wid.x) { return; }
  let rows = u_rows();
  let width = u_width();
  let i0 = wid.y * ${WGSL_TILE}u;
  let j0 = wid.x * ${WGSL_TILE}u;
  let lane = lid.y * ${WGSL_TILE}u + lid.x;
  let last = rows * width - 1u;
  var acc = vec2<f32>(0.0, 0.0);
  for (var r0 = 0u; r0 < rows; r0 = r0 + ${WGSL_TILE}u) {
    workgroupBarrier();
    let r = r0 + lane / ${WGSL_TILE}u;
    let col = lane % ${WGSL_TILE}u;
    left[lane] = select(0.0, a_load(min(r * width + i0 + col, last)), r < rows && i0 + col < width);
    right[lane] = select(0.0, a_load(min(r * width + j0 + col, last)), r < rows && j0 + col < width);
    workgroupBarrier();
    for (var k = 0u; k < ${WGSL_TILE}u; k = k + 1u) {
      let a = left[k * ${WGSL_TILE}u + lid.y];
      let b = right[k * ${WGSL_TILE}u + lid.x];
      let ah = high(a);
      let al = a - ah;
      let bh = high(b);
      let bl = b - bh;
      acc = two_sum(acc, ah * bh);
      acc = two_sum(acc, ah * bl);
      acc = two_sum(acc, al * bh);
      acc = two_sum(acc, al * bl);
    }
  }
  let i = i0 + lid.y;
  let j = j0 + lid.x;
  if (i < width && j < width) {
    let e = i * width + j;
    let lo = e + width * width;
    var total = acc;
    if (u_add() != 0u) {
      total = two_sum(vec2<f32>(sums_load(e), sums_load(lo) + acc.y), acc.x);
    }
    sums_store(e, total.x);
    sums_store(lo, total.y);
  }
}`;

/**
 * Float64 values on the device in a u32 tensor (tensor-core has no float64 dtype; the kernels read
 * the bytes as double). u32, not f32: integer elements are copied as they are, so no half of a double
 * that happens to look like a NaN can be rewritten on the way.
 */
function float64Tensor(backend: CudaBackend, values: Float64Array): Tensor {
  const data = values.length > 0 ? values : new Float64Array(1);
  return tensor(new Uint32Array(data.buffer, data.byteOffset, 2 * data.length), [2 * data.length], { dtype: 'u32', backend });
}

/** The float64 values held in the bytes of a u32 read-back (copied only where they do not start on an 8-byte boundary). */
function float64Of(words: Uint32Array): Float64Array {
  const aligned = words.byteOffset % 8 === 0 ? words : words.slice();
  return new Float64Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
}
