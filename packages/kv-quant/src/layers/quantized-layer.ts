import {
  type AttendOptions,
  type AttendResult,
  attention,
  type Backend,
  cast,
  DisposedError,
  type KVCacheLayer,
  type LayerSpec,
  type MemoryReport,
  memoryReport,
  rope,
  type StepInfo,
  type Tensor,
  tensor,
  validateAppend,
  validateAttend,
  TensorScope,
} from '@kvkit/tensor-core';
import type { ParamDType } from '../numeric/param-dtype.js';
import { addParts } from '../storage/record-store.js';
import { RowBuffer } from '../storage/row-buffer.js';
import type { KVStream, Staged } from '../streams/stream.js';
import type { ChannelRotation } from './channel-rotation.js';

export interface QuantizedLayerParts {
  /** Method name, for errors. */
  method: string;
  keyInput: 'post-rope' | 'pre-rope';
  /** dtype K/V are rounded to on entry and full-precision tokens are kept in. */
  storageDType: ParamDType;
  keys: KVStream;
  values: KVStream;
  /** Rotation of the keys before storage (RotateKV). */
  keyRotation?: ChannelRotation;
  /** Rotation of the values before storage; undone on the attention output. */
  valueRotation?: ChannelRotation;
  initialCapacity: number;
  /** Per-layer bytes not owned by the streams (fitted parameters), by part. */
  extraMemory?: () => Record<string, number>;
  onDispose?: () => void;
}

/**
 * A cache layer over two streams (keys, values) of quantized tokens. Appends round K/V to the
 * storage dtype, optionally rotate them, and hand them to the streams; attention dequantizes what
 * is stored (the reference path: a fused kernel can replace it without changing what is stored),
 * re-applies RoPE for pre-RoPE keys from the stored positions, and moves rotations onto the queries
 * and output where that is exact.
 */
export class QuantizedCacheLayer implements KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly keyInput: 'post-rope' | 'pre-rope';
  /** `attend` gives each row's log-sum-exp when asked (`returnLse`). */
  readonly returnsLse = true;
  protected readonly backend: Backend;
  protected readonly positionBuffer: RowBuffer;
  private readonly invFreq: Tensor | undefined;
  private stored = 0;
  private disposed = false;

  constructor(readonly spec: LayerSpec, protected readonly parts: QuantizedLayerParts) {
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.keyInput = parts.keyInput;
    this.backend = spec.backend;
    this.positionBuffer = new RowBuffer(spec.backend, 'i32', [], [], parts.initialCapacity);
    this.invFreq = parts.keyInput === 'pre-rope' ? tensor(spec.rope.invFreq, [spec.rope.invFreq.length], { backend: spec.backend }) : undefined;
  }

  get length(): number {
    return this.stored;
  }

  get keys(): KVStream {
    return this.parts.keys;
  }

  get values(): KVStream {
    return this.parts.values;
  }

  /** The positions buffer (i32, capacity included); the first `length` entries are valid. */
  get positionStorage(): Tensor {
    return this.positionBuffer.tensor;
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    const n = validateAppend(this, k, v, step);
    if (n === 0) return;
    const scope = new TensorScope();
    const staged: Staged[] = [];
    try {
      const kIn = this.prepare(k, this.parts.keyRotation, scope);
      const vIn = this.prepare(v, this.parts.valueRotation, scope);
      staged.push(this.parts.keys.stage(kIn));
      staged.push(this.parts.values.stage(vIn));
      const positions = scope.track(tensor(step.positions, [n], { dtype: 'i32', backend: this.backend }));
      this.positionBuffer.reserve(this.stored + n, this.stored);
      const [keys, values] = staged.splice(0, 2);
      keys.commit();
      values.commit();
      this.positionBuffer.write(this.stored, positions);
      this.stored += n;
    } finally {
      for (const s of staged) s.abort();
      scope.dispose();
    }
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    const scope = new TensorScope();
    let output: Tensor | undefined;
    try {
      let keys = scope.track(this.parts.keys.decode());
      const values = scope.track(this.parts.values.decode());
      const keyPositions = scope.track(this.positionBuffer.rows(0, this.stored));
      let query = q;
      const { keyRotation, valueRotation } = this.parts;
      if (keyRotation) {
        if (this.keyInput === 'pre-rope') keys = scope.track(keyRotation.inverse(keys));
        else query = scope.track(keyRotation.forQueryHeads(q, 'forward'));
      }
      if (this.invFreq) keys = scope.track(rope(keys, keyPositions, this.invFreq, this.spec.rope.layout));
      const result = this.runAttention(query, keys, values, keyPositions, options, scope);
      output = result.output;
      if (valueRotation) output = scope.track(valueRotation.forQueryHeads(scope.track(output), 'inverse'));
      if (output.dtype !== q.dtype) output = cast(scope.track(output), q.dtype);
      // A rotation of the keys (orthogonal) leaves every score, so the log-sum-exp, as it is.
      return { output, ...(result.statistics ? { statistics: result.statistics } : {}), ...(result.lse ? { lse: result.lse } : {}) };
    } finally {
      if (output) scope.dispose(output);
      else scope.dispose();
    }
  }

  memory(): MemoryReport {
    const parts = addParts(addParts({}, this.parts.keys.memory()), this.parts.values.memory());
    const capacity = this.positionBuffer.capacity;
    addParts(parts, { positions: 4 * this.stored, reserved: 4 * (capacity - this.stored) });
    if (this.invFreq) addParts(parts, { rope: 4 * this.invFreq.size });
    for (const rotation of [this.parts.keyRotation, this.parts.valueRotation]) if (rotation) addParts(parts, { rotation: rotation.bytes() });
    if (this.parts.extraMemory) addParts(parts, this.parts.extraMemory());
    return memoryReport(parts, this.stored);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.parts.keys.dispose();
    this.parts.values.dispose();
    this.parts.keyRotation?.dispose();
    this.parts.valueRotation?.dispose();
    this.positionBuffer.dispose();
    this.invFreq?.dispose();
    this.parts.onDispose?.();
  }

  /**
   * Attention of (possibly rotated) queries over the dequantized keys and values. The one place a
   * fused kernel reading the stored codes directly would plug in.
   */
  protected runAttention(query: Tensor, keys: Tensor, values: Tensor, keyPositions: Tensor, options: AttendOptions, scope: TensorScope): AttendResult {
    const queryPositions = scope.track(tensor(options.positions, [options.positions.length], { dtype: 'i32', backend: this.backend }));
    const { positions: _positions, ...mask } = options;
    return attention(query, keys, values, { ...mask, queryPositions, keyPositions });
  }

  protected assertAlive(): void {
    if (this.disposed) throw new DisposedError(`${this.parts.method} cache layer ${this.layerIndex}`);
  }

  /** K or V rounded to the storage dtype (after the rotation, if any). */
  private prepare(x: Tensor, rotation: ChannelRotation | undefined, scope: TensorScope): Tensor {
    const rotated = rotation ? scope.track(rotation.forward(x)) : x;
    return rotated.dtype === this.parts.storageDType ? rotated : scope.track(cast(rotated, this.parts.storageDType));
  }
}
