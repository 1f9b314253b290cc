import { type Backend, concat, gather, InvalidConfigError, reshape, slice, type Tensor, tensor, TensorScope, transpose } from '@kvkit/tensor-core';
import { hadamard } from '../kernels/hadamard.js';
import { assertHadamardBlock } from '../numeric/hadamard.js';

export interface ChannelRotationOptions {
  kvHeads: number;
  headDim: number;
  /** KV heads rotated together (RotateKV's grouped-head rotation); divides kvHeads. */
  headGroup: number;
  /** Walsh–Hadamard block size: a power of two dividing headGroup · headDim. */
  blockSize: number;
  /** Channel order per head group (length headGroup · headDim each); absent: natural order. */
  permutations?: readonly Int32Array[];
}

/**
 * RotateKV's rotation R = H · P: the channels of a group of KV heads are reordered (P, outlier-aware,
 * from calibration) and then mixed by a block Walsh–Hadamard transform (H), which spreads channel
 * outliers over the whole block so that per-token quantization sees flat vectors. R is orthogonal,
 * so scores are unchanged when queries get the same rotation (headGroup 1), and R⁻¹ = Pᵀ · H.
 * Tensors stay [kvHeads, n, headDim]: rotated head j of a group is chunk j of the rotated vector.
 */
export class ChannelRotation {
  readonly kvHeads: number;
  readonly headDim: number;
  readonly headGroup: number;
  readonly blockSize: number;
  private readonly forwardOrder: Tensor[] | undefined;
  private readonly inverseOrder: Tensor[] | undefined;

  constructor(backend: Backend, options: ChannelRotationOptions, where: string) {
    const { kvHeads, headDim, headGroup, blockSize } = options;
    if (!Number.isInteger(headGroup) || headGroup <= 0 || kvHeads % headGroup !== 0) {
      throw new InvalidConfigError(`${where}: headGroup ${headGroup} must divide the ${kvHeads} KV heads`);
    }
    assertHadamardBlock(blockSize, headGroup * headDim, where);
    this.kvHeads = kvHeads;
    this.headDim = headDim;
    this.headGroup = headGroup;
    this.blockSize = blockSize;
    const width = headGroup * headDim;
    const groups = kvHeads / headGroup;
    if (options.permutations) {
      if (options.permutations.length !== groups)
        throw new InvalidConfigError(`${where}: expected ${groups} channel orders, got ${options.permutations.length}`);
      this.forwardOrder = [];
      this.inverseOrder = [];
      for (const p of options.permutations) {
        const seen = new Uint8Array(width);
        for (const c of p) {
          if (!(c >= 0 && c < width) || seen[c]) throw new InvalidConfigError(`${where}: a channel order must be a permutation of 0…${width - 1}`);
          seen[c] = 1;
        }
        if (p.length !== width) throw new InvalidConfigError(`${where}: a channel order must have ${width} entries, got ${p.length}`);
        const inverse = new Int32Array(width);
        p.forEach((c, i) => (inverse[c] = i));
        this.forwardOrder.push(tensor(Int32Array.from(p), [width], { dtype: 'i32', backend }));
        this.inverseOrder.push(tensor(inverse, [width], { dtype: 'i32', backend }));
      }
    }
  }

  /** R·x for x [kvHeads, n, headDim]; f32. */
  forward(x: Tensor): Tensor {
    return this.apply(x, true);
  }

  /** R⁻¹·y; f32. */
  inverse(y: Tensor): Tensor {
    return this.apply(y, false);
  }

  /**
   * The rotation of each KV head applied to the rows of the query heads that read it
   * (x: [qHeads, m, headDim], query head h reads KV head ⌊h / (qHeads / kvHeads)⌋). Needs headGroup 1.
   */
  forQueryHeads(x: Tensor, direction: 'forward' | 'inverse'): Tensor {
    if (this.headGroup !== 1) throw new InvalidConfigError('a grouped-head rotation cannot be moved onto the queries; rotate the keys back instead');
    const [qHeads, m, d] = x.shape;
    const scope = new TensorScope();
    try {
      const rows = scope.track(reshape(x, [this.kvHeads, (qHeads / this.kvHeads) * m, d]));
      const rotated = scope.track(this.apply(rows, direction === 'forward'));
      return reshape(rotated, [qHeads, m, d]);
    } finally {
      scope.dispose();
    }
  }

  /** Bytes of the stored channel orders. */
  bytes(): number {
    return this.forwardOrder ? 2 * 4 * this.forwardOrder.length * this.headGroup * this.headDim : 0;
  }

  dispose(): void {
    for (const t of [...(this.forwardOrder ?? []), ...(this.inverseOrder ?? [])]) t.dispose();
  }

  private apply(x: Tensor, forward: boolean): Tensor {
    const { kvHeads, headDim: d, headGroup: hg } = this;
    const n = x.shape[1];
    const groups = kvHeads / hg;
    const scope = new TensorScope();
    let result: Tensor | undefined;
    try {
      // [kvHeads, n, d] → [groups, n, hg·d]: the channels of a head group side by side.
      const grouped =
        hg === 1 ? x : scope.track(reshape(scope.track(transpose(scope.track(reshape(x, [groups, hg, n, d])), [0, 2, 1, 3])), [groups, n, hg * d]));
      const y = forward
        ? scope.track(hadamard(this.permute(grouped, this.forwardOrder, scope), this.blockSize))
        : this.permute(scope.track(hadamard(grouped, this.blockSize)), this.inverseOrder, scope);
      result = hg === 1 ? y : reshape(scope.track(transpose(scope.track(reshape(y, [groups, n, hg, d])), [0, 2, 1, 3])), [kvHeads, n, d]);
      return result;
    } finally {
      if (result) scope.dispose(result);
      else scope.dispose();
    }
  }

  /** Gathers the channels of each head group in `order` (no-op without orders). */
  private permute(x: Tensor, order: Tensor[] | undefined, scope: TensorScope): Tensor {
    if (!order) return x;
    const parts = order.map((idx, g) => scope.track(gather(scope.track(slice(x, [g, 0, 0], [g + 1, x.shape[1], x.shape[2]])), idx, 2)));
    return scope.track(parts.length === 1 ? parts[0] : concat(parts, 0));
  }
}
