import {
  type AttendOptions,
  type AttendResult,
  type Backend,
  type CacheLayerFactory,
  DisposedError,
  type KVCacheLayer,
  type LayerObservation,
  type LayerSpec,
  type MemoryReport,
  memoryReport,
  requireSynchronousBackend,
  ShapeMismatchError,
  type StepInfo,
  type Tensor,
  tensor,
  validateAppend,
  validateAttend,
} from '@kvkit/tensor-core';
import type { LayerSignal } from '../allocators/allocator.js';
import { attendHeads, type HeadObservation, observeHeads } from '../attend/attend-heads.js';
import { type HeadKeys, headKeysOf } from '../attend/head-keys.js';
import { type Budget, resolveBudget, validateBudget } from '../budget.js';
import type { CoordinatedLayer, CrossLayerState } from '../cross-layer/cross-layer-state.js';
import { type GqaReduce, reduceGroup, validateGqa } from '../gqa.js';
import { evictPolicy } from '../policies/evict.js';
import type { CompressionPolicy, ExtraKeys } from '../policies/policy.js';
import type { KeyObservation, ScoringStep, TokenScorer } from '../scoring/scorer.js';
import { adaptiveHeadBudgets, type HeadAllocation, uniformHeadBudgets, validateHeadAllocation } from '../selection/head-budgets.js';
import { type Protection, protectedCount, validateProtection } from '../selection/protection.js';
import { type HeadSelector, topKSelector } from '../selection/selector.js';
import { raggedDenseStore } from '../storage/ragged-dense-store.js';
import type { TokenStore } from '@kvkit/tensor-core';
import { TokenTable } from '../token-table.js';
import type { CompressionMethod } from './compression-method.js';
import { QueryWindow } from './query-window.js';
import { resolveTrigger, TriggerState } from './trigger.js';

export const DEFAULT_PROTECTION: Protection = { sinks: 4, recent: 32 };

/** Where a layer's budget weight came from (layer allocators), for inspection. */
export interface AllocationInfo {
  /** Tokens per head the layer may keep now (Infinity without a budget). */
  budget: number;
  /** The allocator's weight on the scored part of the budget (1 = uniform). */
  weight: number;
  source: string;
}

/** Turns a composed method into a cache-layer factory (per layer: its own store, table, scorer, policy). */
export function compressingLayer(method: CompressionMethod, state?: CrossLayerState): CacheLayerFactory {
  checkMethod(method);
  return (spec) => new CompressingLayer(spec, method, state);
}

/** Validates a method's shared options once, when its factory is made. */
export function checkMethod(method: CompressionMethod): void {
  if (method.budget !== undefined) validateBudget(method.budget, method.name);
  validateProtection(method.protection ?? {}, method.name, DEFAULT_PROTECTION);
  validateHeadAllocation(method.heads ?? 'uniform', method.name);
  validateGqa(method.gqa ?? 'mean', method.name);
  resolveTrigger(method.trigger, method.name);
}

/**
 * The cache layer every kv-evict method runs on: per-KV-head ragged storage that really shrinks,
 * a scorer fed by the attention it computes, a selector and a policy applied after attention when
 * the trigger fires, and honest `memory()`.
 *
 * Per call: `append` stores K/V (keys post-RoPE, so kept tokens keep their rotation and their
 * positions); `attend` runs attention per KV head over that head's own tokens (through the seam in
 * `attend/attend-heads.ts`), feeds the scorer the statistics it asked for, and then compresses.
 */
