import {
  arange,
  type Backend,
  InvalidConfigError,
  isFloatDType,
  reshape,
  resolveAttentionMask,
  ShapeMismatchError,
  type Tensor,
  tensor,
  UnsupportedDTypeError,
} from '@kvkit/tensor-core';
import type { KernelAttrs, KernelOptions, StatisticsAttrs, StatisticsOptions } from './attention-types.js';

export function assertFloatTensor(t: Tensor, where: string, name: string): void {
  if (!isFloatDType(t.dtype)) throw new UnsupportedDTypeError(`${where}: ${name} must be f32, f16 or bf16, got ${t.dtype}`, { dtype: t.dtype });
}

export function assertShape(t: Tensor, rank: number, where: string, name: string, pattern: string): void {
  if (t.rank !== rank) throw new ShapeMismatchError(`${where}: ${name} must be ${pattern}, got [${t.shape.join(', ')}]`, { shape: t.shape });
}

/** Checks that `qHeads` query heads share `kvHeads` KV heads evenly (grouped-query attention). */
export function assertGroups(qHeads: number, kvHeads: number, where: string): void {
  if (kvHeads === 0 || qHeads % kvHeads !== 0) {
    throw new ShapeMismatchError(`${where}: ${qHeads} query heads are not a multiple of ${kvHeads} KV heads`, { qHeads, kvHeads });
  }
}

/** k [kvHeads, n, d] and (optional) v [kvHeads, n, dv] of one dtype: their sizes, or a typed error. */
export function kvShapes(k: Tensor, v: Tensor | undefined, where: string) {
  assertFloatTensor(k, where, 'k');
  assertShape(k, 3, where, 'k', '[kvHeads, n, headDim]');
  const [kvHeads, n, d] = k.shape;
  let dv = 0;
  if (v) {
    assertFloatTensor(v, where, 'v');
    assertShape(v, 3, where, 'v', '[kvHeads, n, valueDim]');
    if (v.dtype !== k.dtype) throw new UnsupportedDTypeError(`${where}: k is ${k.dtype} but v is ${v.dtype}`);
    if (v.shape[0] !== kvHeads || v.shape[1] !== n) {
      throw new ShapeMismatchError(`${where}: v [${v.shape.join(', ')}] does not match k [${k.shape.join(', ')}]`, { k: k.shape, v: v.shape });
    }
    dv = v.shape[2];
  }
  return { kvHeads, n, d, dv };
}

/** q [qHeads, m, d], k [kvHeads, n, d], v [kvHeads, n, dv] (v optional): their sizes, or a typed error. */
export function denseShapes(q: Tensor, k: Tensor, v: Tensor | undefined, where: string) {
  assertFloatTensor(q, where, 'q');
  assertShape(q, 3, where, 'q', '[qHeads, m, headDim]');
  const [qHeads, m, d] = q.shape;
  const kv = kvShapes(k, v, where);
  if (kv.d !== d) throw new ShapeMismatchError(`${where}: q has head dim ${d} but k has ${kv.d}`, { q: q.shape, k: k.shape });
  assertGroups(qHeads, kv.kvHeads, where);
  return { qHeads, m, d, kvHeads: kv.kvHeads, n: kv.n, dv: kv.dv };
}

export function positiveInteger(value: number | undefined, fallback: number, where: string, name: string): number {
  const x = value ?? fallback;
  if (!Number.isInteger(x) || x < 1) throw new InvalidConfigError(`${where}: ${name} must be a positive integer, got ${value}`, { [name]: value });
  return x;
}

export function resolveStatistics(option: boolean | StatisticsOptions | undefined, where: string): StatisticsAttrs {
  if (!option) return { enabled: false, window: 0, decay: 1, weights: undefined, rowProbabilities: 0 };
  const o = option === true ? {} : option;
  const window = o.window ?? 0;
  const decay = o.decay ?? 1;
  const rowProbabilities = o.rowProbabilities ?? 0;
  if (!Number.isInteger(window) || window < 0) throw new InvalidConfigError(`${where}: statistics.window must be a positive integer (or absent), got ${o.window}`);
  if (!(decay > 0 && decay <= 1)) throw new InvalidConfigError(`${where}: statistics.decay must be in (0, 1], got ${o.decay}`);
  if (!Number.isInteger(rowProbabilities) || rowProbabilities < 0) {
    throw new InvalidConfigError(`${where}: statistics.rowProbabilities must be a non-negative integer, got ${o.rowProbabilities}`);
  }
  let weights: Float64Array | undefined;
  if (o.weights !== undefined) {
    if (o.decay !== undefined) throw new InvalidConfigError(`${where}: give statistics.weights or statistics.decay, not both`);
    weights = Float64Array.from(o.weights);
    if (weights.some((w) => !(w >= 0) || !Number.isFinite(w))) throw new InvalidConfigError(`${where}: statistics.weights must be finite and non-negative`);
  }
  return { enabled: true, window, decay, weights, rowProbabilities };
}

