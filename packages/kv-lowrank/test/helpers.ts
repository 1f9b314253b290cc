/**
 * Test fixtures: model specs, random tensors, and calibration sets with known low-rank structure.
 * References in the tests are written independently of the package (float64 loops, tensor-core's
 * reference attention).
 */
import { type CacheSpec, type Matrix, type Rng, type Tensor, attention, cpuBackend, matrix, rope, tensor } from '@kvkit/tensor-core';
import { consecutivePositions, testCacheSpec } from '@kvkit/tensor-core/testing';
import { KVCalibrationSet } from '../src/index.js';

export const backend = cpuBackend();

export const specOf = (over: Partial<CacheSpec> = {}): CacheSpec => testCacheSpec(over);

export const positions = consecutivePositions;

/** Standard normal values (f32-representable), scaled. */
export function randomValues(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * rng.normal());
}

export function randomTensor(rng: Rng, shape: number[], scale = 1): Tensor {
  return tensor(randomValues(rng, shape.reduce((a, b) => a * b, 1), scale), shape, { dtype: 'f32', backend });
}

/** A dim × rank matrix with orthonormal columns (Gram–Schmidt on Gaussian columns, float64). */
export function randomOrthonormal(rng: Rng, dim: number, rank: number): Matrix {
  const q = matrix(dim, rank);
  for (let j = 0; j < rank; j++) {
    const col = Float64Array.from({ length: dim }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < dim; i++) dot += col[i] * q.data[i * rank + p];
        for (let i = 0; i < dim; i++) col[i] -= dot * q.data[i * rank + p];
      }
    }
    const norm = Math.hypot(...col);
    for (let i = 0; i < dim; i++) q.data[i * rank + j] = col[i] / norm;
  }
  return q;
}

/**
 * Rows that lie exactly in a rank-`rank` subspace: [heads, n, width] with each head's vectors
 * x_t = B·c_t (B width × rank orthonormal, c_t Gaussian with decaying scales). Returns the data and
 * each head's subspace.
 */
export function lowRankRows(rng: Rng, heads: number, n: number, width: number, rank: number): { data: Float32Array; bases: Matrix[] } {
  const data = new Float32Array(heads * n * width);
  const bases: Matrix[] = [];
  for (let h = 0; h < heads; h++) {
    const basis = randomOrthonormal(rng, width, rank);
    bases.push(basis);
    for (let t = 0; t < n; t++) {
      const c = Array.from({ length: rank }, (_, j) => rng.normal() * (2 / (j + 1)));
      for (let i = 0; i < width; i++) {
        let s = 0;
        for (let j = 0; j < rank; j++) s += basis.data[i * rank + j] * c[j];
        data[(h * n + t) * width + i] = s;
      }
    }
  }
  return { data, bases };
}

export interface SyntheticModel {
  spec: CacheSpec;
  set: KVCalibrationSet;
}

/**
 * A calibration set whose pre-RoPE keys and values have rank `rank` per head; post-RoPE keys are the
 * rotated pre-RoPE keys, queries are Gaussian.
 */
export function syntheticCalibration(rng: Rng, spec: CacheSpec, tokens: number, rank: number, options: { weights?: boolean; hidden?: number } = {}): SyntheticModel {
  const set = new KVCalibrationSet({ ...spec, maxTokens: tokens, rope: spec.rope });
  const invFreq = tensor(spec.rope.invFreq, [spec.rope.invFreq.length], { dtype: 'f32', backend });
  const pos = tensor(positions(0, tokens), [tokens], { dtype: 'i32', backend });
  for (let layer = 0; layer < spec.numLayers; layer++) {
    const keys = tensor(lowRankRows(rng, spec.kvHeads, tokens, spec.headDim, rank).data, [spec.kvHeads, tokens, spec.headDim], { backend });
    const values = tensor(lowRankRows(rng, spec.kvHeads, tokens, spec.headDim, rank).data, [spec.kvHeads, tokens, spec.headDim], { backend });
    const q = randomTensor(rng, [spec.qHeads, tokens, spec.headDim]);
    set.add({ layerIndex: layer, keyPreRope: keys, key: rope(keys, pos, invFreq, spec.rope.layout), value: values, q });
    if (options.weights) {
      const hidden = options.hidden ?? 3 * spec.headDim;
      set.setWeights(layer, {
        k: randomMatrix(rng, spec.kvHeads * spec.headDim, hidden),
        v: randomMatrix(rng, spec.kvHeads * spec.headDim, hidden),
      });
    }
  }
  return { spec, set };
}

export function randomMatrix(rng: Rng, rows: number, cols: number, scale = 1): Matrix {
  return matrix(rows, cols, Array.from({ length: rows * cols }, () => scale * rng.normal()));
}

/** x ↦ float64 copy. */
export function f64(t: Tensor): Float64Array {
  return Float64Array.from(t.readFloat32Sync());
}

/** Fresh rows in the given subspaces: [heads, n, width] with head h's rows B_h·c. */
export function rowsInSubspaces(rng: Rng, bases: readonly Matrix[], n: number): Float32Array {
  const width = bases[0].rows;
  const out = new Float32Array(bases.length * n * width);
  bases.forEach((b, h) => {
    for (let t = 0; t < n; t++) {
      const c = Array.from({ length: b.cols }, () => rng.normal());
      for (let i = 0; i < width; i++) {
        let s = 0;
        for (let j = 0; j < b.cols; j++) s += b.data[i * b.cols + j] * c[j];
        out[(h * n + t) * width + i] = s;
      }
    }
  });
  return out;
}

/**
 * The uncompressed reference: tensor-core's attention over K/V given heads-first as host arrays
 * ([kvHeads, n, d] each), at explicit positions.
 */
export function referenceAttention(
  q: Tensor,
  keys: ArrayLike<number>,
  values: ArrayLike<number>,
  kvHeads: number,
  queryPositions: Int32Array,
  keyPositions: Int32Array,
  options: { statistics?: boolean; window?: number } = {},
) {
  const n = keyPositions.length;
  const d = q.shape[2];
  return attention(q, tensor(Float32Array.from(keys), [kvHeads, n, d], { backend }), tensor(Float32Array.from(values), [kvHeads, n, values.length / (kvHeads * n)], { backend }), {
    queryPositions: tensor(queryPositions, [queryPositions.length], { dtype: 'i32', backend }),
    keyPositions: tensor(keyPositions, [n], { dtype: 'i32', backend }),
    ...options,
  });
}

/** Host K/V accumulated heads-first across appends (what a dense cache would hold). */
export class HostKV {
  readonly keys: number[][];
  readonly values: number[][];
  readonly positions: number[] = [];

  constructor(
    readonly kvHeads: number,
    readonly headDim: number,
  ) {
    this.keys = Array.from({ length: kvHeads }, () => []);
    this.values = Array.from({ length: kvHeads }, () => []);
  }

  add(k: ArrayLike<number>, v: ArrayLike<number>, positions: Int32Array): void {
    const n = positions.length;
    const d = this.headDim;
    for (let h = 0; h < this.kvHeads; h++) {
      for (let i = h * n * d; i < (h + 1) * n * d; i++) {
        this.keys[h].push(k[i]);
        this.values[h].push(v[i]);
      }
    }
    this.positions.push(...positions);
  }

  flatKeys(): number[] {
    return this.keys.flat();
  }

  flatValues(): number[] {
    return this.values.flat();
  }

  keyPositions(): Int32Array {
    return Int32Array.from(this.positions);
  }
}
