import {
  add as addTensors,
  type Backend,
  BackendUnavailable,
  concat,
  backendOf,
  InvalidConfigError,
  type LinearOperator,
  type Matrix,
  matmul,
  ShapeMismatchError,
  slice,
  type Tensor,
  tensor,
} from '@kvkit/tensor-core';
import { isRadialKernel, type Kernel, type RadialKernel } from '../kernels/kernel.js';
import { hostCrossProduct } from './host-cross-product.js';
import { radialCrossRows } from './radial-cross.js';
import { threadedGaussianLowerRows, threadedGaussianRows } from './threaded-gaussian-cross.js';
import { asPoints, type PointsInput, requireInteger } from '../points.js';
import { fusedProfile, fusedRadialProduct } from './device-radial-product.js';
import { accumulateProduct, accumulateTransposedProduct } from '../util/tile-products.js';
import { withTensorScope } from '../util/tensor-scope.js';

export interface KernelMatrixOptions {
  /** Rows and columns per tile (default 256): memory is O(tileSize²) whatever n is. */
  tileSize?: number;
  /**
   * Where tiles are computed: 'host' (default: float64 on the CPU, exact) or a backend (instance or
   * registered name: 'cpu', 'webgpu', 'cuda'), in f32 with only the products coming back: radial
   * kernels (rbf, Matérn ½ / 3⁄2 / 5⁄2, imq) on CUDA and WebGPU by one fused product (two launches per
   * product, no tile stored), other kernels and the 'cpu' backend tile by tile from tensor-core
   * operations (`kernel.tensorBlock`, then `matmul` with the right-hand side). Device backends are asynchronous: use the `…Async` methods there (`multiplyAsync`,
   * `multiplyTransposedAsync`, `rowSumsAsync`); blocks, `toMatrix` and `diag` are always computed on the host.
   */
  engine?: 'host' | Backend | string;
}

/**
 * The kernel matrix K[i][j] = k(x_i, y_j) as a lazy operator (the KeOps / GPyTorch idea): products
 * K·V, row sums, the diagonal and blocks are computed tile by tile, so an n×n matrix is never
 * stored. With y omitted the matrix is the symmetric K(x, x) and products evaluate each off-diagonal
 * tile once, using it for both of its mirror-image positions. Implements tensor-core's
 * `LinearOperator`, so `randomizedSvd` runs on it directly.
 */
export class KernelMatrix implements LinearOperator {
  readonly rows: number;
  readonly cols: number;
  readonly x: Matrix;
  readonly y: Matrix;
  /** True when y is x (the operator is symmetric). */
  readonly symmetric: boolean;
  readonly tileSize: number;
  private readonly backend: Backend | undefined;
  private deviceX: Tensor | undefined;
  private deviceY: Tensor | undefined;

  constructor(
    readonly kernel: Kernel,
    x: PointsInput,
    y?: PointsInput,
    options: KernelMatrixOptions = {},
  ) {
    this.x = asPoints(x, 'KernelMatrix', { cols: kernel.inputDim });
    this.y = y === undefined ? this.x : asPoints(y, 'KernelMatrix', { cols: this.x.cols });
    this.symmetric = this.y === this.x;
    this.rows = this.x.rows;
    this.cols = this.y.rows;
    this.tileSize = tileSizeOf(options, 'KernelMatrix');
    const engine = options.engine ?? 'host';
    if (engine !== 'host') {
      if (!kernel.tensorBlock) {
        throw new InvalidConfigError(`KernelMatrix: the "${kernel.name}" kernel has no tensor formula; use engine 'host'`, { kernel: kernel.name });
      }
      this.backend = backendOf(engine);
    }
  }

  /** Where tiles are computed: 'host' or the backend's name. */
  get engine(): string {
    return this.backend ? this.backend.name : 'host';
  }

  /** K[rowStart:rowEnd, colStart:colEnd] as a new matrix (computed on the host in float64). */
  block(rowStart: number, rowEnd: number, colStart: number, colEnd: number): Matrix {
    this.checkRange(rowStart, rowEnd, this.rows, 'rows');
    this.checkRange(colStart, colEnd, this.cols, 'columns');
    const out = new Float64Array((rowEnd - rowStart) * (colEnd - colStart));
    this.kernel.evaluate(this.x, this.y, out, rowStart, rowEnd, colStart, colEnd);
    return { rows: rowEnd - rowStart, cols: colEnd - colStart, data: out };
  }

