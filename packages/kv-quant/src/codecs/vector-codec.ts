import { type Backend, InvalidConfigError, SUPPORTED_BITS, type Tensor, tensor, wordsPerRow } from '@kvkit/tensor-core';
import { dequantizeVector, quantizeVector } from '../kernels/vector.js';
import type { FieldSpec, RecordTensors } from '../storage/record-store.js';
import type { TokenCodec } from './codec.js';

/**
 * Coupled Quantization's codes: groups of `channels` consecutive channels replaced by the index of
 * the nearest centroid of a codebook learned per KV head and channel group.
 */
export class VectorTokenCodec implements TokenCodec {
  readonly fields: readonly FieldSpec[];
  readonly label: string;
  private readonly codebooks: Tensor;

  constructor(
    backend: Backend,
    readonly heads: number,
    readonly headDim: number,
    readonly channels: number,
    readonly bits: number,
    codebooks: Float32Array,
    where: string
  ) {
    if (!SUPPORTED_BITS.includes(bits))
      throw new InvalidConfigError(`${where}: code width ${bits} is not a packed width (${SUPPORTED_BITS.join(', ')})`);
    if (!Number.isInteger(channels) || channels <= 0 || headDim % channels !== 0) {
      throw new InvalidConfigError(`${where}: ${channels} coupled channels must divide the head dimension ${headDim}`);
    }
    const groups = headDim / channels;
    if (codebooks.length !== heads * groups * 2 ** bits * channels) {
      throw new InvalidConfigError(`${where}: expected ${heads}×${groups}×${2 ** bits}×${channels} codebook values, got ${codebooks.length}`);
    }
    this.codebooks = tensor(codebooks, [heads, groups, 2 ** bits, channels], { backend });
    this.fields = [{ name: 'codes', dtype: 'u32', inner: [wordsPerRow(groups, bits)], part: 'codes' }];
    this.label = `coupled ${channels} channels → ${bits}-bit codes (${bits / channels} bit/channel)`;
  }

  encode(x: Tensor): RecordTensors {
    return { codes: quantizeVector(x, this.codebooks, { channels: this.channels, bits: this.bits }) };
  }

  decode(record: RecordTensors): Tensor {
    return dequantizeVector(record.codes, this.codebooks, { channels: this.channels, bits: this.bits });
  }

  parameterMemory(): Record<string, number> {
    return { codebooks: 4 * this.codebooks.size };
  }

  dispose(): void {
    this.codebooks.dispose();
  }
}
