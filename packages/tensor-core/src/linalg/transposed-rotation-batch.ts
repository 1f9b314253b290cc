import { addressOf, SimdArena } from '../simd/simd-arena.js';
import { ColumnRotationBatch, rotationBatchSize, transposeInto } from './matrix-ops.js';

/** Rows of V from which the SIMD batch pays for its two transposes and its arena. */
const SIMD_MIN_ROWS = 32;

/**
 * A ColumnRotationBatch that keeps its own copy of the matrix transposed in WebAssembly memory and
 * applies the recorded sequences there with the SIMD kernel (eight rows of V per block, four f64x2
 * chains in flight): the same operations, the same values. The matrix itself is only written back by
 * `finish`, so it is for callers that read the vectors once all rotations are done (eigh's QL
 * sweeps; svd's Golub–Kahan steps, which finish it before a zero chase works on the matrix and
 * start a new one after).
 * @internal
 */
class TransposedRotationBatch extends ColumnRotationBatch {
  private readonly ld: number;

  private constructor(
    vectors: Float64Array,
    rows: number,
    cols: number,
    private readonly arena: SimdArena,
  ) {
    super(vectors, rows, cols);
    this.ld = paddedRows(rows);
  }

  /**
   * The SIMD batch for the rows×cols matrix V, given as V itself or as Vᵀ (`transposed`, cols×rows:
   * V's columns as rows, copied as they are), or null where SIMD is off or unavailable or the
   * matrix is small. `vectors` receives V at `finish`.
   */
  static create(vectors: Float64Array, rows: number, cols: number, transposed?: Float64Array): TransposedRotationBatch | null {
    if (rows < SIMD_MIN_ROWS || cols < 2) return null;
    const capacity = rotationBatchSize(cols);
    const arena = SimdArena.create([paddedRows(rows) * cols, capacity, capacity, 4 * capacity]);
    if (!arena) return null;
    const batch = new TransposedRotationBatch(vectors, rows, cols, arena);
    const [copy] = arena.arrays;
    if (transposed) for (let k = 0; k < cols; k++) copy.set(transposed.subarray(k * rows, (k + 1) * rows), k * batch.ld);
    else transposeInto(vectors, rows, cols, cols, copy, batch.ld);
    return batch;
  }

  protected override applyRecorded(): void {
    const [transposed, cos, sin, desc] = this.arena.arrays;
    const sequences = this.lows.length;
    cos.set(this.cosines.subarray(0, this.used));
    sin.set(this.sines.subarray(0, this.used));
    for (let q = 0; q < sequences; q++) {
      desc[4 * q] = this.lows[q];
      desc[4 * q + 1] = this.highs[q];
      desc[4 * q + 2] = this.ascending[q] ? 1 : 0;
      desc[4 * q + 3] = this.offsets[q];
    }
    this.arena.kernels.rotationChains(addressOf(transposed), this.ld, this.ld / 8, sequences, addressOf(desc), addressOf(cos), addressOf(sin));
  }

  override finish(): Float64Array {
    this.flush();
    const [transposed] = this.arena.arrays;
    const { vectors, rows, cols, ld } = this;
    transposeInto(transposed, cols, rows, ld, vectors, cols);
    return vectors;
  }
}

/** Rows of V rounded up to the kernel's block of eight (the padding rows stay zero). */
function paddedRows(rows: number): number {
  return 8 * Math.ceil(rows / 8);
}

/**
 * A rotation batch over the columns of `vectors` (rows×cols, row-major) whose matrix is up to date
 * after `finish` (not after each flush): the SIMD one where available, else the plain one.
 * @internal
 */
export function deferredRotationBatch(vectors: Float64Array, rows: number, cols: number): ColumnRotationBatch {
  return TransposedRotationBatch.create(vectors, rows, cols) ?? new ColumnRotationBatch(vectors, rows, cols);
}

/**
 * `deferredRotationBatch` for V (rows×cols) given as Vᵀ (cols×rows), as Householder accumulations
 * produce it: the SIMD batch takes those rows as they are, so V is transposed once (at `finish`,
 * which returns it) instead of once into V and back again into the batch's copy.
 * @internal
 */
export function deferredRotationBatchOfTransposed(transposed: Float64Array, rows: number, cols: number): ColumnRotationBatch {
  const vectors = new Float64Array(rows * cols);
  const simd = TransposedRotationBatch.create(vectors, rows, cols, transposed);
  if (simd) return simd;
  transposeInto(transposed, cols, rows, rows, vectors, cols);
  return new ColumnRotationBatch(vectors, rows, cols);
}
