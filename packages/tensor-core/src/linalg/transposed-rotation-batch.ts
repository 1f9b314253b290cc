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
    const [transposed] = arena.arrays;
    transposeInto(vectors, rows, cols, cols, transposed, this.ld);
  }

  /** The SIMD batch for `vectors`, or null where SIMD is off or unavailable or the matrix is small. */
  static create(vectors: Float64Array, rows: number, cols: number): TransposedRotationBatch | null {
    if (rows < SIMD_MIN_ROWS || cols < 2) return null;
    const capacity = rotationBatchSize(cols);
    const arena = SimdArena.create([paddedRows(rows) * cols, capacity, capacity, 4 * capacity]);
    return arena ? new TransposedRotationBatch(vectors, rows, cols, arena) : null;
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

  override finish(): void {
    this.flush();
    const [transposed] = this.arena.arrays;
    const { vectors, rows, cols, ld } = this;
    transposeInto(transposed, cols, rows, ld, vectors, cols);
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
