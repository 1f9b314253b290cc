import {
  type AttendOptions,
  type AttendResult,
  type AttentionMask,
  type Backend,
  DisposedError,
  InvalidConfigError,
  type KVCacheLayer,
  type LayerSpec,
  type Matrix,
  type MemoryReport,
  type StepInfo,
  type Tensor,
  bytesPerElement,
  concat,
  matmul,
  reshape,
  rope,
  slice,
  tensor,
  validateAppend,
  validateAttend,
  full,
  zeros,
  TensorScope,
} from '@kvkit/tensor-core';
import { type DirectOperand, type LatentOperand, lowRankHeadAttention } from '../attention/latent-attention.js';
import { joinHeadResults } from './head-results.js';
import { basisTensor, disposeAll, groupRows, headRows } from './head-tensors.js';
import { type LatentStorage, type LatentStore, createLatentStore } from './latent-store.js';
import { MemoryTally } from './memory-tally.js';
import { PositionStore } from './position-store.js';
import { type RecentWindow, disposeWindow, windowTail, windowThenNew } from './recent-window.js';
import { asF32 } from './as-f32.js';

/** Everything a low-rank cache layer needs, built by a method (eigen, palu, matryoshka, cskv, head merging). */
export interface LowRankLayerPlan {
  /** Method name, for error messages. */
  method: string;
  /** Keys the layer takes: 'post-rope' bases project rotated keys; 'pre-rope' ones are rebuilt and rotated at attend time. */
  keyInput: 'post-rope' | 'pre-rope';
  keyGroupSize: number;
  /** Per key group: (keyGroupSize·headDim) × r with orthonormal columns; latent z = Pᵀx, x ≈ P z. */
  keyBases: readonly Matrix[];
  valueGroupSize: number;
  valueBases: readonly Matrix[];
  /** Most recent tokens kept uncompressed (CSKV's bi-branch cache); 0 = none. */
  window: number;
  storage: LatentStorage;
  /** 'absorb' (default): attention in latent space where exact; 'reconstruct': always rebuild K/V. */
  attend?: 'absorb' | 'reconstruct';
  initialCapacity?: number;
}

/**
 * A KV-cache layer that stores low-rank latents per head group: keys z_k = P_kᵀ k and values
 * z_v = P_vᵀ v (one latent per group of heads, shared by the group), with an optional window of
 * recent tokens kept whole. Attention runs in the latent space when the keys are post-RoPE (queries
 * projected by the head's basis rows) and lifts latent value outputs once per query; pre-RoPE keys
 * are rebuilt and rotated from their stored positions.
 */
