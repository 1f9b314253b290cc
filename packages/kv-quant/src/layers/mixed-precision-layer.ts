import {
  type AttendOptions,
  type AttendResult,
  attention,
  type Backend,
  cast,
  DisposedError,
  gather,
  keyVisible,
  type KVCacheLayer,
  type LayerSpec,
  type MemoryReport,
  memoryReport,
  requireSynchronousBackend,
  type StepInfo,
  type Tensor,
  tensor,
  validateAppend,
  validateAttend,
  TensorScope,
} from '@kvkit/tensor-core';
import type { TokenCodec } from '../codecs/codec.js';
import type { ParamDType } from '../numeric/param-dtype.js';
import type { TokenScorer, TokenStatistics } from '../scorers/token-scores.js';
import { addParts, disposeRecord, type FieldSpec, RecordStore, type RecordTensors } from '../storage/record-store.js';
import { TokenColumns } from '../storage/token-columns.js';
import { joinTokens } from '../streams/stream.js';

export interface MixedPrecisionParts {
  method: string;
  storageDType: ParamDType;
  high: { keys: TokenCodec; values: TokenCodec };
  low: { keys: TokenCodec; values: TokenCodec };
  scorer: TokenScorer;
  /** Share of the quantized tokens kept at high precision. */
  highRatio: number;
  /** Newest tokens kept in full precision; they also wait there for attention statistics. */
  recent: number;
  /** MiKV: high-precision tokens that lose their rank are re-coded at low precision. ZipCache: precision is decided once. */
  demote: boolean;
  initialCapacity: number;
  extraMemory?: () => Record<string, number>;
  onDispose?: () => void;
}

const prefixed = (prefix: string, fields: readonly FieldSpec[]): FieldSpec[] => fields.map((f) => ({ ...f, name: prefix + f.name }));

function pick(record: RecordTensors, prefix: string): RecordTensors {
  const out: RecordTensors = {};
  for (const [name, t] of Object.entries(record)) if (name.startsWith(prefix)) out[name.slice(prefix.length)] = t;
  return out;
}

function withPrefix(record: RecordTensors, prefix: string): RecordTensors {
  return Object.fromEntries(Object.entries(record).map(([name, t]) => [prefix + name, t]));
}

/** One precision tier: the records of its tokens (keys and values side by side) and their bookkeeping. */
class Tier {
  readonly store: RecordStore;
  readonly columns: TokenColumns;

  constructor(backend: Backend, heads: number, readonly keys: TokenCodec, readonly values: TokenCodec, capacity: number) {
    this.store = new RecordStore(backend, [heads], [...prefixed('k.', keys.fields), ...prefixed('v.', values.fields)], capacity);
    this.columns = new TokenColumns(capacity);
  }

  encode(k: Tensor, v: Tensor): RecordTensors {
    return { ...withPrefix(this.keys.encode(k), 'k.'), ...withPrefix(this.values.encode(v), 'v.') };
  }

  /** Decoded keys and values of the rows at `rows` (all rows when absent), f32 [heads, n, d]. */
  decode(rows?: Int32Array): { k: Tensor; v: Tensor } {
    const view = this.store.view();
    const scope = new TensorScope();
    try {
      let record = view;
      if (rows) {
        const index = scope.track(tensor(rows, [rows.length], { dtype: 'i32' }));
        record = Object.fromEntries(Object.entries(view).map(([name, t]) => [name, scope.track(gather(t, index, 1))]));
      }
      return { k: this.keys.decode(pick(record, 'k.')), v: this.values.decode(pick(record, 'v.')) };
    } finally {
      disposeRecord(view);
      scope.dispose();
    }
  }
}

interface FlushPlan {
  flushed: number;
  toHigh?: { record: RecordTensors; rows: number[] };
  toLow: { record: RecordTensors; rows: number[]; fromHigh: boolean }[];
  /** High rows re-coded at low precision, descending (removal order). */
  demoted: number[];
}

/**
 * Mixed-precision quantized cache (ZipCache, MiKV): tokens arrive in a full-precision window; when
 * they leave it, a scorer over the attention statistics gathered meanwhile decides which are kept
 * at high precision and which at low. With `demote`, high-precision tokens that fall out of the
 * top share are re-coded at low precision (MiKV: what an eviction policy would drop is kept at low
 * precision instead). Decisions are per token, shared by all KV heads (the stores stay rectangular).
 * Keys, values and statistics are held in storage order: high tier, low tier, window.
 */
