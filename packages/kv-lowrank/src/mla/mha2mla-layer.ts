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
  cast,
  concat,
  gather,
  matmul,
  memoryReport,
  rope,
  slice,
  tensor,
  validateAppend,
  validateAttend,
} from '@kvkit/tensor-core';
import { lowRankHeadAttention } from '../attention/latent-attention.js';
import { GrowableBuffer } from '../cache/growable-buffer.js';
import { asF32, disposeAll } from '../cache/head-tensors.js';
import { type LatentStorage, type LatentStore, createLatentStore } from '../cache/latent-store.js';
import { emptyAttention } from '../cache/low-rank-layer.js';
import { PositionStore } from '../cache/position-store.js';

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
    const temps: Tensor[] = [];
    const track = <T extends Tensor>(t: T): T => {
      temps.push(t);
      return t;
    };
    try {
      const kf = asF32(k);
      const vf = asF32(v);
      if (kf !== k) track(kf);
      if (vf !== v) track(vf);
      const pos = track(tensor(step.positions, [n], { dtype: 'i32', backend: this.backend }));
      const rotated = track(rope(kf, pos, this.invFreq, this.layout));
      const ropeParts: Tensor[] = [];
      let latent: Tensor | undefined;
      for (let h = 0; h < this.kvHeads; h++) {
        ropeParts.push(track(gather(track(this.head(rotated, h)), this.ropeIndex[h], 2)));
        for (const [x, block] of [[kf, this.keyBlock[h]], [vf, this.valueBlock[h]]] as const) {
          const term = track(matmul(track(this.head(x, h)), block));
          latent = latent ? track(add(latent, term)) : term;
        }
      }
      const ropeKeys = track(concat(ropeParts, 0));
      const stored = this.length;
      this.ropeKeys.reserve(stored + n);
      this.latents.reserve(stored + n);
      this.positions.reserve(stored + n);
      this.latents.append(latent as Tensor);
      this.ropeKeys.append(ropeKeys);
      this.positions.append(step.positions);
    } finally {
      disposeAll(temps);
    }
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    const [qHeads, m] = q.shape;
    const n = this.length;
    if (n === 0) return emptyAttention(q, this.headDim, options.statistics ?? false);
    const perKv = qHeads / this.kvHeads;
    const temps: Tensor[] = [];
    const track = <T extends Tensor>(t: T): T => {
      temps.push(t);
      return t;
    };
    try {
      const qf = asF32(q);
      if (qf !== q) track(qf);
      const queryPositions = track(tensor(options.positions, [m], { dtype: 'i32', backend: this.backend }));
      const keyPositions = track(this.positions.tensor());
      const unrotated = track(rope(qf, queryPositions, this.inverseFreq, this.layout));
      const latents = track(this.latents.read());
      const ropeView = track(this.ropeKeys.view());
      const ropeKeys = ropeView.dtype === 'f32' ? ropeView : track(cast(ropeView, 'f32'));
      const outputs: Tensor[] = [];
      const sums: Tensor[] = [];
      const maxes: Tensor[] = [];
      for (let h = 0; h < this.kvHeads; h++) {
        const range = [h * perKv, (h + 1) * perKv] as const;
        const qRope = track(gather(track(slice(qf, [range[0], 0, 0], [range[1], m, this.headDim])), this.ropeIndex[h], 2));
        const qLatent = track(matmul(track(slice(unrotated, [range[0], 0, 0], [range[1], m, this.headDim])), this.keyBlock[h]));
        const queries = track(concat([qRope, qLatent], 2));
        const keys = track(concat([track(this.head(ropeKeys, h)), latents], 2));
        const result = lowRankHeadAttention(
          queries,
          { kind: 'direct', tensor: keys },
          { kind: 'latent', latents, basis: this.valueBlock[h] },
          {
            causal: options.causal,
            window: options.window,
            softcap: options.softcap,
            scale: options.scale ?? 1 / Math.sqrt(this.headDim),
            queryPositions,
            keyPositions,
            statistics: options.statistics,
          },
        );
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
      disposeAll(temps);
    }
  }

  memory(): MemoryReport {
    const parts: Record<string, number> = {};
    const addPart = (name: string, bytes: number) => {
      parts[name] = (parts[name] ?? 0) + bytes;
    };
    const ropeKeys = this.ropeKeys.bytes();
    addPart('keys', ropeKeys.used);
    addPart('reserved', ropeKeys.reserved);
    for (const [name, bytes] of Object.entries(this.latents.memory())) addPart(name, bytes);
    const positions = this.positions.bytes();
    addPart('positions', positions.used);
    addPart('reserved', positions.reserved);
    for (const block of [...this.keyBlock, ...this.valueBlock]) addPart('projections', 4 * block.size);
    return memoryReport(parts, this.length);
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
  private head(x: Tensor, h: number): Tensor {
    return slice(x, [h, 0, 0], [h + 1, x.shape[1], x.shape[2]]);
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`mha2mla cache layer ${this.layerIndex}`);
  }
}