  /**
   * The whole matrix, materialized (n·m float64 values: only for sizes that fit). Radial kernels by
   * the Gram route in WebAssembly SIMD (≈ 3× the per-entry loop at m = 500; the arithmetic of their
   * cross rows and products; exactly symmetric, with k(x, x) exact on the diagonal). With `into`,
   * written there (its first rows·cols values; e.g. WebAssembly memory) instead of a new array.
   */
  toMatrix(into?: Float64Array): Matrix {
    const size = this.rows * this.cols;
    if (into && into.length < size) throw new ShapeMismatchError(`KernelMatrix.toMatrix: the output holds ${into.length} values, the matrix ${size}`);
    const out = into ? into.subarray(0, size) : new Float64Array(size);
    if (isRadialKernel(this.kernel)) return this.radialMatrix(this.kernel, out);
    if (!this.symmetric) {
      this.kernel.evaluate(this.x, this.y, out, 0, this.rows, 0, this.cols);
      return { rows: this.rows, cols: this.cols, data: out };
    }
    const n = this.rows;
    this.forEachTile((r0, r1, c0, c1, tile) => {
      const width = c1 - c0;
      for (let i = r0; i < r1; i++) {
        for (let j = c0; j < c1; j++) {
          const v = tile[(i - r0) * width + j - c0];
          out[i * n + j] = v;
          out[j * n + i] = v;
        }
      }
    });
    return { rows: n, cols: n, data: out };
  }

  /**
   * The symmetric K(x, x) for a solver that reads only its lower triangle (a Cholesky
   * factorization): the lower triangle and the diagonal are K's; for a Gaussian kernel on the worker
   * threads only those are computed (half of `toMatrix`'s work, the same values) and the entries
   * above the diagonal are zero, for other kernels they are K's too.
   */
  lowerTriangleMatrix(): Matrix {
    if (!this.symmetric) throw new ShapeMismatchError('KernelMatrix.lowerTriangleMatrix: only the symmetric K(x, x) has one');
    const n = this.rows;
    const out = new Float64Array(n * n);
    if (!isRadialKernel(this.kernel) || !threadedGaussianLowerRows(this.kernel, this.x, out)) return this.toMatrix(out);
    const diagonal = this.kernel.diagonal(this.x);
    for (let i = 0; i < n; i++) out[i * (n + 1)] = diagonal[i];
    return { rows: n, cols: n, data: out };
  }

  private radialMatrix(kernel: RadialKernel, out: Float64Array): Matrix {
    // A Gaussian kernel's rows on the worker threads where they pay (the same values).
    if (!threadedGaussianRows(kernel, this.x, this.y, out)) radialCrossRows(kernel, this.x, this.y)(0, this.rows, out);
    if (this.symmetric) {
      const diagonal = kernel.diagonal(this.x);
      for (let i = 0; i < this.rows; i++) out[i * (this.rows + 1)] = diagonal[i];
    }
    return { rows: this.rows, cols: this.cols, data: out };
  }

  /** k(x_i, x_i) (square operators only). */
  diag(): Float64Array {
    if (this.rows !== this.cols || !this.symmetric) {
      throw new ShapeMismatchError('KernelMatrix.diag: only the symmetric K(x, x) has a kernel diagonal');
    }
    return this.kernel.diagonal(this.x);
  }

  /** K·v for a vector v of length cols. */
  matvec(v: ArrayLike<number>): Float64Array {
    return this.multiply({ rows: v.length, cols: 1, data: Float64Array.from(v) }).data;
  }

  /** K·1: the row sums. */
  rowSums(): Float64Array {
    return this.matvec(new Float64Array(this.cols).fill(1));
  }

  /** K·V (V: cols × k), tile by tile. */
  multiply(v: Matrix): Matrix {
    this.checkRhs(v, this.cols, 'multiply');
    if (this.backend) return readMatrixSync(this.deviceProduct(v, false), this.rows, v.cols, this.backend);
    return this.hostProduct(v, false);
  }

  /** Kᵀ·V (V: rows × k); K(x, y)ᵀ = K(y, x) since kernels are symmetric functions. */
  multiplyTransposed(v: Matrix): Matrix {
    this.checkRhs(v, this.rows, 'multiplyTransposed');
    if (this.symmetric) return this.multiply(v);
    if (this.backend) return readMatrixSync(this.deviceProduct(v, true), this.cols, v.cols, this.backend);
    return this.hostProduct(v, true);
  }

  /** K·V on any backend (device backends read back asynchronously). */
  async multiplyAsync(v: Matrix): Promise<Matrix> {
    this.checkRhs(v, this.cols, 'multiplyAsync');
    if (!this.backend) return this.hostProduct(v, false);
    return readMatrixAsync(this.deviceProduct(v, false), this.rows, v.cols);
  }

