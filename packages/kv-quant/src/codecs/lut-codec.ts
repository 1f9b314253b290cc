import { type Backend, InvalidConfigError, type Tensor, tensor, wordsPerRow } from '@kvkit/tensor-core';
import { dequantizeLut, LUT_BITS, type LutQuantAttrs, quantizeLut } from '../kernels/lut.js';
import type { ParamDType } from '../numeric/param-dtype.js';
import type { FieldSpec, RecordTensors } from '../storage/record-store.js';
import type { TokenCodec } from './codec.js';
import { assertGroupDivides } from './uniform-codec.js';

/**
 * Non-uniform per-token quantization against a fitted datatype (sorted levels in [−1, 1]).
 * `groupSize` set: each group of channels is normalized by its own min–max (scale, zero stored per
 * token); `groupSize` absent: the input is already normalized (KVQuant's per-channel keys).
 */
export class LutTokenCodec implements TokenCodec {
  readonly fields: readonly FieldSpec[];
  readonly label: string;
  private readonly levels: Tensor;
  private readonly attrs: LutQuantAttrs;

  constructor(
    backend: Backend,
    private readonly headDim: number,
    levels: Float32Array,
    options: { groupSize?: number; paramDType: ParamDType },
    where: string
  ) {
    const bits = Math.log2(levels.length);
    if (!LUT_BITS.includes(bits))
      throw new InvalidConfigError(`${where}: a datatype needs 2^b levels with b in ${LUT_BITS.join(', ')}, got ${levels.length}`);
    for (let i = 1; i < levels.length; i++) {
      if (!(levels[i] >= levels[i - 1])) throw new InvalidConfigError(`${where}: datatype levels must be sorted ascending`);
    }
    const groupSize = options.groupSize ?? headDim;
    if (options.groupSize !== undefined) assertGroupDivides(groupSize, headDim, where);
    this.attrs = { bits, groupSize, normalize: options.groupSize === undefined ? 'none' : 'minmax', paramDType: options.paramDType };
    this.levels = tensor(levels, [levels.length], { backend });
    const groups = headDim / groupSize;
    this.fields = [
      { name: 'codes', dtype: 'u32', inner: [wordsPerRow(headDim, bits, groupSize)], part: 'codes' },
      ...(this.attrs.normalize === 'minmax'
        ? ([
            { name: 'scale', dtype: options.paramDType, inner: [groups], part: 'scales' },
            { name: 'zero', dtype: options.paramDType, inner: [groups], part: 'zeros' },
          ] as const)
        : []),
    ];
    this.label = `non-uniform ${bits}-bit datatype${options.groupSize === undefined ? '' : `, per token in groups of ${groupSize} channels`}`;
  }

  encode(x: Tensor): RecordTensors {
    const q = quantizeLut(x, this.levels, this.attrs);
    return q.scale && q.zero ? { codes: q.codes, scale: q.scale, zero: q.zero } : { codes: q.codes };
  }

  decode(record: RecordTensors): Tensor {
    return dequantizeLut({ codes: record.codes, scale: record.scale, zero: record.zero }, this.levels, this.headDim, this.attrs);
  }

  parameterMemory(): Record<string, number> {
    return { codebooks: 4 * this.levels.size };
  }

  dispose(): void {
    this.levels.dispose();
  }
}
