import { add, type Backend, cast, div, InvalidConfigError, mul, sub, type Tensor, tensor } from '@kvkit/tensor-core';

/**
 * A fixed per-channel affine map x ↦ (x − center) / halfRange, per KV head and channel, fitted once:
 * KVQuant's offline per-channel key normalization, and ZipCache's channel separation (no center).
 */
export class ChannelAffine {
  private readonly center: Tensor | undefined;
  private readonly half: Tensor;

  constructor(backend: Backend, readonly heads: number, readonly headDim: number, center: Float32Array | undefined, halfRange: Float32Array) {
    if ((center && center.length !== heads * headDim) || halfRange.length !== heads * headDim) {
      throw new InvalidConfigError(
        `channel normalization: expected ${heads}×${headDim} centers and ranges, got ${center?.length} and ${halfRange.length}`
      );
    }
    const safe = Float32Array.from(halfRange, (h) => (h > 0 && Number.isFinite(h) ? h : 1));
    this.center = center && tensor(center, [heads, 1, headDim], { backend });
    this.half = tensor(safe, [heads, 1, headDim], { backend });
  }

  /** (x − center) / halfRange, f32. */
  forward(x: Tensor): Tensor {
    const input = x.dtype === 'f32' ? x : cast(x, 'f32');
    const centered = this.center ? sub(input, this.center) : input;
    if (input !== x && centered !== input) input.dispose();
    try {
      return div(centered, this.half);
    } finally {
      if (centered !== x) centered.dispose();
    }
  }

  /** y · halfRange + center, f32. */
  inverse(y: Tensor): Tensor {
    const scaled = mul(y, this.half);
    if (!this.center) return scaled;
    try {
      return add(scaled, this.center);
    } finally {
      scaled.dispose();
    }
  }

  /** Resident bytes of the centers and ranges. */
  bytes(): number {
    return 4 * (this.half.size + (this.center?.size ?? 0));
  }

  dispose(): void {
    this.center?.dispose();
    this.half.dispose();
  }
}
