import { type Backend, contiguous, InvalidConfigError, reshape, type Tensor, TensorScope, transpose, wordsPerRow } from '@kvkit/tensor-core';
import { assertUniformBits, dequantizeUniform, quantizeUniform, type UniformQuantAttrs } from '../kernels/uniform.js';
import type { ParamDType } from '../numeric/param-dtype.js';
import { addParts, disposeRecord, RecordStore } from '../storage/record-store.js';
import { joinTokens, type KVStream, type Staged, tokenRange } from './stream.js';

export interface ChannelGroupStreamOptions {
  bits: number;
  symmetric: boolean;
  /** Tokens per group (one scale/zero per channel per group). */
  groupSize: number;
  /** Full-precision tokens collected before quantizing; a multiple of groupSize (0: one group). */
  residual: number;
  paramDType: ParamDType;
  storageDType: ParamDType;
  initialCapacity: number;
}

/**
 * Per-channel quantization in groups of tokens (KIVI's keys): each channel of `groupSize`
 * consecutive tokens shares one scale and zero. New tokens wait in a full-precision residual; when
 * it holds max(residual, groupSize) tokens, they are quantized together (KIVI's rule: the residual
 * fills up to R and is flushed as R / G groups). Storage follows `KiviCacheView`: codes
 * [heads, groups, headDim, words], scale/zero [heads, groups, headDim].
 */
export class ChannelGroupStream implements KVStream {
  readonly groups: RecordStore;
  readonly residual: RecordStore;
  private readonly attrs: UniformQuantAttrs;
  private readonly flushSize: number;

  constructor(
    private readonly backend: Backend,
    readonly heads: number,
    readonly headDim: number,
    readonly options: ChannelGroupStreamOptions,
    where: string
  ) {
    const { bits, symmetric, groupSize, residual } = options;
    assertUniformBits(bits, symmetric, where);
    if (!Number.isInteger(groupSize) || groupSize <= 0)
      throw new InvalidConfigError(`${where}: group size must be a positive integer, got ${groupSize}`);
    if (!Number.isInteger(residual) || residual < 0 || residual % groupSize !== 0) {
      throw new InvalidConfigError(`${where}: the residual length (${residual}) must be a non-negative multiple of the group size (${groupSize})`, {
        residual,
        groupSize,
      });
    }
    this.flushSize = Math.max(residual, groupSize);
    this.attrs = { bits, groupSize, symmetric, paramDType: options.paramDType };
    const p = options.paramDType;
    this.groups = new RecordStore(
      backend,
      [heads],
      [
        { name: 'codes', dtype: 'u32', inner: [headDim, wordsPerRow(groupSize, bits)], part: 'codes' },
        { name: 'scale', dtype: p, inner: [headDim], part: 'scales' },
        ...(symmetric ? [] : [{ name: 'zero', dtype: p, inner: [headDim], part: 'zeros' } as const]),
      ],
      Math.max(1, Math.ceil(options.initialCapacity / groupSize))
    );
    this.residual = new RecordStore(
      backend,
      [heads],
      [{ name: 'rows', dtype: options.storageDType, inner: [headDim], part: 'window' }],
      this.flushSize
    );
  }

  get length(): number {
    return this.groups.count * this.options.groupSize + this.residual.count;
  }

  stage(x: Tensor): Staged {
    const n = x.shape[1];
    const held = this.residual.count;
    const total = held + n;
    const flush = Math.floor(total / this.flushSize) * this.flushSize;
    const G = this.options.groupSize;
    const scope = new TensorScope();
    let encoded: Record<string, Tensor> | undefined;
    try {
      if (flush > 0) {
        const blocks = [scope.track(this.residual.buffer('rows').rows(0, held)), scope.track(tokenRange(x, 0, flush - held))];
        const tokens = scope.track(joinTokens(blocks, this.backend, this.heads, this.headDim));
        // [h, g·G, d] → [h, g, G, d] → [h, g, d, G]: each row is one channel of one group's tokens.
        const byGroup = scope.track(reshape(tokens, [this.heads, flush / G, G, this.headDim]));
        const rows = scope.track(transpose(byGroup, [0, 1, 3, 2]));
        const q = quantizeUniform(rows, this.attrs);
        const squeeze = (t: Tensor) => {
          const r = reshape(t, [this.heads, flush / G, this.headDim]);
          t.dispose();
          return r;
        };
        encoded = { codes: q.codes, scale: squeeze(q.scale), ...(q.zero ? { zero: squeeze(q.zero) } : {}) };
      }
    } catch (error) {
      scope.dispose();
      throw error;
    }
    const kept = n - Math.max(0, flush - held);
    const residualPart = kept > 0 ? scope.track(tokenRange(x, n - kept, n)) : undefined;
    const release = () => {
      if (encoded) disposeRecord(encoded);
      scope.dispose();
    };
    return {
      abort: release,
      commit: () => {
        try {
          if (encoded) {
            this.groups.reserve(flush / G);
            this.groups.append(encoded, flush / G);
            this.residual.dropFront(held);
          }
          if (residualPart) {
            this.residual.reserve(kept);
            this.residual.append({ rows: residualPart }, kept);
          }
        } finally {
          release();
        }
      },
    };
  }

  decode(): Tensor {
    const parts: Tensor[] = [];
    const g = this.groups.count;
    if (g > 0) {
      const scope = new TensorScope();
      try {
        const record = this.groups.view();
        for (const t of Object.values(record)) scope.track(t);
        const expand = (t: Tensor | undefined) => t && scope.track(reshape(t, [this.heads, g, this.headDim, 1]));
        const rows = scope.track(
          dequantizeUniform({ codes: record.codes, scale: expand(record.scale)!, zero: expand(record.zero) }, this.options.groupSize, this.attrs)
        );
        const tokens = scope.track(contiguous(scope.track(transpose(rows, [0, 1, 3, 2]))));
        parts.push(reshape(tokens, [this.heads, g * this.options.groupSize, this.headDim]));
      } finally {
        scope.dispose();
      }
    }
    if (this.residual.count) parts.push(this.residual.buffer('rows').rows(0, this.residual.count));
    return joinTokens(parts, this.backend, this.heads, this.headDim);
  }

  memory(): Record<string, number> {
    return addParts(this.groups.memory(), this.residual.memory());
  }

  dispose(): void {
    this.groups.dispose();
    this.residual.dispose();
  }
}