export class LowRankCacheLayer implements KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly keyInput: 'post-rope' | 'pre-rope';
  /** `attend` gives each row's log-sum-exp when asked (`returnLse`). */
  readonly returnsLse = true;
  private readonly backend: Backend;
  private readonly plan: LowRankLayerPlan;
  private readonly keyBasis: Tensor[];
  private readonly valueBasis: Tensor[];
  /** Per KV head: its rows of its group's basis (views). */
  private readonly keyHead: Tensor[];
  private readonly valueHead: Tensor[];
  private readonly keyStores: LatentStore[];
  private readonly valueStores: LatentStore[];
  private readonly positions: PositionStore;
  private readonly invFreq?: Tensor;
  private readonly ropeLayout: LayerSpec['rope']['layout'];
  private readonly windowDtype: 'f16' | 'f32';
  private window?: RecentWindow;
  private disposed = false;

  constructor(spec: LayerSpec, plan: LowRankLayerPlan) {
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.keyInput = plan.keyInput;
    this.backend = spec.backend;
    this.plan = plan;
    this.ropeLayout = spec.rope.layout;
    this.windowDtype = plan.storage.dtype ?? 'f16';
    const where = `${plan.method} layer ${spec.layerIndex}`;
    checkBases(where, 'key', plan.keyBases, plan.keyGroupSize, spec);
    checkBases(where, 'value', plan.valueBases, plan.valueGroupSize, spec);
    if (!Number.isInteger(plan.window) || plan.window < 0) throw new InvalidConfigError(`${where}: window must be an integer >= 0, got ${plan.window}`);
    const capacity = plan.initialCapacity ?? 256;
    this.keyBasis = plan.keyBases.map((b) => basisTensor(b, this.backend));
    this.valueBasis = plan.valueBases.map((b) => basisTensor(b, this.backend));
    this.keyHead = Array.from({ length: this.kvHeads }, (_, h) => headRows(this.keyBasis[Math.floor(h / plan.keyGroupSize)], h % plan.keyGroupSize, this.headDim));
    this.valueHead = Array.from({ length: this.kvHeads }, (_, h) =>
      headRows(this.valueBasis[Math.floor(h / plan.valueGroupSize)], h % plan.valueGroupSize, this.headDim),
    );
    this.keyStores = plan.keyBases.map((b) => createLatentStore(this.backend, b.cols, plan.storage, capacity));
    this.valueStores = plan.valueBases.map((b) => createLatentStore(this.backend, b.cols, plan.storage, capacity));
    this.positions = new PositionStore(this.backend, capacity);
    if (plan.keyInput === 'pre-rope') this.invFreq = tensor(spec.rope.invFreq, [spec.rope.invFreq.length], { dtype: 'f32', backend: this.backend });
  }

  get length(): number {
    return this.positions.length + (this.window?.positions.length ?? 0);
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    const n = validateAppend(this, k, v, step);
    if (n === 0) return;
    const scope = new TensorScope();
    try {
      const all = windowThenNew(this.window, k, v, step.positions, scope);
      const total = all.positions.length;
      const leaving = Math.max(0, total - this.plan.window);
      // Everything is computed before anything is stored: a failure leaves the layer as it was.
      const keyLatents = leaving ? this.project(all.keys, leaving, this.keyBasis, this.plan.keyGroupSize, scope) : [];
      const valueLatents = leaving ? this.project(all.values, leaving, this.valueBasis, this.plan.valueGroupSize, scope) : [];
      const window = windowTail(all, leaving, this.windowDtype);
      const stored = this.positions.length;
      try {
        for (const store of [...this.keyStores, ...this.valueStores]) store.reserve(stored + leaving);
        this.positions.reserve(stored + leaving);
        if (leaving) appendAll([...this.keyStores, ...this.valueStores], [...keyLatents, ...valueLatents], stored);
      } catch (error) {
        disposeWindow(window);
        throw error;
      }
      if (leaving) this.positions.append(all.positions.subarray(0, leaving));
      disposeWindow(this.window);
      this.window = window;
    } finally {
      scope.dispose();
    }
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    const [qHeads, m] = q.shape;
    const perKv = qHeads / this.kvHeads;
    const stored = this.positions.length;
    const held = this.window?.positions.length ?? 0;
    if (stored + held === 0) return emptyAttention(q, this.headDim, options);
    const absorbKeys = this.plan.attend !== 'reconstruct' && this.keyInput === 'post-rope' && held === 0;
    const absorbValues = this.plan.attend !== 'reconstruct' && held === 0;
    const scope = new TensorScope();
    try {
      const qf = asF32(scope, q);
      const keyPositions = scope.track(held === 0 ? this.positions.tensor() : this.allPositionsTensor());
      const queryPositions = scope.track(tensor(options.positions, [m], { dtype: 'i32', backend: this.backend }));
      const keyLatents = stored ? this.keyStores.map((s) => scope.track(s.read())) : [];
      const valueLatents = stored ? this.valueStores.map((s) => scope.track(s.read())) : [];
      const results: AttendResult[] = [];
      for (let h = 0; h < this.kvHeads; h++) {
        const qh = scope.track(slice(qf, [h * perKv, 0, 0], [(h + 1) * perKv, m, this.headDim]));
        const kGroup = Math.floor(h / this.plan.keyGroupSize);
        const vGroup = Math.floor(h / this.plan.valueGroupSize);
        const keys: LatentOperand | DirectOperand = absorbKeys
          ? { kind: 'latent', latents: keyLatents[kGroup], basis: this.keyHead[h] }
          : { kind: 'direct', tensor: this.fullKeys(h, keyLatents[kGroup], keyPositions, scope) };
        const values: LatentOperand | DirectOperand = absorbValues
          ? { kind: 'latent', latents: valueLatents[vGroup], basis: this.valueHead[h] }
          : { kind: 'direct', tensor: this.fullRows(h, valueLatents[vGroup], this.valueHead[h], this.window?.values, scope) };
        const result = lowRankHeadAttention(qh, keys, values, { ...maskOf(options, this.headDim), queryPositions, keyPositions });
        results.push(trackResult(result, scope));
      }
      return joinHeadResults(results, q.dtype);
    } finally {
      scope.dispose();
    }
  }

  memory(): MemoryReport {
    const tally = new MemoryTally();
    for (const store of [...this.keyStores, ...this.valueStores]) tally.addParts(store.memory());
    tally.addBuffer('positions', this.positions.bytes());
    if (this.window) {
      const held = this.window.positions.length;
      tally.add('window', 2 * held * this.kvHeads * this.headDim * bytesPerElement(this.windowDtype)).add('positions', 4 * held);
    }
    // The bases are resident once per layer; the per-head row views share their storage.
    for (const basis of [...this.keyBasis, ...this.valueBasis]) tally.add('projections', 4 * basis.size);
    return tally.report(this.length);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeAll([...this.keyHead, ...this.valueHead, ...this.keyBasis, ...this.valueBasis, this.invFreq]);
    disposeWindow(this.window);
    for (const store of [...this.keyStores, ...this.valueStores]) store.dispose();
    this.positions.dispose();
  }

  /** Latents of the first `count` tokens of x [kvHeads, total, d], per group: f32 [1, count, r]. */
  private project(x: Tensor, count: number, bases: readonly Tensor[], groupSize: number, scope: TensorScope): Tensor[] {
    const leaving = scope.track(slice(x, [0, 0, 0], [this.kvHeads, count, this.headDim]));
    return bases.map((basis, j) => {
      const rows = scope.track(groupRows(leaving, j * groupSize, groupSize));
      return scope.track(reshape(scope.track(matmul(rows, basis)), [1, count, basis.shape[1]]));
    });
  }

  /** Keys of head h in full ([1, n, d]): rebuilt from latents, then the window, rotated when stored pre-RoPE. */
  private fullKeys(h: number, latents: Tensor | undefined, positions: Tensor, scope: TensorScope): Tensor {
    const keys = this.fullRows(h, latents, this.keyHead[h], this.window?.keys, scope);
    if (this.keyInput === 'post-rope') return keys;
    return scope.track(rope(keys, positions, this.invFreq as Tensor, this.ropeLayout));
  }

  /** Rows of head h in full ([1, n, d]): basis·latents for the compressed tokens, then the window's. */
  private fullRows(h: number, latents: Tensor | undefined, basis: Tensor, window: Tensor | undefined, scope: TensorScope): Tensor {
    const parts: Tensor[] = [];
    if (latents) parts.push(scope.track(matmul(latents, basis, { transposeB: true })));
    if (window) parts.push(asF32(scope, scope.track(slice(window, [h, 0, 0], [h + 1, window.shape[1], this.headDim]))));
    return scope.track(concat(parts, 1));
  }

  private allPositionsTensor(): Tensor {
    const stored = this.positions.values();
    const all = new Int32Array(this.length);
    all.set(stored);
    all.set((this.window as RecentWindow).positions, stored.length);
    return tensor(all, [all.length], { dtype: 'i32', backend: this.backend });
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`${this.plan.method} cache layer ${this.layerIndex}`);
  }
}

