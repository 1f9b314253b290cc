import {
  type AttendOptions,
  type AttendResult,
  type Backend,
  DisposedError,
  type KVCacheLayer,
  type LayerSpec,
  type MemoryReport,
  type StepInfo,
  type Tensor,
  add,
  concat,
  gather,
  matmul,
  rope,
  slice,
  tensor,
  validateAppend,
  validateAttend,
  TensorScope,
} from '@kvkit/tensor-core';
import { lowRankHeadAttention } from '../attention/latent-attention.js';
import { GrowableBuffer } from '../cache/growable-buffer.js';
import { joinHeadResults } from '../cache/head-results.js';
import { disposeAll } from '../cache/head-tensors.js';
import { type LatentStorage, type LatentStore, createLatentStore } from '../cache/latent-store.js';
import { emptyAttention, maskOf, trackResult } from '../cache/low-rank-layer.js';
import { MemoryTally } from '../cache/memory-tally.js';
import { PositionStore } from '../cache/position-store.js';
import { asF32 } from '../cache/as-f32.js';

/** One layer of an MHA2MLA conversion, ready to run: per-head channel lists and latent blocks. */
export interface MlaLayerPlan {
  /** Per KV head: the channels that keep RoPE (2·ropeFrequencies of them). */
  ropeChannels: number[][];
  /** Per KV head: headDim × r, k_nope ≈ block·c (rows of RoPE channels are zero). */
  keyBlocks: Float32Array[];
  /** Per KV head: headDim × r, v ≈ block·c. */
  valueBlocks: Float32Array[];
  rank: number;
  storage: LatentStorage;
  initialCapacity: number;
}

/**
 * The cache of an MHA model run as its MLA conversion: per token, the RoPE channels each KV head keeps
 * (rotated) plus one joint latent c shared by all heads, from which the RoPE-free key channels and
 * the values are read through the latent blocks. Scores are q_rope·k_rope + (un-rotated q)·(U_k c),
 * computed in the latent space; value outputs are lifted once per query. Keys come in before RoPE.
 */
