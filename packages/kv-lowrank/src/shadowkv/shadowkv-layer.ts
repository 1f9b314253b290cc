import {
  type AttendOptions,
  type AttendResult,
  type Backend,
  DisposedError,
  type KVCacheLayer,
  type LayerSpec,
  type Matrix,
  type MemoryReport,
  requireSynchronousBackend,
  type StepInfo,
  type Tensor,
  bytesPerElement,
  concat,
  gather,
  matmul,
  matrix,
  mean,
  reshape,
  rope,
  slice,
  tensor,
  transposeMatrix,
  validateAppend,
  validateAttend,
  TensorScope,
} from '@kvkit/tensor-core';
import { lowRankHeadAttention } from '../attention/latent-attention.js';
import { GrowableBuffer } from '../cache/growable-buffer.js';
import { basisTensor, disposeAll, groupRows, headRows, tokenRange } from '../cache/head-tensors.js';
import { DenseLatentStore } from '../cache/latent-store.js';
import { concatArrays } from '../cache/concat-arrays.js';
import { joinHeadResults } from '../cache/head-results.js';
import { emptyAttention, maskOf, trackResult } from '../cache/low-rank-layer.js';
import { MemoryTally } from '../cache/memory-tally.js';
import { PositionStore } from '../cache/position-store.js';
import { type RecentWindow, disposeWindow, windowTail, windowThenNew } from '../cache/recent-window.js';
import { asF32 } from '../cache/as-f32.js';
import { leftSingularDirections } from '../fit/principal-directions.js';

export interface ShadowKVPlan {
  /** Rank of the key basis over all heads' concatenated pre-RoPE keys. */
  rank: number;
  /** Tokens per chunk: one landmark (mean post-RoPE key) per chunk and head. */
  chunk: number;
  /** Tokens selected per decode step from the compressed part (whole chunks). */
  budget: number;
  /** Chunks per head kept with exact keys and always attended (the least landmark-like). */
  outliers: number;
  /** Most recent tokens kept whole and always attended. */
  window: number;
  dtype: 'f16' | 'f32';
  /** A calibrated basis [kvHeads·headDim, rank]; without it the basis is the SVD of the sequence's first compressed keys. */
  basis?: Matrix;
  initialCapacity: number;
}

/** Per head, the chunks kept exact: chunk index → post-RoPE keys [1, chunk, d], and each chunk's score. */
interface Outlier {
  chunk: number;
  score: number;
  keys: Tensor;
}

/**
 * ShadowKV's cache (Sun et al., 2024), key path: pre-RoPE keys of all heads are stored as rank-r
 * latents (basis: SVD of the sequence's own keys at its first compression, as the paper does at
 * prefill, or a calibrated one), values are kept whole (the paper offloads them to the CPU; here they
 * are resident and counted), and every chunk of `chunk` tokens gets a landmark per head — the mean of
 * its post-RoPE keys. Each decode step scores the landmarks against the query, picks the best chunks
 * within `budget`, rebuilds only their keys (basis · latent, then RoPE at their positions), and
 * attends over them plus the outlier chunks (lowest key–landmark cosine, kept exact) and the recent
 * window. Queries of several tokens (prefill) attend over every chunk. Recent tokens leave the window
 * a chunk at a time, projected on the same basis (the paper leaves decode tokens uncompressed).
 *
 * Selection reads landmark scores on the host, so this layer needs a synchronous backend (CPU).
 */
