import type { CompressingLayer } from '../layer/compressing-layer.js';
import type { ExtraKeys } from '../policies/policy.js';
import type { TokenStore } from '@kvkit/tensor-core';
import { angleBetween, slerpDirection } from './slerp.js';

/** What one merge of a head decided, between `plan` and `commit`. */
interface PendingMerge {
  /** Storage indices (in both layers' unmerged stores) that stay unmerged. */
  keep: Int32Array;
  positions: number[];
  keyDirections: Float32Array;
  valueDirections: Float32Array;
  norms: Float32Array; // per merged token: |k_first|, |v_first|, |k_second|, |v_second|
}

/**
 * Two adjacent layers merged per token (MiniCache, Liu et al., 2024). For every token both layers
 * hold, keys are split into norm and direction; the pair stores one direction, the spherical
 * interpolation (SLERP at `t`) of the two layers' directions, and each layer's own norm; values
 * likewise. A layer's key is rebuilt as ‖k_layer‖ · direction. Token pairs whose directions differ
 * most (the top `retain` share by key angle + value angle, threshold fixed per head at the first
 * merge) stay unmerged in both layers.
 */
export class MiniCachePair {
  private first?: CompressingLayer;
  private second?: CompressingLayer;
  private readonly norms: { data: Float32Array; count: number }[];
  private readonly thresholds: (number | undefined)[];
  private readonly retained: Set<number>[];
  private readonly pending: (PendingMerge | undefined)[];

  constructor(
    readonly directions: TokenStore,
    private readonly headDim: number,
    private readonly t: number,
    private readonly retain: number,
  ) {
    const heads = directions.kvHeads;
    this.norms = Array.from({ length: heads }, () => ({ data: new Float32Array(64), count: 0 }));
    this.thresholds = new Array(heads).fill(undefined);
    this.retained = Array.from({ length: heads }, () => new Set<number>());
    this.pending = new Array(heads).fill(undefined);
  }

  attach(role: 0 | 1, layer: CompressingLayer): void {
    if (role === 0) this.first = layer;
    else this.second = layer;
  }

  /** Merged tokens of `head` (for tests and inspection). */
  mergedCount(head: number): number {
    return this.directions.count(head);
  }

  /**
   * Decides the merge of `head` from the second layer's compression: returns the storage indices that
   * stay unmerged (identical in both layers: they appended the same tokens and always merge together).
   */
  plan(head: number): Int32Array {
    const first = this.first!.store;
    const second = this.second!.store;
    const count = second.count(head);
    const all = Int32Array.from({ length: count }, (_, i) => i);
    if (first.count(head) !== count) return all; // the first layer has not seen these tokens (used alone)
    const positions = second.positions(head);
    const d = this.headDim;
    const a = first.read(head);
    const b = second.read(head);
    const candidates: number[] = [];
    const angles: number[] = [];
    for (let i = 0; i < count; i++) {
      if (this.retained[head].has(positions[i])) continue;
      candidates.push(i);
      const row = (x: Float32Array) => x.subarray(i * d, (i + 1) * d);
      angles.push(angleBetween(row(a.keys), row(b.keys)) + angleBetween(row(a.values), row(b.values)));
    }
    if (candidates.length === 0) return all;
    if (this.thresholds[head] === undefined) {
      const sorted = [...angles].sort((x, y) => x - y);
      const rank = Math.ceil((1 - this.retain) * sorted.length) - 1;
      this.thresholds[head] = this.retain > 0 ? sorted[Math.max(0, rank)] : Infinity;
    }
    const threshold = this.thresholds[head]!;
    const merged: number[] = [];
    candidates.forEach((i, c) => {
      if (angles[c] > threshold) this.retained[head].add(positions[i]);
      else merged.push(i);
    });
    if (merged.length === 0) return all;
    const keyDirections = new Float32Array(merged.length * d);
    const valueDirections = new Float32Array(merged.length * d);
    const norms = new Float32Array(merged.length * 4);
    merged.forEach((i, r) => {
      const slice = (x: Float32Array) => x.subarray(i * d, (i + 1) * d);
      keyDirections.set(slerpDirection(slice(a.keys), slice(b.keys), this.t), r * d);
      valueDirections.set(slerpDirection(slice(a.values), slice(b.values), this.t), r * d);
      norms.set([norm(slice(a.keys)), norm(slice(a.values)), norm(slice(b.keys)), norm(slice(b.values))], r * 4);
    });
    const mergedSet = new Set(merged);
    const keep = all.filter((i) => !mergedSet.has(i));
    this.pending[head] = { keep, positions: merged.map((i) => positions[i]), keyDirections, valueDirections, norms };
    return keep;
  }

  /** Applies the planned merge of `head`: directions and norms in, the merged tokens out of both layers. */
  commit(head: number): void {
    const plan = this.pending[head];
    if (!plan) return;
    this.pending[head] = undefined;
    this.directions.appendHead(head, plan.keyDirections, plan.valueDirections, Int32Array.from(plan.positions));
    const store = this.norms[head];
    if (store.count + plan.positions.length > store.data.length / 4) {
      const grown = new Float32Array(Math.max(store.data.length * 2, (store.count + plan.positions.length) * 4));
      grown.set(store.data.subarray(0, store.count * 4));
      store.data = grown;
    }
    store.data.set(plan.norms, store.count * 4);
    store.count += plan.positions.length;
    for (const layer of [this.first!, this.second!]) {
      layer.store.retain(head, plan.keep);
      layer.table.retain(head, plan.keep);
    }
  }

  /** The merged tokens of `head` as layer `role` sees them: ‖x_role‖ · direction. */
  rebuilt(role: 0 | 1, head: number): ExtraKeys | undefined {
    const n = this.directions.count(head);
    if (n === 0) return undefined;
    const d = this.headDim;
    const { keys, values } = this.directions.read(head);
    const norms = this.norms[head].data;
    for (let r = 0; r < n; r++) {
      const kn = norms[r * 4 + 2 * role];
      const vn = norms[r * 4 + 2 * role + 1];
      for (let c = 0; c < d; c++) {
        keys[r * d + c] *= kn;
        values[r * d + c] *= vn;
      }
    }
    return { keys, values, positions: Int32Array.from(this.directions.positions(head)) };
  }

  /** The bytes a layer of the pair reports: half the shared directions (the first layer rounds down), its own norms, the retained set. */
  memory(role: 0 | 1): Record<string, number> {
    const parts: Record<string, number> = {};
    for (const [name, bytes] of Object.entries(this.directions.memory())) {
      const half = Math.floor(bytes / 2);
      parts[`merged.${name}`] = role === 0 ? half : bytes - half;
    }
    let norms = 0;
    let retained = 0;
    this.norms.forEach((n, h) => {
      norms += n.count * 2 * 4; // this layer's key and value norms, f32
      retained += this.retained[h].size * 4;
    });
    parts.norms = norms;
    parts.indices = role === 0 ? Math.floor(retained / 2) : retained - Math.floor(retained / 2);
    return parts;
  }

  dispose(): void {
    this.directions.dispose();
  }
}

function norm(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s);
}