/** Checks the statistics options against the query count m (weights and row counts depend on it). */
export function checkStatisticsFor(stats: StatisticsAttrs, m: number, where: string): void {
  if (!stats.enabled) return;
  const contributing = stats.window > 0 ? Math.min(stats.window, m) : m;
  if (stats.weights && stats.weights.length !== contributing) {
    throw new ShapeMismatchError(`${where}: statistics.weights has ${stats.weights.length} entries for ${contributing} contributing queries`);
  }
  if (stats.rowProbabilities > contributing) {
    throw new ShapeMismatchError(`${where}: statistics.rowProbabilities ${stats.rowProbabilities} exceeds the ${contributing} contributing queries`);
  }
}

/** The optional per-key log weights [kvHeads, n] (f32), checked. */
export function keyLogWeightsInput(t: Tensor | undefined, kvHeads: number, n: number, where: string): Tensor | undefined {
  if (t === undefined) return undefined;
  if (t.dtype !== 'f32') throw new UnsupportedDTypeError(`${where}: keyLogWeights must be f32, got ${t.dtype}`);
  if (t.rank !== 2 || t.shape[0] !== kvHeads || t.shape[1] !== n) {
    throw new ShapeMismatchError(`${where}: keyLogWeights must be [${kvHeads}, ${n}], got [${t.shape.join(', ')}]`);
  }
  return t;
}

/** Mask, statistics, lse and tile attributes from the options, validated. */
export function resolveKernelAttrs(options: KernelOptions, headDim: number, where: string): KernelAttrs {
  return {
    ...resolveAttentionMask(options, headDim, where),
    statistics: resolveStatistics(options.statistics, where),
    lse: options.returnLse ?? false,
    tileSize: positiveInteger(options.tileSize, 64, where, 'tileSize'),
  };
}

/**
 * Tensors an op makes for one call (default positions, host arrays uploaded as tensors), disposed
 * together when the call ends, whether it succeeds or throws.
 */
export class Temporaries {
  private readonly made: Tensor[] = [];

  constructor(private readonly backend: Backend) {}

  /** An i32 tensor holding `values`. */
  ints(values: Int32Array | readonly number[], shape: readonly number[]): Tensor {
    return this.keep(tensor(values, shape, { dtype: 'i32', backend: this.backend }));
  }

  /**
   * A positions tensor of shape `shape`: the caller's (a tensor or a host Int32Array) or, absent,
   * `defaultStart, defaultStart + 1, …`.
   */
  positions(given: Tensor | Int32Array | undefined, shape: readonly number[], defaultStart: number, where: string, name: string): Tensor {
    const length = shape.reduce((a, b) => a * b, 1);
    if (given === undefined) {
      const range = arange(defaultStart, defaultStart + length, 1, { dtype: 'i32', backend: this.backend });
      if (shape.length === 1) return this.keep(range);
      const shaped = reshape(range, shape);
      range.dispose();
      return this.keep(shaped);
    }
    if (given instanceof Int32Array) {
      if (given.length !== length) throw new ShapeMismatchError(`${where}: ${name} must have ${length} entries, got ${given.length}`);
      return this.ints(given, shape);
    }
    if (given.dtype !== 'i32') throw new UnsupportedDTypeError(`${where}: ${name} must be i32, got ${given.dtype}`);
    if (given.rank !== shape.length || given.shape.some((s, i) => s !== shape[i])) {
      throw new ShapeMismatchError(`${where}: ${name} must have shape [${shape.join(', ')}], got [${given.shape.join(', ')}]`);
    }
    return given;
  }

  keep(t: Tensor): Tensor {
    this.made.push(t);
    return t;
  }

  dispose(): void {
    for (const t of this.made) t.dispose();
    this.made.length = 0;
  }
}

/** Runs `body` with a fresh set of temporaries on `backend`, disposed afterwards. */
export function withTemporaries<T>(backend: Backend, body: (temps: Temporaries) => T): T {
  const temps = new Temporaries(backend);
  try {
    return body(temps);
  } finally {
    temps.dispose();
  }
}
