import { backendOf, InvalidConfigError, type Matrix, matmulMatrix, slice, type Tensor, tensor } from '@kvkit/tensor-core';
import { withTensorScope } from '../util/tensor-scope.js';
import type { Kernel } from '../kernels/kernel.js';
import { KernelMatrix, type KernelMatrixOptions, tileSizeOf } from './kernel-matrix.js';
import { hostCrossProduct } from './host-cross-product.js';

// Cross-kernel products K(x, y)·V with a wide V (Nyström's K_CC^{−1/2}, ridge leverage's L⁻ᵀ) on any
// engine: the host's Gram route or row tiles, a backend's lazy operator.

/** True for the default float64 host engine. */
export function isHostEngine(engine: KernelMatrixOptions['engine']): boolean {
  return engine === undefined || engine === 'host';
}

/**
 * K(x, y)·V, k(x, y) never stored whole: on the host engine `hostCrossProduct` (float64); on a
 * synchronous backend (engine 'cpu'), the lazy operator's f32 product.
 */
export function crossProduct(kernel: Kernel, x: Matrix, y: Matrix, v: Matrix, options: KernelMatrixOptions, route: CrossRoute = 'device'): Matrix {
  if (!isHostEngine(options.engine) && route === 'host-coefficients') {
    const blocks = deviceKernelBlocks(kernel, x, y, options);
    try {
      return blockProducts(blocks, blocks.map((block) => block.values.readFloat32Sync()), x.rows, y.rows, v);
    } finally {
      for (const block of blocks) block.values.dispose();
    }
  }
  if (!isHostEngine(options.engine)) {
    const operator = new KernelMatrix(kernel, x, y, options);
    try {
      return operator.multiply(v);
    } finally {
      operator.dispose();
    }
  }
  return hostCrossProduct(kernel, x, y, v, tileSizeOf(options, 'crossProduct'));
}

/**
 * How a backend engine forms K(x, y)·V: 'device' multiplies by V there in f32 (the lazy operator's
 * product; right for coefficients of modest size); 'host-coefficients' evaluates k(x, y) there in row
 * blocks, reads them back and multiplies by V on the host in float64 — for coefficients like
 * Nyström's K_CC^{−1/2}, whose entries (up to 1e6 where K_CC is near singular) an f32 product would
 * sum to cancellation noise of O(1) in results of O(1).
 */
export type CrossRoute = 'device' | 'host-coefficients';

/** Kernel values per device block of the 'host-coefficients' route (its [rows, y.rows, d] broadcast: 128 MiB of f32). */
const BLOCK_BROADCAST_VALUES = 1 << 25;

interface DeviceBlock {
  readonly r0: number;
  readonly rows: number;
  readonly values: Tensor;
}

/** k(x, y) in row blocks on the engine's backend (all enqueued; the caller reads and disposes them). */
function deviceKernelBlocks(kernel: Kernel, x: Matrix, y: Matrix, options: KernelMatrixOptions): DeviceBlock[] {
  if (!kernel.tensorBlock) {
    throw new InvalidConfigError(`crossProduct: the "${kernel.name}" kernel has no tensor formula; use engine 'host'`, { kernel: kernel.name });
  }
  const tensorBlock = kernel.tensorBlock.bind(kernel);
  const backend = backendOf(options.engine as NonNullable<KernelMatrixOptions['engine']>);
  const d = x.cols;
  const dx = tensor(Float32Array.from(x.data), [x.rows, d], { backend });
  const dy = tensor(Float32Array.from(y.data), [y.rows, d], { backend });
  const step = Math.max(1, Math.floor(BLOCK_BROADCAST_VALUES / Math.max(1, y.rows * d)));
  const blocks: DeviceBlock[] = [];
  try {
    for (let r0 = 0; r0 < x.rows; r0 += step) {
      const r1 = Math.min(x.rows, r0 + step);
      blocks.push({ r0, rows: r1 - r0, values: withTensorScope((track) => tensorBlock(track(slice(dx, [r0, 0], [r1, d])), dy)) });
    }
  } catch (error) {
    for (const block of blocks) block.values.dispose();
    throw error;
  } finally {
    dx.dispose();
    dy.dispose();
  }
  return blocks;
}

/** k(x, y)·V in float64 from the blocks' values read back (values[i] of blocks[i], [rows, m] each). */
function blockProducts(blocks: readonly DeviceBlock[], values: readonly Float32Array[], rows: number, m: number, v: Matrix): Matrix {
  const k = v.cols;
  const out = new Float64Array(rows * k);
  blocks.forEach((block, i) => {
    const kernelRows = { rows: block.rows, cols: m, data: Float64Array.from(values[i]) };
    matmulMatrix(kernelRows, v, { accumulate: { rows: block.rows, cols: k, data: out.subarray(block.r0 * k, (block.r0 + block.rows) * k) } });
  });
  return { rows, cols: k, data: out };
}

/** K(x, y)·V on a device engine (read back asynchronously), the device copies released after; `route` as in CrossRoute. */
export async function crossProductAsync(kernel: Kernel, x: Matrix, y: Matrix, v: Matrix, options: KernelMatrixOptions, route: CrossRoute = 'device'): Promise<Matrix> {
  if (!isHostEngine(options.engine) && route === 'host-coefficients') {
    const blocks = deviceKernelBlocks(kernel, x, y, options);
    try {
      // Every block's readback in flight at once, not one await per block.
      return blockProducts(blocks, await Promise.all(blocks.map((block) => block.values.readFloat32())), x.rows, y.rows, v);
    } finally {
      for (const block of blocks) block.values.dispose();
    }
  }
  const operator = new KernelMatrix(kernel, x, y, options);
  try {
    return await operator.multiplyAsync(v);
  } finally {
    operator.dispose();
  }
}
