import { bytesPerElement, type DType } from '../../dtype.js';

/** Threads per row at most (KV_ROW_MAX_LANES in row-resident.cuh). */
export const ROW_MAX_LANES = 512;
/** The kernels' 16-byte vectors per thread (instantiated as `_v1`, `_v2`, `_v4`, and `_s…` for unaligned rows). */
const VECTORS_PER_THREAD = [1, 2, 4] as const;
/** Elements a thread aims to hold: enough bytes in flight per thread, few enough registers. */
const TARGET_ELEMENTS_PER_THREAD = 16;
/** Threads per block for rows narrower than a block (several rows per block). */
const MIN_BLOCK = 256;
/** CUDA's largest gridDim.x; the kernels loop over the rows beyond it. */
const MAX_GRID = 2 ** 31 - 1;

/** How a single-pass row kernel (row-resident.cuh) is launched over `rows` rows. */
export interface RowResidentLaunch {
  /** Kernel name suffix: `v` (16-byte loads) or `s` (element loads, rows not 16-byte aligned), then 16-byte vectors per thread. */
  readonly variant: string;
  /** Threads per row (a power of two, 32..ROW_MAX_LANES). */
  readonly lanes: number;
  readonly block: number;
  readonly grid: number;
}

const nextPowerOfTwo = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * The launch of the single-pass kernel for `rows` rows of `n` elements of `dtype` starting at the
 * device addresses `bases` (input and output), or undefined when a row does not fit in
 * ROW_MAX_LANES threads' registers (the multi-pass kernels take those). Threads per row grow with
 * the row so that each holds about TARGET_ELEMENTS_PER_THREAD elements; short rows get a warp each,
 * several to a block, so the grid still fills the GPU. 16-byte loads need every row start of every
 * base 16-byte aligned.
 */
export function rowResidentLaunch(dtype: DType, n: number, rows: number, bases: readonly number[]): RowResidentLaunch | undefined {
  const perVector = 16 / bytesPerElement(dtype);
  const vectorsPerRow = Math.ceil(n / perVector);
  const target = Math.max(1, TARGET_ELEMENTS_PER_THREAD / perVector);
  const lanes = Math.min(ROW_MAX_LANES, Math.max(32, nextPowerOfTwo(Math.ceil(vectorsPerRow / target))));
  const vectors = VECTORS_PER_THREAD.find((v) => v * lanes >= vectorsPerRow);
  if (vectors === undefined) return undefined;
  const aligned = n % perVector === 0 && bases.every((address) => address % 16 === 0);
  const block = Math.max(lanes, MIN_BLOCK);
  const rowsPerBlock = block / lanes;
  return { variant: `${aligned ? 'v' : 's'}${vectors}`, lanes, block, grid: Math.max(1, Math.min(Math.ceil(rows / rowsPerBlock), MAX_GRID)) };
}