export class ShadowKVCacheLayer implements KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly keyInput = 'pre-rope' as const;
  /** `attend` gives each row's log-sum-exp when asked (`returnLse`). */
  readonly returnsLse = true;
  private readonly backend: Backend;
  private readonly plan: ShadowKVPlan;
  private readonly invFreq: Tensor;
  private readonly layout: LayerSpec['rope']['layout'];
  private basis?: Tensor;
  private headBasis: Tensor[] = [];
  private readonly latents: DenseLatentStore;
  private readonly values: GrowableBuffer;
  private readonly landmarks: GrowableBuffer;
  private readonly positions: PositionStore;
  private outliers: Outlier[][];
  private window?: RecentWindow;
  private disposed = false;

  constructor(spec: LayerSpec, plan: ShadowKVPlan) {
    requireSynchronousBackend(spec.backend, 'shadowkv', 'selects chunks each step by landmark scores read on the host');
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.backend = spec.backend;
    this.plan = plan;
    this.layout = spec.rope.layout;
    this.invFreq = tensor(spec.rope.invFreq, [spec.rope.invFreq.length], { dtype: 'f32', backend: this.backend });
    const capacity = plan.initialCapacity;
    this.latents = new DenseLatentStore(this.backend, plan.rank, plan.dtype, capacity);
    this.values = new GrowableBuffer(this.backend, this.kvHeads, this.headDim, plan.dtype, capacity);
    this.landmarks = new GrowableBuffer(this.backend, this.kvHeads, this.headDim, plan.dtype, Math.ceil(capacity / plan.chunk));
    this.positions = new PositionStore(this.backend, capacity);
    this.outliers = Array.from({ length: this.kvHeads }, () => []);
    if (plan.basis) this.setBasis(plan.basis);
  }

  get length(): number {
    return this.positions.length + (this.window?.positions.length ?? 0);
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    const n = validateAppend(this, k, v, step);
    if (n === 0) return;
    const scope = new TensorScope();
    // What the layer keeps if the append succeeds (new window, new outlier keys); released if it fails.
    const pending = new TensorScope();
    try {
      const all = windowThenNew(this.window, k, v, step.positions, scope);
      const fold = this.foldable(all.positions.length);
      let basis: Matrix | undefined;
      let folded: Folded | undefined;
      if (fold > 0) {
        const keys = scope.track(slice(all.keys, [0, 0, 0], [this.kvHeads, fold, this.headDim]));
        const rows = scope.track(groupRows(keys, 0, this.kvHeads));
        if (!this.basis) basis = this.fitBasis(rows);
        const basisNow = this.basis ?? scope.track(basisTensor(basis as Matrix, this.backend));
        folded = this.foldChunks(keys, rows, basisNow, all.values, all.positions.subarray(0, fold), scope, pending);
      }
      const window = windowTail(all, fold, this.plan.dtype);
      if (window) {
        pending.track(window.keys);
        pending.track(window.values);
      }
      // Commit: reserve (the only step that allocates), then write.
      const stored = this.positions.length;
      this.latents.reserve(stored + fold);
      this.values.reserve(stored + fold);
      this.landmarks.reserve((stored + fold) / this.plan.chunk);
      this.positions.reserve(stored + fold);
      if (folded) {
        if (basis) this.setBasis(basis);
        this.latents.append(folded.latents);
        this.values.append(folded.values);
        this.landmarks.append(folded.landmarks);
        this.positions.append(all.positions.subarray(0, fold));
        this.replaceOutliers(folded.outliers);
      }
      disposeWindow(this.window);
      this.window = window;
    } catch (error) {
      pending.dispose();
      throw error;
    } finally {
      scope.dispose();
    }
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    const [qHeads, m] = q.shape;
    const n = this.length;
    if (n === 0) return emptyAttention(q, this.headDim, options);
    const perKv = qHeads / this.kvHeads;
    const stored = this.positions.length;
    const chunks = stored / this.plan.chunk;
    const selectable = Math.floor(this.plan.budget / this.plan.chunk);
    const everything = m > 1 || chunks <= selectable + this.plan.outliers;
    const scope = new TensorScope();
    const i32 = (values: Int32Array) => scope.track(tensor(values, [values.length], { dtype: 'i32', backend: this.backend }));
    try {
      const qf = asF32(scope, q);
      const queryPositions = i32(options.positions);
      const storedPositions = this.positions.values();
      const windowPositions = this.window?.positions ?? new Int32Array(0);
      const results: AttendResult[] = [];
      const sums: Float32Array[] = [];
      const maxes: Float32Array[] = [];
      for (let h = 0; h < this.kvHeads; h++) {
        const qh = scope.track(slice(qf, [h * perKv, 0, 0], [(h + 1) * perKv, m, this.headDim]));
        const outlierChunks = new Set(this.outliers[h].map((o) => o.chunk));
        const picked = stored ? this.selectChunks(qh, h, chunks, everything ? Infinity : selectable, outlierChunks, scope) : [];
        const tokenIndex = chunkTokens(picked, this.plan.chunk);
        const outlierIndex = chunkTokens(this.outliers[h].map((o) => o.chunk), this.plan.chunk);
        const keyParts: Tensor[] = [];
        const valueParts: Tensor[] = [];
        if (tokenIndex.length) {
          const rebuilt = scope.track(matmul(scope.track(this.latents.gather(tokenIndex)), this.headBasis[h], { transposeB: true }));
          keyParts.push(scope.track(rope(rebuilt, i32(pick(storedPositions, tokenIndex)), this.invFreq, this.layout)));
          valueParts.push(this.gatherValues(h, tokenIndex, scope));
        }
        if (outlierIndex.length) {
          for (const o of this.outliers[h]) keyParts.push(asF32(scope, o.keys));
          valueParts.push(this.gatherValues(h, outlierIndex, scope));
        }
        if (this.window) {
          const head = (x: Tensor) => asF32(scope, scope.track(slice(x, [h, 0, 0], [h + 1, windowPositions.length, this.headDim])));
          keyParts.push(scope.track(rope(head(this.window.keys), i32(windowPositions), this.invFreq, this.layout)));
          valueParts.push(head(this.window.values));
        }
        const storageIndex = Int32Array.from([...tokenIndex, ...outlierIndex, ...windowPositions.map((_, i) => stored + i)]);
        const keyPositions = Int32Array.from([...pick(storedPositions, tokenIndex), ...pick(storedPositions, outlierIndex), ...windowPositions]);
        const result = trackResult(
          lowRankHeadAttention(
            qh,
            { kind: 'direct', tensor: scope.track(concat(keyParts, 1)) },
            { kind: 'direct', tensor: scope.track(concat(valueParts, 1)) },
            { ...maskOf(options, this.headDim), queryPositions, keyPositions: i32(keyPositions) },
          ),
          scope,
        );
        results.push({ output: result.output, ...(result.lse ? { lse: result.lse } : {}) });
        if (result.statistics) {
          // Keys that were not selected got no attention: scatter the selected ones into storage order.
          sums.push(scatterColumns(result.statistics.keySum.readFloat32Sync(), perKv, storageIndex, n));
          maxes.push(scatterColumns(result.statistics.keyMax.readFloat32Sync(), perKv, storageIndex, n));
        }
      }
      const { output, lse } = joinHeadResults(results, q.dtype);
      const rowLse = lse ? { lse } : {};
      if (!options.statistics) return { output, ...rowLse };
      const stat = (rows: Float32Array[]) => tensor(concatArrays(rows, Float32Array), [qHeads, n], { dtype: 'f32', backend: this.backend });
      return { output, statistics: { keySum: stat(sums), keyMax: stat(maxes) }, ...rowLse };
    } finally {
      scope.dispose();
    }
  }

  memory(): MemoryReport {
    const tally = new MemoryTally().addParts(this.latents.memory()).addBuffer('values', this.values.bytes()).addBuffer('landmarks', this.landmarks.bytes());
    tally.addBuffer('positions', this.positions.bytes());
    for (const head of this.outliers) for (const o of head) tally.add('outliers', o.keys.size * bytesPerElement(o.keys.dtype));
    if (this.window) {
      const held = this.window.positions.length;
      tally.add('window', 2 * held * this.kvHeads * this.headDim * bytesPerElement(this.plan.dtype)).add('positions', 4 * held);
    }
    if (this.basis) tally.add('projections', 4 * this.basis.size);
    return tally.report(this.length);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeAll([this.invFreq, this.basis, ...this.headBasis]);
    disposeWindow(this.window);
    for (const head of this.outliers) disposeAll(head.map((o) => o.keys));
    this.latents.dispose();
    this.values.dispose();
    this.landmarks.dispose();
    this.positions.dispose();
  }

  /**
   * Tokens that can leave the window now: whole chunks beyond the `window` most recent tokens. Before
   * the basis exists, at least `rank` tokens must go together so their SVD has `rank` directions.
   */
  private foldable(total: number): number {
    const fold = Math.floor(Math.max(0, total - this.plan.window) / this.plan.chunk) * this.plan.chunk;
    if (!this.basis && fold < this.plan.rank) return 0;
    return fold;
  }

  /** The per-sequence basis: the leading right singular vectors of the tokens' concatenated pre-RoPE keys. */
  private fitBasis(rows: Tensor): Matrix {
    const x = matrix(rows.shape[0], rows.shape[1], rows.readFloat32Sync());
    return leftSingularDirections(transposeMatrix(x), { maxRank: this.plan.rank }).basis;
  }

  private setBasis(basis: Matrix): void {
    this.basis = basisTensor(basis, this.backend);
    this.headBasis = Array.from({ length: this.kvHeads }, (_, h) => headRows(this.basis as Tensor, h, this.headDim));
  }

  /** Latents, values, landmarks and outlier candidates of the first `keys.shape[1]` tokens (whole chunks). */
  private foldChunks(keys: Tensor, rows: Tensor, basis: Tensor, allValues: Tensor, positions: Int32Array, scope: TensorScope, pending: TensorScope): Folded {
    const track = <T extends Tensor>(t: T): T => scope.track(t);
    const fold = keys.shape[1];
    const c = this.plan.chunk;
    const latents = track(reshape(track(matmul(rows, basis)), [1, fold, this.plan.rank]));
    const values = track(slice(allValues, [0, 0, 0], [this.kvHeads, fold, this.headDim]));
    const pos = track(tensor(positions, [fold], { dtype: 'i32', backend: this.backend }));
    const rotated = track(rope(keys, pos, this.invFreq, this.layout));
    const chunked = track(reshape(rotated, [this.kvHeads, fold / c, c, this.headDim]));
    const landmarks = track(mean(chunked, { axes: 2 }));
    const firstChunk = this.positions.length / c;
    const scores = chunkCosines(rotated.readFloat32Sync(), landmarks.readFloat32Sync(), this.kvHeads, fold / c, c, this.headDim);
    const outliers = this.outliers.map((current, h) => {
      const candidates: { chunk: number; score: number; keys?: Tensor }[] = [...current];
      for (let i = 0; i < fold / c; i++) candidates.push({ chunk: firstChunk + i, score: scores[h * (fold / c) + i] });
      candidates.sort((a, b) => a.score - b.score || a.chunk - b.chunk);
      return candidates.slice(0, this.plan.outliers).map((o) => {
        if (o.keys) return o as Outlier;
        const local = o.chunk - firstChunk;
        const view = track(slice(rotated, [h, local * c, 0], [h + 1, (local + 1) * c, this.headDim]));
        const keysCopy = pending.track(tokenRange(view, 0, c, this.plan.dtype));
        return { chunk: o.chunk, score: o.score, keys: keysCopy };
      });
    });
    return { latents, values, landmarks, outliers };
  }

  private replaceOutliers(next: Outlier[][]): void {
    this.outliers.forEach((current, h) => disposeAll(current.filter((o) => !next[h].includes(o)).map((o) => o.keys)));
    this.outliers = next;
  }

  /** The best `limit` chunks for these queries by landmark score (max over query heads and tokens), outliers excluded. */
  private selectChunks(qh: Tensor, h: number, chunks: number, limit: number, exclude: Set<number>, scope: TensorScope): number[] {
    const eligible = Array.from({ length: chunks }, (_, i) => i).filter((i) => !exclude.has(i));
    if (eligible.length <= limit) return eligible;
    const landmarkView = scope.track(this.landmarks.view());
    const landmarks = asF32(scope, scope.track(slice(landmarkView, [h, 0, 0], [h + 1, chunks, this.headDim])));
    const scores = scope.track(matmul(qh, landmarks, { transposeB: true })).readFloat32Sync();
    const best = new Float64Array(chunks).fill(-Infinity);
    for (let i = 0; i < scores.length; i++) best[i % chunks] = Math.max(best[i % chunks], scores[i]);
    return eligible
      .sort((a, b) => best[b] - best[a] || a - b)
      .slice(0, limit)
      .sort((a, b) => a - b);
  }

  private gatherValues(h: number, index: Int32Array, scope: TensorScope): Tensor {
    const all = scope.track(this.values.view());
    const head = scope.track(slice(all, [h, 0, 0], [h + 1, all.shape[1], this.headDim]));
    return asF32(scope, scope.track(gather(head, scope.track(tensor(index, [index.length], { dtype: 'i32', backend: this.backend })), 1)));
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`shadowkv cache layer ${this.layerIndex}`);
  }
}

