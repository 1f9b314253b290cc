import { attentionStatistics, decodeAttention, flashAttention, type KeyStatistics, readsTokenCodes, type StatisticsOptions } from '@kvkit/attention-kernels';
import { type AttentionMask, concat, slice, type Tensor, tensor, TensorScope } from '@kvkit/tensor-core';
import type { HeadKeys } from './head-keys.js';

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
  /** Also return each row's log-sum-exp (`AttendOptions.returnLse`). */
  returnLse?: boolean;
}

export interface AttendHeadsResult {
  /** [qHeads, m, dv] in q's dtype. */
  output: Tensor;
  /** Per KV head, over all queries: keySum and keyMax as [group, n_h] (with `statistics`). */
  statistics?: { keySum: Float32Array; keyMax: Float32Array }[];
  /** Per KV head (with `observe`). */
  observations?: HeadObservation[];
  /** f32 [qHeads, m]: each row's log-sum-exp over the keys it saw (with `returnLse`). */
  lse?: Tensor;
}

/** Up to this many queries per call attend with the split-K decode kernel, more with the flash kernel. */
const DECODE_QUERIES = 8;

/**
 * THE attention seam of kv-evict: every cache layer of this package attends through this one
 * function. Query heads [h·g, (h+1)·g) read KV head h (grouped-query attention), and every KV head
 * reads only its own keys — the ragged storage is never padded or repeated.
 *
 * Each KV head's group runs the fused kernels of @kvkit/attention-kernels (`decodeAttention` for a
 * few queries, `flashAttention` for more): per-key log weights, the caller's statistics and the
 * scorer's observation (a window of last rows, row weights, single rows' probabilities) all come
 * from the kernel's one pass. Only when the caller's statistics and an observation are both asked
 * for does `attentionStatistics` re-score the observed rows (it never reads V).
 *
 * When every head carries per-token codes (a quantized store) and the backend has a kernel that
 * reads them (`readsTokenCodes`; the CPU today), the kernels read the codes in place, a tile at a
 * time, and the heads' f32 keys/values are never built; otherwise they read the dequantized rows.
 */
export function attendHeads(q: Tensor, heads: readonly HeadKeys[], options: AttendHeadsOptions): AttendHeadsResult {
  const [qHeads, m, d] = q.shape;
  const group = qHeads / heads.length;
  const { positions, statistics: wantStatistics = false, observe: request, returnLse = false, ...mask } = options;
  const observe = request ? clampRequest(request, m) : undefined;
  const scope = new TensorScope();
  try {
    const outputs: Tensor[] = [];
    const lses: Tensor[] = [];
    const statistics: { keySum: Float32Array; keyMax: Float32Array }[] = [];
    const observations: HeadObservation[] = [];
    const readCodes = heads.every((head) => head.codes !== undefined) && readsTokenCodes(q.backend);
    for (let h = 0; h < heads.length; h++) {
      const qh = heads.length === 1 ? q : scope.track(slice(q, [h * group, 0, 0], [(h + 1) * group, m, d]));
      const result = attendGroup(qh, heads[h], readCodes, positions, mask, wantStatistics, observe, returnLse, scope);
      outputs.push(result.output);
      if (result.lse) lses.push(result.lse);
      if (result.statistics) statistics.push(result.statistics);
      if (result.observation) observations.push(result.observation);
    }
    // The parts stay in the scope (released after the concat); a single part goes to the caller.
    const output = outputs.length === 1 ? scope.untrack(outputs[0]) : concat(outputs, 0);
    const lse = !returnLse ? undefined : lses.length === 1 ? scope.untrack(lses[0]) : concat(lses, 0);
    return {
      output,
      ...(lse ? { lse } : {}),
      ...(wantStatistics ? { statistics } : {}),
      ...(observe ? { observations } : {}),
    };
  } finally {
    scope.dispose();
  }
}

interface GroupResult {
  /** Tracked by the scope (as `lse`). */
  output: Tensor;
  lse?: Tensor;
  statistics?: { keySum: Float32Array; keyMax: Float32Array };
  observation?: HeadObservation;
}

