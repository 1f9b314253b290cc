import { type AttentionMask, attention, concat, resolveAttentionMask, slice, type Tensor, tensor, TensorScope } from '@kvkit/tensor-core';
import { composedAttention } from './composed-attention.js';
import type { HeadKeys, ResolvedMask } from './head-keys.js';

/** Which query rows a scorer watches in this attend call, and how. */
export interface ObservationRequest {
  /** The last `rows` queries of the call (clamped to the call's query count). */
  rows: number;
  /** Weight of each observed row (oldest first), e.g. A2SF's forgetting factor powers. Absent: all 1. */
  rowWeights?: Float64Array;
  /** Also return the probabilities of the last `perRow` observed rows one by one (SnapKV's sliding window, head profiling). */
  perRow?: number;
}

/** What one KV head's query group paid each of its keys over the observed rows. */
export interface HeadObservation {
  /** Observed rows (≤ the request's rows). */
  rows: number;
  /** [group, n]: Σ over observed rows of weight · p(row → key), per query head. */
  sum: Float32Array;
  /** [group, n]: max over observed rows of p(row → key). */
  max: Float32Array;
  /** [group, perRowCount, n]: the probabilities of the last observed rows (with `perRow`). */
  perRow?: Float32Array;
  perRowCount: number;
}

export interface AttendHeadsOptions extends AttentionMask {
  /** Absolute positions of the m queries. */
  positions: Int32Array;
  /** Per-key statistics over all m queries, for the caller (`AttendOptions.statistics`). */
  statistics?: boolean;
  /** Statistics over the last rows, for the scorer. */
  observe?: ObservationRequest;
}

export interface AttendHeadsResult {
  /** [qHeads, m, dv] in q's dtype. */
  output: Tensor;
  /** Per KV head, over all queries: keySum and keyMax as [group, n_h] (with `statistics`). */
  statistics?: { keySum: Float32Array; keyMax: Float32Array }[];
  /** Per KV head (with `observe`). */
  observations?: HeadObservation[];
}

/**
 * THE attention seam of kv-evict: every cache layer of this package attends through this one
 * function. Query heads [h·g, (h+1)·g) read KV head h (grouped-query attention), and every KV head
 * reads only its own keys — the ragged storage is never padded or repeated.
 *
 * Today it calls tensor-core's reference `attention` per KV head (the fused path, bit-identical to
 * the dense cache) and composes ops for what that kernel lacks (per-key log weights, weighted or
 * per-row statistics). The fused kernels of @kvkit/attention-kernels (flash attention with
 * statistics, observation-window statistics, paged ragged storage) replace the body of this
 * function without any change to the layers.
 */
export function attendHeads(q: Tensor, heads: readonly HeadKeys[], options: AttendHeadsOptions): AttendHeadsResult {
  const [qHeads, m, d] = q.shape;
  const group = qHeads / heads.length;
  const mask = resolveAttentionMask(options, d, 'kv-evict attend');
  const observe = options.observe ? clampRequest(options.observe, m) : undefined;
  const scope = new TensorScope();
  try {
    const outputs: Tensor[] = [];
    const statistics: { keySum: Float32Array; keyMax: Float32Array }[] = [];
    const observations: HeadObservation[] = [];
    for (let h = 0; h < heads.length; h++) {
      const qh = scope.track(slice(q, [h * group, 0, 0], [(h + 1) * group, m, d]));
      const result = attendGroup(qh, heads[h], options.positions, mask, options.statistics ?? false, observe, scope);
      outputs.push(result.output);
      if (result.statistics) statistics.push(result.statistics);
      if (result.observation) observations.push(result.observation);
    }
    let output = outputs[0];
    if (outputs.length > 1) {
      output = concat(outputs, 0);
      for (const part of outputs) part.dispose();
    }
    return {
      output,
      ...(options.statistics ? { statistics } : {}),
      ...(observe ? { observations } : {}),
    };
  } finally {
    scope.dispose();
  }
}

interface GroupResult {
  output: Tensor;
  statistics?: { keySum: Float32Array; keyMax: Float32Array };
  observation?: HeadObservation;
}