export class Mha2MlaCacheLayer implements KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly keyInput = 'pre-rope' as const;
  /** `attend` gives each row's log-sum-exp when asked (`returnLse`). */
  readonly returnsLse = true;
  private readonly backend: Backend;
  private readonly layout: LayerSpec['rope']['layout'];
  private readonly invFreq: Tensor;
  private readonly inverseFreq: Tensor;
  private readonly ropeIndex: Tensor[];
  private readonly keyBlock: Tensor[];
  private readonly valueBlock: Tensor[];
  private readonly ropeKeys: GrowableBuffer;
  private readonly latents: LatentStore;
  private readonly positions: PositionStore;
  private disposed = false;

  constructor(spec: LayerSpec, plan: MlaLayerPlan) {
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.backend = spec.backend;
    this.layout = spec.rope.layout;
    const backend = this.backend;
    const f = spec.rope.invFreq.length;
    this.invFreq = tensor(spec.rope.invFreq, [f], { dtype: 'f32', backend });
    // Rotating by −θ undoes RoPE, so queries can meet the RoPE-free key channels un-rotated.
    this.inverseFreq = tensor(Float32Array.from(spec.rope.invFreq, (x) => -x), [f], { dtype: 'f32', backend });
    this.ropeIndex = plan.ropeChannels.map((c) => tensor(Int32Array.from(c), [c.length], { dtype: 'i32', backend }));
    this.keyBlock = plan.keyBlocks.map((b) => tensor(b, [this.headDim, plan.rank], { dtype: 'f32', backend }));
    this.valueBlock = plan.valueBlocks.map((b) => tensor(b, [this.headDim, plan.rank], { dtype: 'f32', backend }));
    this.ropeKeys = new GrowableBuffer(backend, this.kvHeads, plan.ropeChannels[0].length, plan.storage.dtype ?? 'f16', plan.initialCapacity);
    this.latents = createLatentStore(backend, plan.rank, plan.storage, plan.initialCapacity);
    this.positions = new PositionStore(backend, plan.initialCapacity);
  }

  get length(): number {
    return this.positions.length;
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    const n = validateAppend(this, k, v, step);
    if (n === 0) return;
    const scope = new TensorScope();
    try {
      const kf = asF32(scope, k);
      const vf = asF32(scope, v);
      const pos = scope.track(tensor(step.positions, [n], { dtype: 'i32', backend: this.backend }));
      const rotated = scope.track(rope(kf, pos, this.invFreq, this.layout));
      const ropeParts: Tensor[] = [];
      let latent: Tensor | undefined;
      for (let h = 0; h < this.kvHeads; h++) {
        ropeParts.push(scope.track(gather(this.head(rotated, h, scope), this.ropeIndex[h], 2)));
        for (const [x, block] of [[kf, this.keyBlock[h]], [vf, this.valueBlock[h]]] as const) {
          const term = scope.track(matmul(this.head(x, h, scope), block));
          latent = latent ? scope.track(add(latent, term)) : term;
        }
      }
      const ropeKeys = scope.track(concat(ropeParts, 0));
      const stored = this.length;
      this.ropeKeys.reserve(stored + n);
      this.latents.reserve(stored + n);
      this.positions.reserve(stored + n);
      this.latents.append(latent as Tensor); // the one step that can refuse (quantizer range): first
      this.ropeKeys.append(ropeKeys);
      this.positions.append(step.positions);
    } finally {
      scope.dispose();
    }
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    const [qHeads, m] = q.shape;
    if (this.length === 0) return emptyAttention(q, this.headDim, options);
    const perKv = qHeads / this.kvHeads;
    const scope = new TensorScope();
    try {
      const qf = asF32(scope, q);
      const queryPositions = scope.track(tensor(options.positions, [m], { dtype: 'i32', backend: this.backend }));
      const keyPositions = scope.track(this.positions.tensor());
      const unrotated = scope.track(rope(qf, queryPositions, this.inverseFreq, this.layout));
      const latents = scope.track(this.latents.read());
      const ropeKeys = asF32(scope, scope.track(this.ropeKeys.view()));
      const results: AttendResult[] = [];
      for (let h = 0; h < this.kvHeads; h++) {
        const group = (x: Tensor) => scope.track(slice(x, [h * perKv, 0, 0], [(h + 1) * perKv, m, this.headDim]));
        const qRope = scope.track(gather(group(qf), this.ropeIndex[h], 2));
        const qLatent = scope.track(matmul(group(unrotated), this.keyBlock[h]));
        const queries = scope.track(concat([qRope, qLatent], 2));
        const keys = scope.track(concat([this.head(ropeKeys, h, scope), latents], 2));
        const result = lowRankHeadAttention(queries, { kind: 'direct', tensor: keys }, { kind: 'latent', latents, basis: this.valueBlock[h] }, {
          ...maskOf(options, this.headDim),
          queryPositions,
          keyPositions,
        });
        results.push(trackResult(result, scope));
      }
      return joinHeadResults(results, q.dtype);
    } finally {
      scope.dispose();
    }
  }

  memory(): MemoryReport {
    const tally = new MemoryTally().addBuffer('keys', this.ropeKeys.bytes()).addParts(this.latents.memory()).addBuffer('positions', this.positions.bytes());
    for (const block of [...this.keyBlock, ...this.valueBlock]) tally.add('projections', 4 * block.size);
    return tally.report(this.length);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeAll([this.invFreq, this.inverseFreq, ...this.ropeIndex, ...this.keyBlock, ...this.valueBlock]);
    this.ropeKeys.dispose();
    this.latents.dispose();
    this.positions.dispose();
  }

  /** Head h of x [heads, n, width] as a [1, n, width] view. */
  private head(x: Tensor, h: number, scope: TensorScope): Tensor {
    return scope.track(slice(x, [h, 0, 0], [h + 1, x.shape[1], x.shape[2]]));
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`mha2mla cache layer ${this.layerIndex}`);
  }
}