  /** Kᵀ·V on any backend (device backends read back asynchronously). */
  async multiplyTransposedAsync(v: Matrix): Promise<Matrix> {
    this.checkRhs(v, this.rows, 'multiplyTransposedAsync');
    if (this.symmetric) return this.multiplyAsync(v);
    if (!this.backend) return this.hostProduct(v, true);
    return readMatrixAsync(this.deviceProduct(v, true), this.cols, v.cols);
  }

  /**
   * Kᵀ(K·V) (V: cols × k), e.g. FALKON's K_mn(K_nm·β). On a device backend K·V stays there for the
   * second product: one upload and one readback instead of two of each.
   */
  async multiplyNormalAsync(v: Matrix): Promise<Matrix> {
    this.checkRhs(v, this.cols, 'multiplyNormalAsync');
    if (!this.backend) return this.multiplyTransposed(this.multiply(v));
    const rhs = this.upload(v);
    let inner: Tensor[];
    try {
      inner = this.deviceProductOf(rhs, false, v.cols);
    } finally {
      rhs.dispose();
    }
    const joined = inner.length === 1 ? inner[0] : concat(inner, 0);
    if (joined !== inner[0]) for (const tile of inner) tile.dispose();
    try {
      // Kᵀ: the transposed product (for a symmetric K the same points on both sides).
      return await readMatrixAsync(this.deviceProductOf(joined, true, v.cols), this.cols, v.cols);
    } finally {
      joined.dispose();
    }
  }

  /** K·1 on any backend. */
  async rowSumsAsync(): Promise<Float64Array> {
    return (await this.multiplyAsync({ rows: this.cols, cols: 1, data: new Float64Array(this.cols).fill(1) })).data;
  }

  /** Releases the device copies of the points (host operators hold none). Idempotent. */
  dispose(): void {
    this.deviceX?.dispose();
    if (this.deviceY !== this.deviceX) this.deviceY?.dispose();
    this.deviceX = this.deviceY = undefined;
  }

  /** Calls `visit` with each tile of the upper triangle (symmetric) or of the whole matrix. */
  private forEachTile(visit: (r0: number, r1: number, c0: number, c1: number, tile: Float64Array) => void, transposed = false): void {
    const a = transposed ? this.y : this.x;
    const b = transposed ? this.x : this.y;
    const t = this.tileSize;
    const buffer = new Float64Array(t * t);
    for (let r0 = 0; r0 < a.rows; r0 += t) {
      const r1 = Math.min(r0 + t, a.rows);
      for (let c0 = this.symmetric ? r0 : 0; c0 < b.rows; c0 += t) {
        const c1 = Math.min(c0 + t, b.rows);
        this.kernel.evaluate(a, b, buffer, r0, r1, c0, c1);
        visit(r0, r1, c0, c1, buffer);
      }
    }
  }

  private hostProduct(v: Matrix, transposed: boolean): Matrix {
    // Radial kernels by the Gram route in WebAssembly SIMD (and worker threads): whole rows, ≈ 3× the
    // per-entry loop's speed even though the symmetric tiles below evaluate half the entries.
    if (isRadialKernel(this.kernel)) return hostCrossProduct(this.kernel, transposed ? this.y : this.x, transposed ? this.x : this.y, v, this.tileSize);
    const k = v.cols;
    const outRows = transposed ? this.cols : this.rows;
    const out = new Float64Array(outRows * k);
    const vd = v.data;
    this.forEachTile((r0, r1, c0, c1, tile) => {
      const width = c1 - c0;
      accumulateProduct(tile, r1 - r0, width, vd, c0, out, r0, k);
      // A symmetric operator's off-diagonal tile also stands for its mirror image: out[c] += tileᵀ·v[r].
      if (this.symmetric && c0 !== r0) accumulateTransposedProduct(tile, r1 - r0, width, vd, r0, out, c0, k);
    }, transposed);
    return { rows: outRows, cols: k, data: out };
  }

  /**
   * K·V on the backend, only enqueued: radial kernels on CUDA / WebGPU by the fused product (one
   * [rows, k] tensor); otherwise per row tile Σ_c tensorBlock(a_r, b_c)·V_c, one [tile, k] tensor per row tile.
   */
  private deviceProduct(v: Matrix, transposed: boolean): Tensor[] {
    const rhs = this.upload(v);
    try {
      return this.deviceProductOf(rhs, transposed, v.cols);
    } finally {
      rhs.dispose();
    }
  }

  /** V as an f32 tensor on the backend (the points' copies made there on first use). */
  private upload(v: Matrix): Tensor {
    const backend = this.backend as Backend;
    this.deviceX ??= tensor(Float32Array.from(this.x.data), [this.x.rows, this.x.cols], { backend });
    this.deviceY ??= this.symmetric ? this.deviceX : tensor(Float32Array.from(this.y.data), [this.y.rows, this.y.cols], { backend });
    return tensor(Float32Array.from(v.data), [v.rows, v.cols], { backend });
  }

