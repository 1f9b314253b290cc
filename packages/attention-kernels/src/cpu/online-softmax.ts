/**
 * Online-softmax state of a block of query rows (FlashAttention): per row the running maximum score,
 * the running sum of exp(score − max), and the running un-normalized output Σ exp(score − max)·v.
 * Two states over disjoint key sets merge exactly by log-sum-exp (flash-decoding, ChunkAttention).
 */
export class SoftmaxState {
  max: Float64Array;
  sum: Float64Array;
  acc: Float64Array;
  rows = 0;

  constructor(
    capacityRows: number,
    readonly dv: number,
  ) {
    this.max = new Float64Array(capacityRows);
    this.sum = new Float64Array(capacityRows);
    this.acc = new Float64Array(capacityRows * dv);
  }

  /** Empties the state for `rows` rows (growing it when needed). */
  reset(rows: number): void {
    if (rows > this.max.length) {
      this.max = new Float64Array(rows);
      this.sum = new Float64Array(rows);
      this.acc = new Float64Array(rows * this.dv);
    }
    this.rows = rows;
    this.max.fill(-Infinity, 0, rows);
    this.sum.fill(0, 0, rows);
    this.acc.fill(0, 0, rows * this.dv);
  }

  /** Raises row r's running maximum to `newMax`, rescaling its sum and output. */
  rescale(r: number, newMax: number): void {
    const old = this.max[r];
    this.max[r] = newMax;
    if (old === -Infinity || this.sum[r] === 0) return;
    const c = Math.exp(old - newMax);
    this.sum[r] *= c;
    const acc = this.acc;
    const dv = this.dv;
    for (let i = r * dv, e = i + dv; i < e; i++) acc[i] *= c;
  }

  /**
   * Folds `other` (the same queries, disjoint keys) into this state — the log-sum-exp merge: row
   * `from + i` of `other` into row i, for every row of this state.
   */
  merge(other: SoftmaxState, from = 0): void {
    const dv = this.dv;
    for (let r = 0; r < this.rows; r++) {
      const o = from + r;
      const m2 = other.max[o];
      if (m2 === -Infinity) continue;
      const m1 = this.max[r];
      const m = m1 > m2 ? m1 : m2;
      const c1 = m1 === -Infinity ? 0 : Math.exp(m1 - m);
      const c2 = Math.exp(m2 - m);
      this.max[r] = m;
      this.sum[r] = this.sum[r] * c1 + other.sum[o] * c2;
      const a = this.acc;
      const b = other.acc;
      for (let i = r * dv, j = o * dv, e = i + dv; i < e; i++, j++) a[i] = a[i] * c1 + b[j] * c2;
    }
  }

  /** Row r's normalized output into `out` at `offset` (zeros when the row saw no key). */
  writeOutput(r: number, out: Float64Array, offset: number): void {
    const dv = this.dv;
    const s = this.sum[r];
    const base = r * dv;
    if (s === 0) {
      out.fill(0, offset, offset + dv);
      return;
    }
    const inv = 1 / s;
    for (let c = 0; c < dv; c++) out[offset + c] = this.acc[base + c] * inv;
  }

  /** log Σ exp(score) of row r (−∞ when the row saw no key). */
  logSumExp(r: number): number {
    return this.sum[r] === 0 ? -Infinity : this.max[r] + Math.log(this.sum[r]);
  }
}