function attendGroup(
  q: Tensor,
  head: HeadKeys,
  positions: Int32Array,
  mask: ResolvedMask,
  wantStatistics: boolean,
  observe: ObservationRequest | undefined,
  scope: TensorScope,
): GroupResult {
  const [group, m, d] = q.shape;
  const n = head.positions.length;
  const observedFrom = observe ? m - observe.rows : m;
  const perRowCount = observe?.perRow ?? 0;
  const stats = wantStatistics ? { keySum: new Float32Array(group * n), keyMax: new Float32Array(group * n) } : undefined;
  const observation: HeadObservation | undefined = observe
    ? { rows: observe.rows, sum: new Float32Array(group * n), max: new Float32Array(group * n), perRowCount, ...(perRowCount > 0 ? { perRow: new Float32Array(group * perRowCount * n) } : {}) }
    : undefined;

  /** Folds a block of probabilities ([group, rows, n], first row `start` of the rows given) into the results. */
  const fold = (offset: number, collectStatistics: boolean) => (start: number, rows: number, p: Float32Array) => {
    for (let g = 0; g < group; g++) {
      for (let r = 0; r < rows; r++) {
        const row = offset + start + r;
        const base = (g * rows + r) * n;
        if (stats && collectStatistics) accumulate(stats.keySum, stats.keyMax, g * n, p, base, n, 1);
        if (!observation || row < observedFrom) continue;
        const i = row - observedFrom;
        accumulate(observation.sum, observation.max, g * n, p, base, n, observe!.rowWeights ? observe!.rowWeights[i] : 1);
        const k = i - (observe!.rows - perRowCount);
        if (observation.perRow && k >= 0) observation.perRow.set(p.subarray(base, base + n), (g * perRowCount + k) * n);
      }
    }
  };

  if (head.logWeights) {
    // Weighted keys: the composed path gives the output, and statistics from the same probabilities.
    const output = composedAttention(q, head, positions, mask, { output: true, onBlock: fold(0, true) })!;
    return { output, statistics: stats, observation };
  }

  // Equal row weights (a single decode row, or λ = 1) scale the fused kernel's sums; only varying weights or single rows need probabilities.
  const weights = observe?.rowWeights;
  const uniformWeight = weights && weights.every((w) => w === weights[0]) ? weights[0] : weights ? undefined : 1;
  const needsComposed = observe !== undefined && observe.rows > 0 && (uniformWeight === undefined || perRowCount > 0);
  if (needsComposed) {
    // The fused kernel gives the output (and the caller's statistics); the observed suffix is recomputed as probabilities.
    const fused = fusedAttention(q, head, positions, mask, 0, m, wantStatistics, scope);
    if (stats && fused.keySum && fused.keyMax) mergeStatistics(stats, fused.keySum, fused.keyMax);
    const suffix = scope.track(slice(q, [0, observedFrom, 0], [group, m, d]));
    composedAttention(suffix, head, positions.subarray(observedFrom), mask, { output: false, onBlock: fold(observedFrom, false) });
    return { output: scope.untrack(fused.output), statistics: stats, observation };
  }

  // Fused path: one kernel call, or two when the observed rows are a suffix (its statistics are the observation).
  const split = observe && observe.rows > 0 ? observedFrom : m;
  const parts: Tensor[] = [];
  if (split > 0) {
    const first = fusedAttention(q, head, positions, mask, 0, split, wantStatistics, scope);
    parts.push(first.output);
    if (stats && first.keySum && first.keyMax) mergeStatistics(stats, first.keySum, first.keyMax);
  }
  if (split < m) {
    const second = fusedAttention(q, head, positions, mask, split, m, true, scope);
    parts.push(second.output);
    if (stats && second.keySum && second.keyMax) mergeStatistics(stats, second.keySum, second.keyMax);
    if (observation && second.keySum && second.keyMax) {
      for (let i = 0; i < second.keySum.length; i++) observation.sum[i] = uniformWeight! * second.keySum[i];
      observation.max.set(second.keyMax);
    }
  }
  const output = parts.length === 1 ? scope.untrack(parts[0]) : concat(parts, 1);
  return { output, statistics: stats, observation };
}

function fusedAttention(
  q: Tensor,
  head: HeadKeys,
  positions: Int32Array,
  mask: ResolvedMask,
  from: number,
  to: number,
  statistics: boolean,
  scope: TensorScope,
): { output: Tensor; keySum?: Float32Array; keyMax?: Float32Array } {
  const [group, m, d] = q.shape;
  const rows = from === 0 && to === m ? q : scope.track(slice(q, [0, from, 0], [group, to, d]));
  const queryPositions = scope.track(tensor(positions.subarray(from, to), [to - from], { dtype: 'i32', backend: q.backend }));
  const keyPositions = scope.track(tensor(head.positions, [head.positions.length], { dtype: 'i32', backend: q.backend }));
  const result = attention(rows, head.keys, head.values, { ...mask, queryPositions, keyPositions, statistics });
  scope.track(result.output);
  if (!result.statistics) return { output: result.output };
  const keySum = Float32Array.from(result.statistics.keySum.readFloat32Sync());
  const keyMax = Float32Array.from(result.statistics.keyMax.readFloat32Sync());
  result.statistics.keySum.dispose();
  result.statistics.keyMax.dispose();
  return { output: result.output, keySum, keyMax };
}

/** Clamps the observed rows to the call's queries; per-row rows to the observed ones; checks weights. */
function clampRequest(request: ObservationRequest, m: number): ObservationRequest {
  const rows = Math.min(Math.max(request.rows, 0), m);
  const perRow = Math.min(Math.max(request.perRow ?? 0, 0), rows);
  let rowWeights = request.rowWeights;
  // Weights describe the last `request.rows` rows; keep the ones that exist in this call.
  if (rowWeights && rowWeights.length !== rows) rowWeights = rowWeights.subarray(rowWeights.length - rows);
  return { rows, ...(perRow > 0 ? { perRow } : {}), ...(rowWeights ? { rowWeights } : {}) };
}

function accumulate(sum: Float32Array, max: Float32Array, at: number, p: Float32Array, base: number, n: number, weight: number): void {
  for (let j = 0; j < n; j++) {
    const value = p[base + j];
    sum[at + j] += weight * value;
    if (value > max[at + j]) max[at + j] = value;
  }
}

function mergeStatistics(into: { keySum: Float32Array; keyMax: Float32Array }, keySum: Float32Array, keyMax: Float32Array): void {
  for (let i = 0; i < keySum.length; i++) {
    into.keySum[i] += keySum[i];
    if (keyMax[i] > into.keyMax[i]) into.keyMax[i] = keyMax[i];
  }
}
