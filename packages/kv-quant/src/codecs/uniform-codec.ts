import { InvalidConfigError, type Tensor, wordsPerRow } from '@kvkit/tensor-core';
import { assertUniformBits, dequantizeUniform, quantizeUniform, type UniformQuantAttrs } from '../kernels/uniform.js';
import type { FieldSpec, RecordTensors } from '../storage/record-store.js';
import type { TokenCodec } from './codec.js';

/** Checks that a group size is a positive integer dividing `dim` (typed error otherwise). */
export function assertGroupDivides(groupSize: number, dim: number, where: string, what = 'the head dimension'): void {
  if (!Number.isInteger(groupSize) || groupSize <= 0 || dim % groupSize !== 0) {
    throw new InvalidConfigError(`${where}: group size ${groupSize} must be a positive integer dividing ${what} (${dim})`, { groupSize, dim });
  }
}

/** Per-token uniform quantization: the d channels of a token in groups of `groupSize` channels. */
export class UniformTokenCodec implements TokenCodec {
  readonly fields: readonly FieldSpec[];
  readonly label: string;
  private readonly attrs: UniformQuantAttrs;

  constructor(readonly headDim: number, attrs: UniformQuantAttrs, where: string) {
    assertUniformBits(attrs.bits, attrs.symmetric, where);
    assertGroupDivides(attrs.groupSize, headDim, where);
    this.attrs = { ...attrs };
    const groups = headDim / attrs.groupSize;
    this.fields = [
      { name: 'codes', dtype: 'u32', inner: [wordsPerRow(headDim, attrs.bits, attrs.groupSize)], part: 'codes' },
      { name: 'scale', dtype: attrs.paramDType, inner: [groups], part: 'scales' },
      ...(attrs.symmetric ? [] : [{ name: 'zero', dtype: attrs.paramDType, inner: [groups], part: 'zeros' } as const]),
    ];
    this.label = `uniform ${attrs.bits}-bit ${attrs.symmetric ? 'symmetric' : 'asymmetric'}, per token in groups of ${attrs.groupSize} channels`;
  }

  encode(x: Tensor): RecordTensors {
    const q = quantizeUniform(x, this.attrs);
    return q.zero ? { codes: q.codes, scale: q.scale, zero: q.zero } : { codes: q.codes, scale: q.scale };
  }

  decode(record: RecordTensors): Tensor {
    return dequantizeUniform({ codes: record.codes, scale: record.scale, zero: record.zero }, this.headDim, this.attrs);
  }

  parameterMemory(): Record<string, number> {
    return {};
  }

  dispose(): void {}
}
