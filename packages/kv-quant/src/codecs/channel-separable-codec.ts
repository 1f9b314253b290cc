import { type Backend, InvalidConfigError, type Tensor } from '@kvkit/tensor-core';
import type { FieldSpec, RecordTensors } from '../storage/record-store.js';
import { ChannelAffine } from './channel-affine.js';
import type { TokenCodec } from './codec.js';

/**
 * ZipCache's channel separation, shared by the codecs of one cache stream: per KV head and
 * channel, c = √(max over tokens |x|), fixed from the first tokens encoded. Dividing by c
 * flattens the channel outliers so that one scale per token suffices.
 */
export class SharedChannelScales {
  private affine: ChannelAffine | undefined;

  constructor(private readonly backend: Backend, readonly heads: number, readonly headDim: number) {}

  get fitted(): boolean {
    return this.affine !== undefined;
  }

  /** The per-channel map, fitted on `x` ([heads, n, headDim]) the first time. */
  map(x: Tensor): ChannelAffine {
    if (!this.affine) {
      const values = x.readFloat32Sync();
      const [h, n, d] = x.shape;
      const scales = new Float32Array(h * d);
      for (let head = 0; head < h; head++) {
        for (let t = 0; t < n; t++) {
          for (let c = 0; c < d; c++) scales[head * d + c] = Math.max(scales[head * d + c], Math.abs(values[(head * n + t) * d + c]));
        }
      }
      for (let i = 0; i < scales.length; i++) scales[i] = Math.sqrt(scales[i]);
      this.affine = new ChannelAffine(this.backend, h, d, undefined, scales);
    }
    return this.affine;
  }

  /** The fitted map; decoding before anything was encoded is a usage error. */
  fittedMap(): ChannelAffine {
    if (!this.affine) throw new InvalidConfigError('channel-separable codec: nothing has been encoded yet');
    return this.affine;
  }

  bytes(): number {
    return this.affine?.bytes() ?? 0;
  }

  dispose(): void {
    this.affine?.dispose();
  }
}

/** Channel-separable token-wise quantization: x / c, then a per-token codec. */
export class ChannelSeparableCodec implements TokenCodec {
  readonly fields: readonly FieldSpec[];
  readonly label: string;

  constructor(private readonly inner: TokenCodec, private readonly scales: SharedChannelScales) {
    this.fields = inner.fields;
    this.label = `channel-separable ${inner.label}`;
  }

  encode(x: Tensor): RecordTensors {
    const normalized = this.scales.map(x).forward(x);
    try {
      return this.inner.encode(normalized);
    } finally {
      normalized.dispose();
    }
  }

  decode(record: RecordTensors): Tensor {
    const normalized = this.inner.decode(record);
    try {
      return this.scales.fittedMap().inverse(normalized);
    } finally {
      normalized.dispose();
    }
  }

  /** The shared channel scales are counted once by the layer that owns them. */
  parameterMemory(): Record<string, number> {
    return this.inner.parameterMemory();
  }

  dispose(): void {
    this.inner.dispose();
  }
}
