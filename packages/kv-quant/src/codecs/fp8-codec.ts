import { type Backend, InvalidConfigError, requireSynchronousBackend, type Tensor, tensor, wordsPerRow } from '@kvkit/tensor-core';
import { dequantizeFp8, quantizeFp8 } from '../kernels/fp8.js';
import { FP8_FORMATS, type Fp8Format, fp8Max } from '../numeric/fp8.js';
import type { FieldSpec, RecordTensors } from '../storage/record-store.js';
import type { TokenCodec } from './codec.js';

export type Fp8Scaling = 'per-tensor' | 'per-head';

/**
 * Scaled FP8 codes, one f32 scale per layer (per-tensor) or per KV head. The scale is
 * absmax / (largest FP8 value): given (from calibration), or taken from the first tokens encoded
 * (the prefill), as vLLM's `calculate_kv_scales` does; later values beyond it saturate.
 */
export class Fp8TokenCodec implements TokenCodec {
  readonly fields: readonly FieldSpec[];
  readonly label: string;
  private scale: Tensor | undefined;

  constructor(
    private readonly backend: Backend,
    private readonly kvHeads: number,
    private readonly headDim: number,
    readonly format: Fp8Format,
    readonly scaling: Fp8Scaling,
    absMax?: Float32Array
  ) {
    if (!FP8_FORMATS.includes(format)) throw new InvalidConfigError(`fp8: format must be one of ${FP8_FORMATS.join(', ')}, got ${format}`);
    if (scaling !== 'per-tensor' && scaling !== 'per-head')
      throw new InvalidConfigError(`fp8: scaling must be per-tensor or per-head, got ${scaling}`);
    // Without calibrated abs-max values the scale is fixed from the first tokens, read on the host.
    if (!absMax) requireSynchronousBackend(backend, 'fp8', 'fixes its scale from the first tokens on the host (calibrated abs-max values avoid that)');
    this.fields = [{ name: 'codes', dtype: 'u32', inner: [wordsPerRow(headDim, 8)], part: 'codes' }];
    this.label = `fp8 ${format}, ${scaling} scale`;
    if (absMax) this.scale = this.scaleFrom(absMax);
  }

  /** The scales in use (f32 [1] or [kvHeads]), once fixed. */
  get scales(): Float32Array | undefined {
    return this.scale?.readFloat32Sync();
  }

  private scaleFrom(absMax: Float32Array): Tensor {
    const expected = this.scaling === 'per-tensor' ? 1 : this.kvHeads;
    if (absMax.length !== expected)
      throw new InvalidConfigError(`fp8 (${this.scaling}): expected ${expected} calibrated abs-max values, got ${absMax.length}`);
    const max = fp8Max(this.format);
    return tensor(
      Float32Array.from(absMax, (a) => (a > 0 ? a / max : 1)),
      [expected],
      { backend: this.backend }
    );
  }

  encode(x: Tensor): RecordTensors {
    if (!this.scale) {
      const values = x.readFloat32Sync();
      const perHead = new Float32Array(this.kvHeads);
      const stride = values.length / this.kvHeads;
      for (let i = 0; i < values.length; i++) {
        const h = Math.floor(i / stride);
        perHead[h] = Math.max(perHead[h], Math.abs(values[i]));
      }
      this.scale = this.scaleFrom(this.scaling === 'per-head' ? perHead : Float32Array.of(Math.max(...perHead)));
    }
    return { codes: quantizeFp8(x, this.scale, this.format) };
  }

  decode(record: RecordTensors): Tensor {
    if (!this.scale) throw new InvalidConfigError('fp8: nothing has been encoded yet');
    return dequantizeFp8(record.codes, this.scale, this.format, this.headDim);
  }

  parameterMemory(): Record<string, number> {
    return { scales: this.scale ? 4 * this.scale.size : 0 };
  }

  dispose(): void {
    this.scale?.dispose();
  }
}