interface Folded {
  latents: Tensor;
  values: Tensor;
  landmarks: Tensor;
  outliers: Outlier[][];
}

/** Storage indices of every token of the given chunks. */
function chunkTokens(chunks: readonly number[], size: number): Int32Array {
  const out = new Int32Array(chunks.length * size);
  chunks.forEach((chunk, i) => {
    for (let t = 0; t < size; t++) out[i * size + t] = chunk * size + t;
  });
  return out;
}

function pick(values: Int32Array, index: Int32Array): Int32Array {
  return Int32Array.from(index, (i) => values[i]);
}

/**
 * Per head and chunk, the smallest cosine similarity between a key of the chunk and the chunk's
 * landmark: low means the landmark summarizes the chunk badly (ShadowKV's outlier criterion).
 */
function chunkCosines(keys: Float32Array, landmarks: Float32Array, heads: number, chunks: number, size: number, d: number): Float64Array {
  const out = new Float64Array(heads * chunks);
  for (let h = 0; h < heads; h++) {
    for (let c = 0; c < chunks; c++) {
      const lm = (h * chunks + c) * d;
      let lmNorm = 0;
      for (let i = 0; i < d; i++) lmNorm += landmarks[lm + i] ** 2;
      let worst = Infinity;
      for (let t = 0; t < size; t++) {
        const k = (h * chunks * size + c * size + t) * d;
        let dot = 0;
        let kNorm = 0;
        for (let i = 0; i < d; i++) {
          dot += keys[k + i] * landmarks[lm + i];
          kNorm += keys[k + i] ** 2;
        }
        const denominator = Math.sqrt(lmNorm * kNorm);
        worst = Math.min(worst, denominator > 0 ? dot / denominator : 1);
      }
      out[h * chunks + c] = worst;
    }
  }
  return out;
}

/** [rows, k] statistics of the selected keys → [rows, n] in storage order (unselected keys: 0). */
function scatterColumns(values: Float32Array, rows: number, index: Int32Array, n: number): Float32Array {
  const out = new Float32Array(rows * n);
  const k = index.length;
  for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) out[r * n + index[j]] = values[r * k + j];
  return out;
}