  /** `deviceProduct` of a right-hand side already on the device (`columns` wide; the caller keeps it). */
  private deviceProductOf(rhs: Tensor, transposed: boolean, columns: number): Tensor[] {
    const backend = this.backend as Backend;
    const a = (transposed ? this.deviceY : this.deviceX) as Tensor;
    const b = (transposed ? this.deviceX : this.deviceY) as Tensor;
    const aRows = a.shape[0];
    const bRows = b.shape[0];
    const kernel = this.kernel as Required<Pick<Kernel, 'tensorBlock'>>;
    const profile = fusedProfile(this.kernel, backend, a.shape[1]);
    // Radial kernels on CUDA / WebGPU: the whole product in two launches, one tensor to read back.
    if (profile) return [fusedRadialProduct(backend, profile, a, b, rhs)];
    const t = this.tileSize;
    const results: Tensor[] = [];
    try {
      for (let r0 = 0; r0 < aRows; r0 += t) {
        const r1 = Math.min(r0 + t, aRows);
        results.push(
          withTensorScope((track) => {
            const rowsTile = track(slice(a, [r0, 0], [r1, a.shape[1]]));
            let acc: Tensor | undefined;
            for (let c0 = 0; c0 < bRows; c0 += t) {
              const c1 = Math.min(c0 + t, bRows);
              const colsTile = track(slice(b, [c0, 0], [c1, b.shape[1]]));
              const kTile = track(kernel.tensorBlock(rowsTile, colsTile));
              const vTile = track(slice(rhs, [c0, 0], [c1, columns]));
              const part = track(matmul(kTile, vTile));
              acc = acc ? track(addTensors(acc, part)) : part;
            }
            return acc as Tensor;
          }),
        );
      }
    } catch (error) {
      for (const tile of results) tile.dispose();
      throw error;
    }
    return results;
  }

  private checkRhs(v: Matrix, rows: number, where: string): void {
    if (v.rows !== rows || v.data.length !== v.rows * v.cols) {
      throw new ShapeMismatchError(`KernelMatrix.${where}: the right-hand side has ${v.rows} rows, the operator needs ${rows}`, {
        rows: v.rows,
        expected: rows,
      });
    }
  }

  private checkRange(start: number, end: number, size: number, what: string): void {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > size || start > end) {
      throw new ShapeMismatchError(`KernelMatrix.block: ${what} [${start}, ${end}) are not within [0, ${size})`, { start, end, size });
    }
  }
}

/** `options.tileSize` (default 256) checked to be an integer in [1, 2²⁰]: memory per tile is O(tileSize²). */
export function tileSizeOf(options: { tileSize?: number }, where: string): number {
  return requireInteger(options.tileSize ?? 256, 1, 1 << 20, where, 'tileSize');
}

/**
 * Throws BackendUnavailable when `engine` is an asynchronous backend (WebGPU, CUDA), whose products
 * a synchronous estimator method cannot read back; `instead` names the method to call.
 */
export function requireSynchronousEngine(engine: KernelMatrixOptions['engine'], where: string, instead: string): void {
  if (engine === undefined || engine === 'host') return;
  const backend = backendOf(engine);
  if (!backend.synchronous) throw new BackendUnavailable(`${where}: the "${backend.name}" engine is asynchronous; use ${instead}`);
}

function readMatrixSync(tiles: Tensor[], rows: number, cols: number, backend: Backend): Matrix {
  if (!backend.synchronous) {
    for (const t of tiles) t.dispose();
    throw new BackendUnavailable(`KernelMatrix: the "${backend.name}" backend is asynchronous; use multiplyAsync / rowSumsAsync`);
  }
  const out = new Float64Array(rows * cols);
  let offset = 0;
  for (const t of tiles) {
    out.set(t.readFloat32Sync(), offset);
    offset += t.size;
    t.dispose();
  }
  return { rows, cols, data: out };
}

async function readMatrixAsync(tiles: Tensor[], rows: number, cols: number): Promise<Matrix> {
  const out = new Float64Array(rows * cols);
  try {
    // Every tile's readback in flight at once, not one await per tile.
    const values = await Promise.all(tiles.map((t) => t.readFloat32()));
    let offset = 0;
    for (const tile of values) {
      out.set(tile, offset);
      offset += tile.length;
    }
  } finally {
    for (const t of tiles) t.dispose();
  }
  return { rows, cols, data: out };
}
