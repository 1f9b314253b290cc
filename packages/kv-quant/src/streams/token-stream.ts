import { type Backend, type Tensor, TensorScope } from '@kvkit/tensor-core';
import type { TokenCodec } from '../codecs/codec.js';
import type { ParamDType } from '../numeric/param-dtype.js';
import { addParts, disposeRecord, RecordStore, type RecordTensors } from '../storage/record-store.js';
import { joinTokens, type KVStream, type Staged, tokenRange } from './stream.js';

export interface TokenStreamOptions {
  /** The first tokens, kept in full precision (attention sinks). */
  sinks: number;
  /** The newest tokens kept in full precision; the oldest leaves the window when it overflows. */
  window: number;
  /** dtype of the full-precision sinks and window. */
  storageDType: ParamDType;
  initialCapacity: number;
}

/**
 * Tokens in order: full-precision sinks, then per-token codes, then a full-precision sliding window
 * of the newest tokens. A token is encoded when it leaves the window (at once when the window is 0).
 */
export class TokenStream implements KVStream {
  readonly sinks: RecordStore;
  readonly quantized: RecordStore;
  readonly window: RecordStore;

  constructor(
    private readonly backend: Backend,
    readonly heads: number,
    readonly headDim: number,
    readonly codec: TokenCodec,
    readonly options: TokenStreamOptions
  ) {
    const rows = (part: string) => [{ name: 'rows', dtype: options.storageDType, inner: [headDim], part }] as const;
    this.sinks = new RecordStore(backend, [heads], rows('sinks'), options.sinks);
    this.quantized = new RecordStore(backend, [heads], codec.fields, options.initialCapacity);
    this.window = new RecordStore(backend, [heads], rows('window'), options.window);
  }

  get length(): number {
    return this.sinks.count + this.quantized.count + this.window.count;
  }

  stage(x: Tensor): Staged {
    const n = x.shape[1];
    const scope = new TensorScope();
    const toSinks = Math.min(n, this.options.sinks - this.sinks.count);
    const rest = n - toSinks;
    const overflow = Math.max(0, this.window.count + rest - this.options.window);
    const fromWindow = Math.min(overflow, this.window.count);
    const fromInput = overflow - fromWindow;
    let encoded: RecordTensors | undefined;
    try {
      if (overflow > 0) {
        const blocks: Tensor[] = [];
        if (fromWindow > 0) blocks.push(scope.track(this.window.buffer('rows').rows(0, fromWindow)));
        if (fromInput > 0) blocks.push(scope.track(tokenRange(x, toSinks, toSinks + fromInput)));
        const source = blocks.length === 1 ? blocks[0] : scope.track(joinTokens(blocks, this.backend, this.heads, this.headDim));
        encoded = this.codec.encode(source);
      }
    } catch (error) {
      scope.dispose();
      throw error;
    }
    const sinkPart = toSinks > 0 ? scope.track(tokenRange(x, 0, toSinks)) : undefined;
    const windowPart = rest - fromInput > 0 ? scope.track(tokenRange(x, toSinks + fromInput, n)) : undefined;
    const release = () => {
      if (encoded) disposeRecord(encoded);
      scope.dispose();
    };
    return {
      abort: release,
      commit: () => {
        try {
          if (sinkPart) {
            this.sinks.reserve(toSinks);
            this.sinks.append({ rows: sinkPart }, toSinks);
          }
          if (encoded) {
            this.quantized.reserve(overflow);
            this.quantized.append(encoded, overflow);
          }
          this.window.dropFront(fromWindow);
          if (windowPart) {
            this.window.reserve(windowPart.shape[1]);
            this.window.append({ rows: windowPart }, windowPart.shape[1]);
          }
        } finally {
          release();
        }
      },
    };
  }

  decode(): Tensor {
    const parts: Tensor[] = [];
    if (this.sinks.count) parts.push(this.sinks.buffer('rows').rows(0, this.sinks.count));
    if (this.quantized.count) {
      const record = this.quantized.view();
      try {
        parts.push(this.codec.decode(record));
      } finally {
        disposeRecord(record);
      }
    }
    if (this.window.count) parts.push(this.window.buffer('rows').rows(0, this.window.count));
    return joinTokens(parts, this.backend, this.heads, this.headDim);
  }

  memory(): Record<string, number> {
    const out = addParts(addParts(this.sinks.memory(), this.quantized.memory()), this.window.memory());
    return addParts(out, this.codec.parameterMemory());
  }

  dispose(): void {
    this.sinks.dispose();
    this.quantized.dispose();
    this.window.dispose();
    this.codec.dispose();
  }
}