function attendGroup(
  q: Tensor,
  head: HeadKeys,
  readCodes: boolean,
  positions: Int32Array,
  mask: AttentionMask,
  wantStatistics: boolean,
  observe: ObservationRequest | undefined,
  returnLse: boolean,
  scope: TensorScope,
): GroupResult {
  const [group, m] = q.shape;
  const common = keyOptions(q, head, positions, mask, scope);
  const observed = observe ? observedStatistics(observe) : undefined;
  const attend = m <= DECODE_QUERIES ? decodeAttention : flashAttention;
  const keys = readCodes ? { codes: head.codes!.keys } : head.keys;
  const values = readCodes ? { codes: head.codes!.values } : head.values;
  const result = attend(q, keys, values, { ...common, statistics: wantStatistics ? true : (observed ?? false), returnLse });
  scope.track(result.output);
  if (result.lse) scope.track(result.lse);
  const fromKernel = result.statistics && tracked(scope, result.statistics);
  const statistics = wantStatistics && fromKernel ? { keySum: fromKernel.keySum.readFloat32Sync(), keyMax: fromKernel.keyMax.readFloat32Sync() } : undefined;
  let observation: HeadObservation | undefined;
  if (observe) {
    const stats = observed && (wantStatistics ? tracked(scope, attentionStatistics(q, keys, { ...common, statistics: observed })) : fromKernel!);
    observation = readObservation(stats, observe, group, head.positions.length);
  }
  return { output: result.output, statistics, observation, ...(result.lse ? { lse: result.lse } : {}) };
}

/**
 * The scorer's observation alone, without an attention output: per KV head, what its query group
 * paid each of its keys over the observed rows (the last `observe.rows` of q's m queries), from
 * `attentionStatistics`, which never reads V. For re-scoring a kept query window against the keys a
 * layer holds (SnapKV's sliding window) and for profiling heads: `attendHeads` with an observation
 * would also compute the outputs, the products with V, only to drop them.
 */
export function observeHeads(q: Tensor, heads: readonly HeadKeys[], options: AttentionMask & { positions: Int32Array; observe: ObservationRequest }): HeadObservation[] {
  const [qHeads, m, d] = q.shape;
  const group = qHeads / heads.length;
  const { positions, observe: request, ...mask } = options;
  const observe = clampRequest(request, m);
  const observed = observedStatistics(observe);
  const readCodes = heads.every((head) => head.codes !== undefined) && readsTokenCodes(q.backend);
  const scope = new TensorScope();
  try {
    return heads.map((head, h) => {
      const qh = heads.length === 1 ? q : scope.track(slice(q, [h * group, 0, 0], [(h + 1) * group, m, d]));
      const keys = readCodes ? { codes: head.codes!.keys } : head.keys;
      const stats = observed && tracked(scope, attentionStatistics(qh, keys, { ...keyOptions(qh, head, positions, mask, scope), statistics: observed }));
      return readObservation(stats, observe, group, head.positions.length);
    });
  } finally {
    scope.dispose();
  }
}

/** The kernels' options for one head's keys: the mask, query and key positions, and its per-key log weights. */
function keyOptions(q: Tensor, head: HeadKeys, positions: Int32Array, mask: AttentionMask, scope: TensorScope) {
  const n = head.positions.length;
  return {
    ...mask,
    queryPositions: positions,
    keyPositions: head.positions,
    ...(head.logWeights ? { keyLogWeights: scope.track(tensor(head.logWeights, [1, n], { dtype: 'f32', backend: q.backend })) } : {}),
  };
}

/** The kernels' statistics options for an observation (undefined when it observes no row). */
function observedStatistics(observe: ObservationRequest): StatisticsOptions | undefined {
  if (observe.rows <= 0) return undefined;
  return { window: observe.rows, ...(observe.rowWeights ? { weights: observe.rowWeights } : {}), ...(observe.perRow ? { rowProbabilities: observe.perRow } : {}) };
}

/** A head's observation from the kernel's statistics over the observed rows (zeros when none were observed). */
function readObservation(stats: KeyStatistics | undefined, observe: ObservationRequest, group: number, n: number): HeadObservation {
  const observation: HeadObservation = { rows: observe.rows, sum: new Float32Array(group * n), max: new Float32Array(group * n), perRowCount: observe.perRow ?? 0 };
  if (stats) {
    observation.sum = stats.keySum.readFloat32Sync();
    observation.max = stats.keyMax.readFloat32Sync();
    if (stats.rowProbabilities) observation.perRow = stats.rowProbabilities.readFloat32Sync();
  }
  return observation;
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

/** Registers every tensor of the kernel's statistics for release with the scope. */
function tracked(scope: TensorScope, stats: KeyStatistics): KeyStatistics {
  for (const t of [stats.keySum, stats.keyMax, stats.queryCount, stats.rowProbabilities]) if (t) scope.track(t);
  return stats;
}
