import {
  type AttendOptions,
  type AttendResult,
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
  cast,
  concat,
  matmul,
  memoryReport,
  reshape,
  rope,
  slice,
  tensor,
  validateAppend,
  validateAttend,
  zeros,
} from '@kvkit/tensor-core';
import { type DirectOperand, type LatentOperand, lowRankHeadAttention } from '../attention/latent-attention.js';
import { asF32, basisTensor, disposeAll, groupRows, headRows, tokenRange } from './head-tensors.js';
import { type LatentStorage, type LatentStore, createLatentStore } from './latent-store.js';
import { PositionStore } from './position-store.js';

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

interface Window {
  keys: Tensor;
  values: Tensor;
  positions: Int32Array;
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
  private window?: Window;
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
    const held = this.window?.positions.length ?? 0;
    const total = held + n;
    const leaving = Math.max(0, total - this.plan.window);
    const temporaries: Tensor[] = [];
    const f32 = (t: Tensor): Tensor => {
      const out = asF32(t);
      if (out !== t) temporaries.push(out);
      return out;
    };
    const allPositions = new Int32Array(total);
    if (this.window) allPositions.set(this.window.positions);
    allPositions.set(step.positions, held);
    try {
      const allKeys = this.window ? concat([f32(this.window.keys), f32(k)], 1) : f32(k);
      const allValues = this.window ? concat([f32(this.window.values), f32(v)], 1) : f32(v);
      if (this.window) temporaries.push(allKeys, allValues);
      // Everything is computed before anything is stored: a failure leaves the layer as it was.
      const keyLatents = leaving ? this.project(allKeys, leaving, this.keyBasis, this.plan.keyGroupSize, temporaries) : [];
      const valueLatents = leaving ? this.project(allValues, leaving, this.valueBasis, this.plan.valueGroupSize, temporaries) : [];
      const kept = total - leaving;
      const window: Window | undefined = kept
        ? {
            keys: tokenRange(allKeys, leaving, total, this.windowDtype),
            values: tokenRange(allValues, leaving, total, this.windowDtype),
            positions: allPositions.slice(leaving),
          }
        : undefined;
      const stored = this.positions.length;
      try {
        for (const store of [...this.keyStores, ...this.valueStores]) store.reserve(stored + leaving);
        this.positions.reserve(stored + leaving);
      } catch (error) {
        disposeAll([window?.keys, window?.values]);
        throw error;
      }
      if (leaving) {
        appendAll([...this.keyStores, ...this.valueStores], [...keyLatents, ...valueLatents], stored, () => disposeAll([window?.keys, window?.values]));
        this.positions.append(allPositions.subarray(0, leaving));
      }
      if (this.window) disposeAll([this.window.keys, this.window.values]);
      this.window = window;
    } finally {
      disposeAll(temporaries);
    }
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    const [qHeads, m] = q.shape;
    const perKv = qHeads / this.kvHeads;
    const stored = this.positions.length;
    const held = this.window?.positions.length ?? 0;
    const n = stored + held;
    if (n === 0) return emptyAttention(q, this.headDim, options.statistics ?? false);
    const scale = options.scale ?? 1 / Math.sqrt(this.headDim);
    const absorbKeys = this.plan.attend !== 'reconstruct' && this.keyInput === 'post-rope' && held === 0;
    const absorbValues = this.plan.attend !== 'reconstruct' && held === 0;
    const temporaries: Tensor[] = [];
    const track = <T extends Tensor>(t: T): T => {
      temporaries.push(t);
      return t;
    };
    try {
      const qf = asF32(q);
      if (qf !== q) track(qf);
      const keyPositions = track(held === 0 ? this.positions.tensor() : this.allPositionsTensor());
      const queryPositions = track(tensor(options.positions, [m], { dtype: 'i32', backend: this.backend }));
      const keyLatents = stored ? this.keyStores.map((s) => track(s.read())) : [];
      const valueLatents = stored ? this.valueStores.map((s) => track(s.read())) : [];
      const outputs: Tensor[] = [];
      const sums: Tensor[] = [];
      const maxes: Tensor[] = [];
      for (let h = 0; h < this.kvHeads; h++) {
        const qh = track(slice(qf, [h * perKv, 0, 0], [(h + 1) * perKv, m, this.headDim]));
        const kGroup = Math.floor(h / this.plan.keyGroupSize);
        const vGroup = Math.floor(h / this.plan.valueGroupSize);
        const keys: LatentOperand | DirectOperand = absorbKeys
          ? { kind: 'latent', latents: keyLatents[kGroup], basis: this.keyHead[h] }
          : { kind: 'direct', tensor: track(this.fullKeys(h, keyLatents[kGroup], keyPositions, track)) };
        const values: LatentOperand | DirectOperand = absorbValues
          ? { kind: 'latent', latents: valueLatents[vGroup], basis: this.valueHead[h] }
          : { kind: 'direct', tensor: track(this.fullRows(h, valueLatents[vGroup], this.valueHead[h], this.window?.values, track)) };
        const result = lowRankHeadAttention(qh, keys, values, {
          causal: options.causal,
          window: options.window,
          softcap: options.softcap,
          scale,
          queryPositions,
          keyPositions,
          statistics: options.statistics,
        });
        outputs.push(track(result.output));
        if (result.statistics) {
          sums.push(track(result.statistics.keySum));
          maxes.push(track(result.statistics.keyMax));
        }
      }
      const joined = concat(outputs, 0);
      const output = q.dtype === 'f32' ? joined : cast(joined, q.dtype);
      if (output !== joined) joined.dispose();
      if (!options.statistics) return { output };
      return { output, statistics: { keySum: concat(sums, 0), keyMax: concat(maxes, 0) } };
    } finally {
      disposeAll(temporaries);
    }
  }

  memory(): MemoryReport {
    const parts: Record<string, number> = {};
    const add = (name: string, bytes: number) => {
      parts[name] = (parts[name] ?? 0) + bytes;
    };
    for (const store of [...this.keyStores, ...this.valueStores]) for (const [name, bytes] of Object.entries(store.memory())) add(name, bytes);
    const positions = this.positions.bytes();
    add('positions', positions.used);
    add('reserved', positions.reserved);
    if (this.window) {
      const held = this.window.positions.length;
      add('window', 2 * held * this.kvHeads * this.headDim * bytesPerElement(this.windowDtype));
      add('positions', 4 * held);
    }
    // The bases are resident once per layer; the per-head row views share their storage.
    for (const basis of [...this.keyBasis, ...this.valueBasis]) add('projections', 4 * basis.size);
    return memoryReport(parts, this.length);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeAll([...this.keyHead, ...this.valueHead, ...this.keyBasis, ...this.valueBasis, this.invFreq, this.window?.keys, this.window?.values]);
    for (const store of [...this.keyStores, ...this.valueStores]) store.dispose();
    this.positions.dispose();
  }

  /** Latents of the first `count` tokens of x [kvHeads, total, d], per group: f32 [1, count, r]. */
  private project(x: Tensor, count: number, bases: readonly Tensor[], groupSize: number, temporaries: Tensor[]): Tensor[] {
    const leaving = slice(x, [0, 0, 0], [this.kvHeads, count, this.headDim]);
    temporaries.push(leaving);
    return bases.map((basis, j) => {
      const rows = groupRows(leaving, j * groupSize, groupSize);
      const latents = matmul(rows, basis);
      const shaped = reshape(latents, [1, count, basis.shape[1]]);
      temporaries.push(rows, latents, shaped);
      return shaped;
    });
  }

  /** Keys of head h in full ([1, n, d]): rebuilt from latents, then the window, rotated when stored pre-RoPE. */
  private fullKeys(h: number, latents: Tensor | undefined, positions: Tensor, track: (t: Tensor) => Tensor): Tensor {
    const keys = this.fullRows(h, latents, this.keyHead[h], this.window?.keys, track);
    if (this.keyInput === 'post-rope') return keys;
    track(keys);
    return rope(keys, positions, this.invFreq as Tensor, this.ropeLayout);
  }

  /** Rows of head h in full ([1, n, d]): basis·latents for the compressed tokens, then the window's. */
  private fullRows(h: number, latents: Tensor | undefined, basis: Tensor, window: Tensor | undefined, track: (t: Tensor) => Tensor): Tensor {
    const parts: Tensor[] = [];
    if (latents) parts.push(track(matmul(latents, basis, { transposeB: true })));
    if (window) {
      const head = track(slice(window, [h, 0, 0], [h + 1, window.shape[1], this.headDim]));
      parts.push(track(asF32(head)));
    }
    return concat(parts, 1);
  }

  private allPositionsTensor(): Tensor {
    const stored = this.positions.values();
    const all = new Int32Array(this.length);
    all.set(stored);
    all.set((this.window as Window).positions, stored.length);
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
export function appendAll(stores: readonly LatentStore[], latents: readonly Tensor[], length: number, onFailure?: () => void): void {
  let done = 0;
  try {
    for (; done < stores.length; done++) stores[done].append(latents[done]);
  } catch (error) {
    for (let i = 0; i < done; i++) stores[i].truncate(length);
    onFailure?.();
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

/** Attention over an empty cache: every query sees no key and outputs zeros. */
export function emptyAttention(q: Tensor, headDim: number, statistics: boolean): AttendResult {
  const [qHeads, m] = q.shape;
  const output = zeros([qHeads, m, headDim], { dtype: q.dtype, backend: q.backend });
  if (!statistics) return { output };
  return {
    output,
    statistics: {
      keySum: zeros([qHeads, 0], { dtype: 'f32', backend: q.backend }),
      keyMax: zeros([qHeads, 0], { dtype: 'f32', backend: q.backend }),
    },
  };
}
