/** Small host-vector helpers shared by the merging policies (rows of a row-major [n, d] array). */

export function rowNorm(data: Float32Array, row: number, d: number): number {
  let s = 0;
  for (let c = 0; c < d; c++) s += data[row * d + c] ** 2;
  return Math.sqrt(s);
}

/** Cosine similarity of rows a and b (0 when either is the zero vector). */
export function rowCosine(data: Float32Array, a: number, b: number, d: number, norms?: Float64Array): number {
  let dot = 0;
  for (let c = 0; c < d; c++) dot += data[a * d + c] * data[b * d + c];
  const na = norms ? norms[a] : rowNorm(data, a, d);
  const nb = norms ? norms[b] : rowNorm(data, b, d);
  return na > 0 && nb > 0 ? dot / (na * nb) : 0;
}

/** Squared Euclidean distance between rows a and b. */
export function rowDistanceSquared(data: Float32Array, a: number, b: number, d: number): number {
  let s = 0;
  for (let c = 0; c < d; c++) s += (data[a * d + c] - data[b * d + c]) ** 2;
  return s;
}

/** Norms of every row. */
export function rowNorms(data: Float32Array, d: number): Float64Array {
  const n = data.length / d;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rowNorm(data, i, d);
  return out;
}

/** Σ weights[i] · row(rows[i]) / Σ weights (float64), as f32. */
export function weightedRowMean(data: Float32Array, rows: readonly number[], weights: readonly number[], d: number): Float32Array {
  const acc = new Float64Array(d);
  let total = 0;
  rows.forEach((row, i) => {
    total += weights[i];
    for (let c = 0; c < d; c++) acc[c] += weights[i] * data[row * d + c];
  });
  return Float32Array.from(acc, (x) => x / total);
}

/** For each row in `from`, the row in `to` with the highest cosine similarity, and that similarity. */
export function nearestByCosine(data: Float32Array, from: ArrayLike<number>, to: ArrayLike<number>, d: number): { target: Int32Array; similarity: Float64Array } {
  const norms = rowNorms(data, d);
  const target = new Int32Array(from.length).fill(-1);
  const similarity = new Float64Array(from.length).fill(-Infinity);
  for (let i = 0; i < from.length; i++) {
    for (let j = 0; j < to.length; j++) {
      const s = rowCosine(data, from[i], to[j], d, norms);
      if (s > similarity[i]) {
        similarity[i] = s;
        target[i] = to[j];
      }
    }
  }
  return { target, similarity };
}
