import {
  type AttendOptions,
  type AttendResult,
  type CacheLayerFactory,
  DenseCacheLayer,
  type KVCacheLayer,
  type LayerSpec,
  type MemoryReport,
  rope,
  type RopeLayout,
  type StepInfo,
  type Tensor,
  tensor,
} from '@kvkit/tensor-core';

/**
 * A cache layer that asks for keys before RoPE (as KVQuant or Palu do) and rotates them itself with
 * CacheSpec.rope before storing them densely. If the model passed rotated keys, they would be
 * rotated twice and the logits would change.
 */
export function preRopeDenseCache(): CacheLayerFactory {
  return (spec) => new PreRopeLayer(spec);
}

class PreRopeLayer implements KVCacheLayer {
  readonly keyInput = 'pre-rope' as const;
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  private readonly inner: DenseCacheLayer;
  private readonly invFreq: Tensor;
  private readonly layout: RopeLayout;

  constructor(spec: LayerSpec) {
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    // It stores the rotated keys beside the values it is given: two copies, even where the values are the keys.
    this.inner = new DenseCacheLayer({ ...spec, valuesAreKeys: false }, 'f32', 8);
    this.invFreq = tensor(spec.rope.invFreq, [spec.rope.invFreq.length], { dtype: 'f32', backend: spec.backend });
    this.layout = spec.rope.layout;
  }

  get length(): number {
    return this.inner.length;
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    const positions = tensor(step.positions, [step.positions.length], { dtype: 'i32', backend: k.backend });
    const rotated = rope(k, positions, this.invFreq, this.layout);
    try {
      this.inner.append(rotated, v, step);
    } finally {
      rotated.dispose();
      positions.dispose();
    }
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    return this.inner.attend(q, options);
  }

  memory(): MemoryReport {
    return this.inner.memory();
  }

  dispose(): void {
    this.inner.dispose();
    this.invFreq.dispose();
  }
}

export interface Recorded {
  layerIndex: number;
  appended: { kShape: readonly number[]; vShape: readonly number[]; step: StepInfo }[];
  attended: { qShape: readonly number[]; options: AttendOptions }[];
}

/** A dense f32 cache whose layers record what the model sends them. */
export function recordingCache(log: Recorded[]): CacheLayerFactory {
  return (spec) => {
    const inner = new DenseCacheLayer(spec, 'f32', 8);
    const record: Recorded = { layerIndex: spec.layerIndex, appended: [], attended: [] };
    log.push(record);
    return {
      keyInput: 'post-rope',
      layerIndex: spec.layerIndex,
      kvHeads: spec.kvHeads,
      headDim: spec.headDim,
      get length() {
        return inner.length;
      },
      append(k, v, step) {
        record.appended.push({ kShape: k.shape, vShape: v.shape, step: { ...step, positions: step.positions.slice() } });
        inner.append(k, v, step);
      },
      attend(q, options) {
        record.attended.push({ qShape: q.shape, options: { ...options, positions: options.positions.slice() } });
        return inner.attend(q, options);
      },
      memory: () => inner.memory(),
      dispose: () => inner.dispose(),
    };
  };
}
