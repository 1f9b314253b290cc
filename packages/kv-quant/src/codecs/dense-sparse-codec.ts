import { InvalidConfigError, type Tensor } from '@kvkit/tensor-core';
import { mergeOutliers, splitOutliers } from '../kernels/outliers.js';
import type { ParamDType } from '../numeric/param-dtype.js';
import { type FieldSpec, type RecordTensors } from '../storage/record-store.js';
import type { ChannelAffine } from './channel-affine.js';
import type { TokenCodec } from './codec.js';

export interface DenseSparseOptions {
  /** Outliers kept exactly per token vector (0: none). */
  outliers: number;
  /** Where "far" is measured from: 0 (normalized keys) or the vector's mean (values). */
  center: 'zero' | 'mean';
  /** dtype of the kept outlier values (the cache's full-precision dtype, so they are exact). */
  valueDType: ParamDType;
  /** A per-channel normalization applied before quantizing (KVQuant's pre-RoPE keys). */
  normalizer?: ChannelAffine;
}

/**
 * Dense-and-sparse decomposition (KVQuant, QAQ): per token vector, the `outliers` entries farthest
 * from the center are stored exactly in a sparse side store (channel index + value); the dense
 * remainder, optionally normalized per channel first, goes to the `inner` codec.
 */
export class DenseSparseCodec implements TokenCodec {
  readonly fields: readonly FieldSpec[];
  readonly label: string;

  constructor(private readonly inner: TokenCodec, private readonly headDim: number, private readonly options: DenseSparseOptions, where: string) {
    if (!Number.isInteger(options.outliers) || options.outliers < 0 || options.outliers >= headDim) {
      throw new InvalidConfigError(`${where}: outliers per vector must be an integer in [0, ${headDim - 1}], got ${options.outliers}`);
    }
    const k = options.outliers;
    const sparse: FieldSpec[] = k
      ? [
          { name: 'outlierIndex', dtype: headDim <= 256 ? 'u8' : 'i32', inner: [k], part: 'outliers' },
          { name: 'outlierValue', dtype: options.valueDType, inner: [k], part: 'outliers' },
        ]
      : [];
    this.fields = [...inner.fields, ...sparse];
    this.label = `${inner.label}${options.normalizer ? ', per-channel normalized' : ''}${k ? `, ${k} outliers per vector kept exactly` : ''}`;
  }

  encode(x: Tensor): RecordTensors {
    const normalized = this.options.normalizer ? this.options.normalizer.forward(x) : x;
    try {
      if (this.options.outliers === 0) return this.inner.encode(normalized);
      const split = splitOutliers(
        normalized,
        {
          count: this.options.outliers,
          center: this.options.center,
          valueDType: this.options.valueDType,
          indexDType: this.headDim <= 256 ? 'u8' : 'i32',
        },
        x
      );
      try {
        return { ...this.inner.encode(split.inliers), outlierIndex: split.indices, outlierValue: split.values };
      } finally {
        split.inliers.dispose();
      }
    } finally {
      if (normalized !== x) normalized.dispose();
    }
  }

  decode(record: RecordTensors): Tensor {
    const dense = this.inner.decode(record);
    const restored = this.options.normalizer ? this.options.normalizer.inverse(dense) : dense;
    if (restored !== dense) dense.dispose();
    if (this.options.outliers === 0) return restored;
    try {
      return mergeOutliers(restored, record.outlierIndex, record.outlierValue);
    } finally {
      restored.dispose();
    }
  }

  parameterMemory(): Record<string, number> {
    const own = this.options.normalizer ? this.options.normalizer.bytes() : 0;
    const inner = this.inner.parameterMemory();
    return { ...inner, scales: (inner.scales ?? 0) + own };
  }

  dispose(): void {
    this.inner.dispose();
    this.options.normalizer?.dispose();
  }
}
