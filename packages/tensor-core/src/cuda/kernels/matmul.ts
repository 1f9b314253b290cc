import { broadcastStrides, sizeOf } from '../../shape.js';
import type { Tensor } from '../../tensor.js';
import type { CudaBackend } from '../cuda-backend.js';
import { arg, defineCudaModule, registerCudaKernel } from '../kernel-api.js';
import { collapseViews, layoutArg } from '../layout-arg.js';
import source from './matmul.cu';
import mma256Source from './matmul-mma256.cu';

export const matmulModule = defineCudaModule({ name: 'kvkit-matmul', source });
export const matmulMma256Module = defineCudaModule({ name: 'kvkit-matmul-mma256', source: mma256Source });

const TILE = 128;
const MMA_SHARED_BYTES = 3 * 2 * 5120 * 2; // MM_STAGES × (A + B) × MM_TILE halves × 2 bytes
/** matmul-mma256.cu: 128 × 256 block tiles; MW_STAGES × (MW_BM + MW_BN) × MW_BK halves × 2 bytes. */
const WIDE = { rows: 128, cols: 256, sharedBytes: 4 * (128 + 256) * 32 * 2 };
const MAX_GRID_Z = 65535;

/**
 * Whether the 128×256-tile kernel serves a product by default: n must exceed one 128-wide tile (else
 * half of each wide tile is waste) and its blocks (one per SM) fill at least half of the SMs, else
 * the 128×128 kernel (two per SM, twice the blocks) finishes sooner — e.g. on 132 SMs 1024³ (32
 * wide blocks) stays on the 128×128 kernel, 2048³ (128) and up take the wide one.
 */
function wideTilesServe(backend: CudaBackend, m: number, n: number, batches: number): boolean {
  const blocks = Math.ceil(m / WIDE.rows) * Math.ceil(n / WIDE.cols) * batches;
  return n > TILE && 2 * blocks >= backend.device.multiprocessors;
}

/** Element strides of a matrix operand: (rows, cols) of the logical matrix; 0 on size-1 axes. */
function matrixStrides(t: Tensor, transposed: boolean, rows: number, cols: number): [number, number] {
  const r = t.rank;
  const [s0, s1] = transposed ? [t.strides[r - 1], t.strides[r - 2]] : [t.strides[r - 2], t.strides[r - 1]];
  return [rows === 1 ? 0 : s0, cols === 1 ? 0 : s1];
}

/** Which tensor-core layout an operand allows: 'inner' contiguous along k, 'outer' along m/n, or none. */
function mmaLayout(sOuter: number, sK: number, outer: number, k: number, aligned: boolean): 'k' | 'mn' | undefined {
  if (!aligned) return undefined;
  if (sK === 1 && k % 8 === 0 && sOuter % 8 === 0) return 'k';
  if (sOuter === 1 && outer % 8 === 0 && sK % 8 === 0) return 'mn';
  return undefined;
}

export function registerCudaMatmulKernel(): void {
  registerCudaKernel('matmul', (backend, [a, b], { transposeA, transposeB, batchShape, m, n, k }) => {
    const batches = sizeOf(batchShape);
    if (k === 0) return backend.zeros([...batchShape, m, n], a.dtype); // empty sums
    const out = backend.empty([...batchShape, m, n], a.dtype);
    if (batches === 0 || m === 0 || n === 0) return out;
    const [sAm, sAk] = matrixStrides(a, transposeA, m, k);
    const [sBk, sBn] = matrixStrides(b, transposeB, k, n);
    const batch = collapseViews(batchShape, [
      { strides: broadcastStrides(a.shape.slice(0, -2), a.strides.slice(0, -2), batchShape), offset: a.offset },
      { strides: broadcastStrides(b.shape.slice(0, -2), b.strides.slice(0, -2), batchShape), offset: b.offset },
    ]);
    const [batchA, batchB] = batch.views;
    const common = [
      arg.ptr(backend.address(out)), arg.ptr(backend.baseAddress(a)), arg.ptr(backend.baseAddress(b)),
      arg.i32(m), arg.i32(n), arg.i32(k), arg.i64(sAm), arg.i64(sAk), arg.i64(sBk), arg.i64(sBn),
      layoutArg(batchA), layoutArg(batchB), arg.i64(batches),
    ];
    const grid: [number, number, number] = [Math.ceil(n / TILE), Math.ceil(m / TILE), Math.min(batches, MAX_GRID_Z)];
    const batchAligned = (strides: readonly number[]) => strides.every((s) => s % 8 === 0);
    // KVKIT_CUDA_MATMUL (read per call) forces a kernel: 'simt', or where the layouts allow tensor
    // cores, 'mma128' (128×128 tiles) or 'mma256' (128×256 tiles).
    const forced = process.env.KVKIT_CUDA_MATMUL;
    const useTensorCores = (a.dtype === 'f16' || a.dtype === 'bf16') && forced !== 'simt';
    if (useTensorCores) {
      const layoutA = mmaLayout(sAm, sAk, m, k, backend.address(a) % 16 === 0 && batchAligned(batchA.strides));
      const layoutB = mmaLayout(sBn, sBk, n, k, backend.address(b) % 16 === 0 && batchAligned(batchB.strides));
      if (layoutA && layoutB) {
        const layouts = `${a.dtype}_${layoutA === 'k' ? 'k' : 'm'}${layoutB === 'k' ? 'k' : 'n'}`;
        const wide = forced === 'mma256' || (forced !== 'mma128' && wideTilesServe(backend, m, n, batches));
        if (wide && WIDE.sharedBytes <= backend.device.maxSharedMemoryPerBlockOptin) {
          const tiles = Math.ceil(m / WIDE.rows) * Math.ceil(n / WIDE.cols); // one grid axis: the kernel rasterizes them
          const wideGrid: [number, number, number] = [tiles, 1, grid[2]];
          backend.launch(matmulMma256Module, `kv_gemm_mma256_${layouts}`, { grid: wideGrid, block: 256, sharedBytes: WIDE.sharedBytes }, common);
        } else {
          backend.launch(matmulModule, `kv_gemm_mma_${layouts}`, { grid, block: 256, sharedBytes: MMA_SHARED_BYTES }, common);
        }
        return out;
      }
    }
    backend.launch(matmulModule, `kv_gemm_simt_${a.dtype}`, { grid, block: 256 }, common);
    return out;
  });
}
