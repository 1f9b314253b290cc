import { type Backend, type Tensor, tensor } from '@kvkit/tensor-core';

/**
 * The last `size` queries a layer attended with (all query heads, after RoPE) and their positions:
 * SnapKV-style scorers recompute the window's attention over the keys held at compression time, so
 * the window keeps sliding while decoding. Costs size × qHeads × headDim floats per layer, whatever
 * the context length (a per-token ring of the window's probabilities would cost size floats per token).
 */
export class QueryWindow {
  private readonly data: Float32Array;
  private readonly positions: Int32Array;
  /** Rows written so far (the ring holds the last min(written, size)). */
  private written = 0;

  constructor(
    readonly size: number,
    readonly qHeads: number,
    private readonly headDim: number,
  ) {
    this.data = new Float32Array(qHeads * size * headDim);
    this.positions = new Int32Array(size);
  }

  get rows(): number {
    return Math.min(this.written, this.size);
  }

  /** Adds the rows of q ([qHeads, m, headDim] host data); only the last `size` matter. */
  push(q: ArrayLike<number>, m: number, queryPositions: Int32Array): void {
    const d = this.headDim;
    for (let r = Math.max(0, m - this.size); r < m; r++) {
      const slot = (this.written + r) % this.size;
      for (let h = 0; h < this.qHeads; h++) {
        const from = (h * m + r) * d;
        for (let c = 0; c < d; c++) this.data[(h * this.size + slot) * d + c] = q[from + c];
      }
      this.positions[slot] = queryPositions[r];
    }
    this.written += m;
  }

  /** The held rows oldest first, as a [qHeads, rows, headDim] f32 tensor and their positions. */
  read(backend: Backend): { queries: Tensor; positions: Int32Array } {
    const rows = this.rows;
    const d = this.headDim;
    const out = new Float32Array(this.qHeads * rows * d);
    const positions = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      const slot = (this.written - rows + i) % this.size;
      positions[i] = this.positions[slot];
      for (let h = 0; h < this.qHeads; h++) out.set(this.data.subarray((h * this.size + slot) * d, (h * this.size + slot + 1) * d), (h * rows + i) * d);
    }
    return { queries: tensor(out, [this.qHeads, rows, d], { dtype: 'f32', backend }), positions };
  }

  bytes(): number {
    return this.data.byteLength + this.positions.byteLength;
  }
}