/**
 * Appends latents[i] to stores[i], all or nothing: a store that refuses its latents (the quantizer's
 * f16 range) rolls back the ones already appended to `length`.
 */
export function appendAll(stores: readonly LatentStore[], latents: readonly Tensor[], length: number): void {
  let done = 0;
  try {
    for (; done < stores.length; done++) stores[done].append(latents[done]);
  } catch (error) {
    for (let i = 0; i < done; i++) stores[i].truncate(length);
    throw error;
  }
}

function checkBases(where: string, part: string, bases: readonly Matrix[], groupSize: number, spec: LayerSpec): void {
  if (!Number.isInteger(groupSize) || groupSize < 1 || spec.kvHeads % groupSize !== 0) {
    throw new InvalidConfigError(`${where}: ${part} group size must divide kvHeads=${spec.kvHeads}, got ${groupSize}`);
  }
  if (bases.length !== spec.kvHeads / groupSize) throw new InvalidConfigError(`${where}: expected ${spec.kvHeads / groupSize} ${part} bases, got ${bases.length}`);
  const dim = groupSize * spec.headDim;
  bases.forEach((b, j) => {
    if (b.rows !== dim || b.cols < 1 || b.cols > dim) throw new InvalidConfigError(`${where}: ${part} basis ${j} must be ${dim} × r with 1 ≤ r ≤ ${dim}, got ${b.rows} × ${b.cols}`);
  });
}

/** The mask options of an attend call, with the model's score scale made explicit (latent keys have fewer dimensions). */
export function maskOf(options: AttendOptions, headDim: number): AttentionMask & { scale: number; statistics?: boolean; returnLse?: boolean } {
  return {
    causal: options.causal,
    window: options.window,
    softcap: options.softcap,
    scale: options.scale ?? 1 / Math.sqrt(headDim),
    statistics: options.statistics,
    returnLse: options.returnLse,
  };
}

/** Registers a head's result tensors in `scope` (they are copied out by `joinHeadResults`). */
export function trackResult(result: AttendResult, scope: TensorScope): AttendResult {
  scope.track(result.output);
  if (result.lse) scope.track(result.lse);
  if (result.statistics) {
    scope.track(result.statistics.keySum);
    scope.track(result.statistics.keyMax);
  }
  return result;
}

/** Attention over an empty cache: every query sees no key and outputs zeros (its log-sum-exp −∞, where asked). */
export function emptyAttention(q: Tensor, headDim: number, options: AttendOptions): AttendResult {
  const [qHeads, m] = q.shape;
  const output = zeros([qHeads, m, headDim], { dtype: q.dtype, backend: q.backend });
  const lse = options.returnLse ? { lse: full([qHeads, m], -Infinity, { dtype: 'f32', backend: q.backend }) } : {};
  if (!options.statistics) return { output, ...lse };
  return {
    output,
    ...lse,
    statistics: {
      keySum: zeros([qHeads, 0], { dtype: 'f32', backend: q.backend }),
      keyMax: zeros([qHeads, 0], { dtype: 'f32', backend: q.backend }),
    },
  };
}