export class CompressingLayer implements KVCacheLayer, CoordinatedLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly keyInput = 'post-rope' as const;
  /** `attend` gives each row's log-sum-exp when asked (`returnLse`). */
  readonly returnsLse = true;
  readonly store: TokenStore;
  private readonly backend: Backend;
  readonly table: TokenTable;
  private readonly scorer?: TokenScorer;
  private readonly selector: HeadSelector;
  private readonly policy: CompressionPolicy;
  private readonly budget?: Budget;
  private readonly protection: Protection;
  private readonly heads: HeadAllocation;
  private readonly headFloor: number;
  private readonly gqa: GqaReduce;
  private readonly trigger: TriggerState;
  private readonly skipped: boolean;
  private readonly queryWindow?: QueryWindow;
  private weight = 1;
  private weightSource = 'uniform';
  private seen = 0;
  private phase: 'prefill' | 'decode' = 'prefill';
  /** The mask options of the last attend call (the query window's recomputation uses them). */
  private mask: Pick<AttendOptions, 'causal' | 'window' | 'softcap' | 'scale'> = {};
  private disposed = false;

  constructor(
    spec: LayerSpec,
    readonly method: CompressionMethod,
    private readonly state?: CrossLayerState,
  ) {
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.skipped = method.skipLayer?.(spec.layerIndex) ?? false;
    this.budget = this.skipped ? undefined : method.budget;
    this.protection = validateProtection(method.protection ?? {}, method.name, DEFAULT_PROTECTION);
    this.heads = method.heads ?? 'uniform';
    this.headFloor = method.headFloor ?? 0.2;
    this.gqa = method.gqa ?? 'mean';
    this.trigger = new TriggerState(resolveTrigger(method.trigger, method.name));
    this.scorer = this.skipped ? undefined : method.scorer?.(spec);
    // A scorer that observes attention, keeps queries or scores keys reads them on the host every step.
    if (this.scorer && (this.scorer.observe || this.scorer.queryWindow || this.scorer.needsKeys)) {
      requireSynchronousBackend(spec.backend, method.name, 'scores tokens on the host from attention statistics or keys');
    }
    this.selector = (method.selector ?? topKSelector(this.protection))(spec);
    this.table = new TokenTable(this.kvHeads, this.scorer?.columns ?? []);
    if (this.scorer?.queryWindow) this.queryWindow = new QueryWindow(this.scorer.queryWindow, spec.qHeads, spec.headDim);
    this.store = (method.store ?? raggedDenseStore())({ kvHeads: spec.kvHeads, headDim: spec.headDim, backend: spec.backend, layerIndex: spec.layerIndex });
    this.backend = spec.backend;
    try {
      this.policy = (method.policy ?? evictPolicy())(spec);
    } catch (error) {
      this.store.dispose();
      throw error;
    }
    state?.register(this);
  }

  /** Tokens appended so far (what was seen, not what is stored; see `storedTokens`). */
  get length(): number {
    return this.seen;
  }

  /** Tokens each head holds now. */
  storedTokens(): number[] {
    return Array.from({ length: this.kvHeads }, (_, h) => this.store.count(h));
  }

  /** Positions a head holds, in storage order. */
  storedPositions(head: number): Int32Array {
    return Int32Array.from(this.store.positions(head));
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    const n = validateAppend(this, k, v, step);
    if (n === 0) return;
    const keys = this.scorer?.needsKeys ? k.readFloat32Sync() : undefined;
    this.store.append(k, v, step.positions);
    this.table.append(n, step.tokenIds);
    if (this.scorer?.onAppend) {
      const d = this.headDim;
      for (let h = 0; h < this.kvHeads; h++) {
        this.scorer.onAppend(h, this.store.count(h) - n, n, this.table, keys?.subarray(h * n * d, (h + 1) * n * d));
      }
    }
    this.seen += n;
    this.phase = step.phase;
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    if (this.queryWindow && q.shape[0] !== this.queryWindow.qHeads) {
      throw new ShapeMismatchError(`kv-evict ${this.method.name} layer ${this.layerIndex}: q has ${q.shape[0]} heads, the model has ${this.queryWindow.qHeads}`);
    }
    const step: ScoringStep = { phase: this.phase, queryPositions: options.positions };
    this.mask = { causal: options.causal, window: options.window, softcap: options.softcap, scale: options.scale };
    const request = this.scorer?.observation(step);
    const heads = this.headKeys();
    let result;
    try {
      result = attendHeads(
        q,
        heads.map((h) => h.keys),
        { ...this.mask, positions: options.positions, statistics: options.statistics, observe: request, returnLse: options.returnLse },
      );
    } finally {
      for (const h of heads) h.dispose();
    }
    const group = q.shape[0] / this.kvHeads;
    if (result.observations && this.scorer?.observe) {
      for (let h = 0; h < this.kvHeads; h++) {
        const observation = this.reduceObservation(result.observations[h], group, h);
        this.scorer.observe(h, observation, this.table, step, this.store.positions(h));
      }
    }
    this.queryWindow?.push(q.readFloat32Sync(), q.shape[1], options.positions);
    const statistics = result.statistics ? this.paddedStatistics(result.statistics, group, q) : undefined;
    if (this.state) this.state.attended(this, this.phase);
    else this.maybeCompress(this.phase);
    return { output: result.output, ...(statistics ? { statistics } : {}), ...(result.lse ? { lse: result.lse } : {}) };
  }

  maybeCompress(phase: 'prefill' | 'decode'): void {
    if (this.trigger.due(phase)) this.compressNow();
  }

  compressNow(): void {
    this.assertAlive();
    this.trigger.compressed();
    if (this.skipped) return;
    const layerBudget = this.layerBudget();
    const scores = this.allScores();
    const counts = this.storedTokens();
    const budgets = !Number.isFinite(layerBudget)
      ? counts.map(() => Infinity)
      : this.heads === 'adaptive'
        ? adaptiveHeadBudgets(scores, layerBudget, this.protection, this.headFloor)
        : uniformHeadBudgets(counts, layerBudget);
    for (let h = 0; h < this.kvHeads; h++) {
      const positions = this.store.positions(h);
      const keep = this.selector.select({ head: h, budget: budgets[h], scores: scores[h], positions, table: this.table, seen: this.seen, phase: this.phase });
      if (keep.length < counts[h]) this.policy.apply(h, keep, { store: this.store, table: this.table, scores: scores[h], phase: this.phase });
    }
  }

  /** Tokens per head this layer may keep now (before the split over heads). */
  layerBudget(): number {
    if (this.budget === undefined) return Infinity;
    const total = resolveBudget(this.budget, this.seen);
    if (this.weight === 1) return total;
    const protectedTokens = protectedCount(this.seen, total, this.protection);
    return Math.min(this.seen, protectedTokens + Math.round((total - protectedTokens) * this.weight));
  }

  /** The method, its parts and what they decided (head policies, retrieval heads, layer weight). */
  describe(): Record<string, unknown> {
    return {
      method: this.method.name,
      layer: this.layerIndex,
      scorer: this.scorer?.name ?? 'none',
      selector: this.selector.name,
      policy: this.policy.name,
      ...(this.selector.describe?.() ?? {}),
      allocation: this.allocation(),
      stored: this.storedTokens(),
    };
  }

  allocation(): AllocationInfo {
    return { budget: this.layerBudget(), weight: this.weight, source: this.weightSource };
  }

  allocationSignal(): LayerSignal {
    return {
      layerIndex: this.layerIndex,
      scores: this.allScores().map((raw) => {
        const s = raw.map((x) => (Number.isFinite(x) && x > 0 ? x : 0));
        const total = s.reduce((a, b) => a + b, 0);
        return total > 0 ? s.map((x) => x / total) : s;
      }),
    };
  }

  setWeight(weight: number, source: string): void {
    this.weight = weight;
    this.weightSource = source;
  }

  budgetShape(): { scored: number; maxWeight: number } {
    if (this.budget === undefined) return { scored: 0, maxWeight: Infinity };
    const total = resolveBudget(this.budget, this.seen);
    const protectedTokens = protectedCount(this.seen, total, this.protection);
    const scored = total - protectedTokens;
    return { scored, maxWeight: scored > 0 ? (this.seen - protectedTokens) / scored : Infinity };
  }

  /** The runtime's per-layer hook of the KV-cache contract, for cross-layer methods (SqueezeAttention). */
  observeLayer(observation: LayerObservation): void {
    this.state?.observeLayer(this.layerIndex, observation);
  }

  memory(): MemoryReport {
    const parts: Record<string, number> = { ...this.store.memory() };
    const table = this.table.bytes();
    parts.statistics = (parts.statistics ?? 0) + table.statistics + (this.queryWindow?.bytes() ?? 0);
    parts.reserved = (parts.reserved ?? 0) + table.reserved;
    for (const [name, bytes] of Object.entries(this.policy.memory?.() ?? {})) parts[name] = (parts[name] ?? 0) + bytes;
    const tokens = this.storedTokens().reduce((a, b) => a + b, 0) / this.kvHeads;
    return memoryReport(parts, tokens);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.store.dispose();
    this.policy.dispose?.();
  }

  /** Every head's scores now (the query window's attention recomputed over the held keys first). */
  private allScores(): Float64Array[] {
    const window = this.windowSums();
    return Array.from({ length: this.kvHeads }, (_, h) => {
      const positions = this.store.positions(h);
      return this.scorer ? this.scorer.scores(h, this.table, positions, window?.[h]) : Float64Array.from(positions);
    });
  }

  /** Σ over the query window's rows of their attention to each stored token, per head (reduced over the group). */
  private windowSums(): Float64Array[] | undefined {
    if (!this.queryWindow || this.queryWindow.rows === 0) return undefined;
    const heads = this.headKeys();
    const { queries, positions } = this.queryWindow.read(this.backend); // not a head's keys: reading them could dequantize a store
    try {
      const observations = observeHeads(
        queries,
        heads.map((h) => h.keys),
        { ...this.mask, positions, observe: { rows: positions.length } },
      );
      const group = queries.shape[0] / this.kvHeads;
      return observations.map((observation, h) => this.reduceObservation(observation, group, h).sum);
    } finally {
      queries.dispose();
      for (const h of heads) h.dispose();
    }
  }

  /** Each head's stored tokens plus the policy's extra keys (compensation token, demoted tier). */
  private headKeys(): { keys: HeadKeys; dispose(): void }[] {
    const out: { keys: HeadKeys; dispose(): void }[] = [];
    try {
      for (let h = 0; h < this.kvHeads; h++) {
        const view = this.store.view(h);
        const extra = this.policy.extraKeys?.(h);
        if (!extra) {
          out.push({ keys: headKeysOf(view), dispose: () => view.dispose() });
          continue;
        }
        out.push(withExtraKeys(view, extra, this.headDim));
      }
    } catch (error) {
      for (const h of out) h.dispose();
      throw error;
    }
    return out;
  }

  private reduceObservation(observation: HeadObservation, group: number, head: number): KeyObservation {
    // Extra keys (compensation, demoted) come after the stored ones; scorers see stored tokens only.
    const stored = this.store.count(head);
    const n = observation.sum.length / group;
    const trim = (values: Float64Array, rows: number): Float64Array => {
      if (n === stored) return values;
      const out = new Float64Array(rows * stored);
      for (let r = 0; r < rows; r++) out.set(values.subarray(r * n, r * n + stored), r * stored);
      return out;
    };
    return {
      rows: observation.rows,
      sum: trim(reduceGroup(observation.sum, group, n, this.gqa), 1),
      max: trim(reduceGroup(observation.max, group, n, 'max'), 1),
      perRowCount: observation.perRowCount,
      ...(observation.perRow ? { perRow: trim(reduceGroup(observation.perRow, group, n, this.gqa, observation.perRowCount), observation.perRowCount) } : {}),
    };
  }

  /** Statistics for the caller: [qHeads, longest head], each head's keys in storage order, zero-padded. */
  private paddedStatistics(statistics: { keySum: Float32Array; keyMax: Float32Array }[], group: number, q: Tensor): AttendResult['statistics'] {
    const longest = Math.max(0, ...statistics.map((s) => s.keySum.length / group));
    const qHeads = q.shape[0];
    const keySum = new Float32Array(qHeads * longest);
    const keyMax = new Float32Array(qHeads * longest);
    statistics.forEach((s, h) => {
      const n = s.keySum.length / group;
      for (let g = 0; g < group; g++) {
        keySum.set(s.keySum.subarray(g * n, (g + 1) * n), (h * group + g) * longest);
        keyMax.set(s.keyMax.subarray(g * n, (g + 1) * n), (h * group + g) * longest);
      }
    });
    return {
      keySum: tensor(keySum, [qHeads, longest], { dtype: 'f32', backend: q.backend }),
      keyMax: tensor(keyMax, [qHeads, longest], { dtype: 'f32', backend: q.backend }),
    };
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`kv-evict ${this.method.name} layer ${this.layerIndex}`);
  }
}