export class MixedPrecisionLayer implements KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly keyInput = 'post-rope' as const;
  /** `attend` gives each row's log-sum-exp when asked (`returnLse`). */
  readonly returnsLse = true;
  readonly high: Tier;
  readonly low: Tier;
  private readonly window: RecordStore;
  /** Host bookkeeping of the window tokens (positions and statistics). */
  readonly windowColumns: TokenColumns;
  private readonly backend: Backend;
  private disposed = false;

  constructor(spec: LayerSpec, private readonly parts: MixedPrecisionParts) {
    requireSynchronousBackend(spec.backend, parts.method, 'ranks tokens on the host by their attention statistics to choose their precision');
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.backend = spec.backend;
    const cap = parts.initialCapacity;
    this.high = new Tier(spec.backend, spec.kvHeads, parts.high.keys, parts.high.values, Math.max(1, Math.ceil(cap * parts.highRatio)));
    this.low = new Tier(spec.backend, spec.kvHeads, parts.low.keys, parts.low.values, cap);
    const rows = (name: string): FieldSpec => ({ name, dtype: parts.storageDType, inner: [spec.headDim], part: 'window' });
    this.window = new RecordStore(spec.backend, [spec.kvHeads], [rows('k'), rows('v')], Math.max(1, parts.recent));
    this.windowColumns = new TokenColumns(Math.max(1, parts.recent));
  }

  get length(): number {
    return this.high.store.count + this.low.store.count + this.window.count;
  }

  /** Positions of the held tokens in storage order (the order of attention statistics). */
  storedPositions(): Int32Array {
    return this.tokenStatistics().positions;
  }

  /** The per-token statistics gathered so far, in storage order (what the scorer sees). */
  tokenStatistics(): TokenStatistics {
    const tiers = [this.high.columns, this.low.columns, this.windowColumns];
    const total = tiers.reduce((s, c) => s + c.count, 0);
    const stats = { positions: new Int32Array(total), attention: new Float32Array(total), queries: new Float32Array(total) };
    let at = 0;
    for (const c of tiers) {
      stats.positions.set(c.positions.subarray(0, c.count), at);
      stats.attention.set(c.attention.subarray(0, c.count), at);
      stats.queries.set(c.queries.subarray(0, c.count), at);
      at += c.count;
    }
    return stats;
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    const n = validateAppend(this, k, v, step);
    if (n === 0) return;
    const scope = new TensorScope();
    const dtype = this.parts.storageDType;
    let plan: FlushPlan | undefined;
    try {
      const kIn = k.dtype === dtype ? k : scope.track(cast(k, dtype));
      const vIn = v.dtype === dtype ? v : scope.track(cast(v, dtype));
      plan = this.planFlush();
      if (plan) this.applyFlush(plan);
      this.window.reserve(n);
      this.window.append({ k: kIn, v: vIn }, n);
      for (const p of step.positions) this.windowColumns.push(p);
    } finally {
      if (plan) for (const r of [plan.toHigh, ...plan.toLow]) if (r) disposeRecord(r.record);
      scope.dispose();
    }
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    const scope = new TensorScope();
    let output: Tensor | undefined;
    try {
      const keys: Tensor[] = [];
      const values: Tensor[] = [];
      for (const tier of [this.high, this.low]) {
        if (tier.store.count === 0) continue;
        const { k, v } = tier.decode();
        keys.push(k);
        values.push(v);
      }
      if (this.window.count) {
        keys.push(this.window.buffer('k').rows(0, this.window.count));
        values.push(this.window.buffer('v').rows(0, this.window.count));
      }
      const K = scope.track(joinTokens(keys, this.backend, this.kvHeads, this.headDim));
      const V = scope.track(joinTokens(values, this.backend, this.kvHeads, this.headDim));
      const positions = this.storedPositions();
      const keyPositions = scope.track(tensor(positions, [positions.length], { dtype: 'i32', backend: this.backend }));
      const queryPositions = scope.track(tensor(options.positions, [options.positions.length], { dtype: 'i32', backend: this.backend }));
      const { positions: _p, statistics: wanted, ...mask } = options;
      const result = attention(q, K, V, { ...mask, queryPositions, keyPositions, statistics: true });
      output = result.output;
      const stats = result.statistics!;
      this.accumulate(stats.keySum.readFloat32Sync(), q.shape[0], positions, options);
      const lse = result.lse ? { lse: result.lse } : {};
      if (wanted) return { output, statistics: stats, ...lse };
      stats.keySum.dispose();
      stats.keyMax.dispose();
      return { output, ...lse };
    } finally {
      if (output) scope.dispose(output);
      else scope.dispose();
    }
  }

  memory(): MemoryReport {
    const parts: Record<string, number> = {};
    for (const tier of [this.high, this.low]) {
      addParts(parts, tier.store.memory());
      addParts(parts, tier.keys.parameterMemory());
      addParts(parts, tier.values.parameterMemory());
    }
    addParts(parts, this.window.memory());
    for (const c of [this.high.columns, this.low.columns, this.windowColumns]) {
      addParts(parts, { positions: 4 * c.count, statistics: 8 * c.count, reserved: TokenColumns.rowBytes * (c.capacity - c.count) });
    }
    if (this.parts.extraMemory) addParts(parts, this.parts.extraMemory());
    return memoryReport(parts, this.length);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const tier of [this.high, this.low]) {
      tier.store.dispose();
      tier.keys.dispose();
      tier.values.dispose();
    }
    this.window.dispose();
    this.parts.onDispose?.();
  }

  /** Adds one attention pass to the per-token statistics (mean over query heads; visible-query counts). */
  private accumulate(keySum: Float32Array, qHeads: number, positions: Int32Array, options: AttendOptions): void {
    const n = positions.length;
    const causal = options.causal ?? true;
    const window = options.window ?? 0;
    let j = 0;
    for (const c of [this.high.columns, this.low.columns, this.windowColumns]) {
      for (let r = 0; r < c.count; r++, j++) {
        let sum = 0;
        for (let h = 0; h < qHeads; h++) sum += keySum[h * n + j];
        let seen = 0;
        for (const qp of options.positions) if (keyVisible(qp, positions[j], causal, window)) seen += 1;
        c.attention[r] += sum / qHeads;
        c.queries[r] += seen;
      }
    }
  }

  /** Decides where the tokens leaving the window go and encodes them; changes nothing. */
  private planFlush(): FlushPlan | undefined {
    const flushed = this.window.count - this.parts.recent;
    if (flushed <= 0) return undefined;
    const { high, low } = this;
    const stats = this.tokenStatistics();
    const scores = this.parts.scorer(stats);
    const hc = high.columns.count;
    const lc = low.columns.count;
    const target = Math.round(this.parts.highRatio * (hc + lc + flushed));
    // Ranking: higher score first; ties → the older token.
    const better = (a: number, b: number) => scores[b] - scores[a] || stats.positions[a] - stats.positions[b];
    const incoming = Array.from({ length: flushed }, (_, i) => hc + lc + i);
    let keepHigh: Set<number>;
    let demoted: number[] = [];
    if (this.parts.demote) {
      const ranked = [...Array.from({ length: hc }, (_, i) => i), ...incoming].sort(better);
      keepHigh = new Set(ranked.slice(0, target));
      demoted = Array.from({ length: hc }, (_, i) => i).filter((i) => !keepHigh.has(i));
    } else {
      const all = [...Array.from({ length: hc + lc }, (_, i) => i), ...incoming].sort(better);
      const top = new Set(all.slice(0, target));
      const room = Math.max(0, target - hc);
      keepHigh = new Set(
        incoming
          .filter((i) => top.has(i))
          .sort(better)
          .slice(0, room)
      );
    }
    const toHighRows = incoming.filter((i) => keepHigh.has(i)).map((i) => i - hc - lc);
    const toLowRows = incoming.filter((i) => !keepHigh.has(i)).map((i) => i - hc - lc);
    const plan: FlushPlan = { flushed, toLow: [], demoted: [...demoted].sort((a, b) => b - a) };
    const scope = new TensorScope();
    try {
      const windowRows = (rows: number[]) => {
        const index = scope.track(tensor(Int32Array.from(rows), [rows.length], { dtype: 'i32', backend: this.backend }));
        return {
          k: scope.track(gather(scope.track(this.window.buffer('k').rows(0, flushed)), index, 1)),
          v: scope.track(gather(scope.track(this.window.buffer('v').rows(0, flushed)), index, 1)),
        };
      };
      if (toHighRows.length) {
        const { k, v } = windowRows(toHighRows);
        plan.toHigh = { record: high.encode(k, v), rows: toHighRows };
      }
      if (demoted.length) {
        const { k, v } = high.decode(Int32Array.from(demoted));
        scope.track(k);
        scope.track(v);
        plan.toLow.push({ record: low.encode(k, v), rows: demoted, fromHigh: true });
      }
      if (toLowRows.length) {
        const { k, v } = windowRows(toLowRows);
        plan.toLow.push({ record: low.encode(k, v), rows: toLowRows, fromHigh: false });
      }
      return plan;
    } catch (error) {
      for (const r of [plan.toHigh, ...plan.toLow]) if (r) disposeRecord(r.record);
      throw error;
    } finally {
      scope.dispose();
    }
  }

  /** Moves the planned tokens: columns travel with their rows. */
  private applyFlush(plan: FlushPlan): void {
    const { high, low } = this;
    const moved = (from: TokenColumns, rows: number[], to: TokenColumns) => {
      for (const r of rows) to.push(from.positions[r], from.attention[r], from.queries[r]);
    };
    for (const entry of plan.toLow) {
      low.store.reserve(entry.rows.length);
      low.store.append(entry.record, entry.rows.length);
      moved(entry.fromHigh ? high.columns : this.windowColumns, entry.rows, low.columns);
    }
    // Demoted rows leave after their columns were copied (descending, so swap-removal never moves a row still to be removed).
    for (const r of plan.demoted) {
      high.store.swapRemove(r);
      high.columns.swapRemove(r);
    }
    if (plan.toHigh) {
      high.store.reserve(plan.toHigh.rows.length);
      high.store.append(plan.toHigh.record, plan.toHigh.rows.length);
      moved(this.windowColumns, plan.toHigh.rows, high.columns);
    }
    this.window.dropFront(plan.flushed);
    this.windowColumns.dropFront(plan.flushed);
    // A prefill waits in the window until its attention statistics are in; give that room back.
    this.window.shrink(Math.max(1, this.parts.recent));
    this.windowColumns.shrink(Math.max(1, this.parts.recent));
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`${this.parts.method} cache layer ${this.layerIndex}`);
  }
}