/** A head view extended with extra host keys (concatenated after the stored ones). */
function withExtraKeys(view: ReturnType<TokenStore['view']>, extra: ExtraKeys, d: number): { keys: HeadKeys; dispose(): void } {
  const n = view.positions.length;
  const e = extra.positions.length;
  const stored = { keys: view.keys.readFloat32Sync(), values: view.values.readFloat32Sync() };
  const keys = new Float32Array((n + e) * d);
  const values = new Float32Array((n + e) * d);
  keys.set(stored.keys);
  keys.set(extra.keys, n * d);
  values.set(stored.values);
  values.set(extra.values, n * d);
  const backend = view.keys.backend;
  view.dispose();
  const k = tensor(keys, [1, n + e, d], { dtype: 'f32', backend });
  const v = tensor(values, [1, n + e, d], { dtype: 'f32', backend });
  const positions = new Int32Array(n + e);
  positions.set(view.positions);
  positions.set(extra.positions, n);
  let logWeights: Float32Array | undefined;
  if (extra.logWeights) {
    logWeights = new Float32Array(n + e);
    logWeights.set(extra.logWeights, n);
  }
  return {
    keys: { keys: k, values: v, positions, ...(logWeights ? { logWeights } : {}) },
    dispose: () => {
      k.dispose();
      v.dispose();
    },
  };
}
