import {
  type AttendOptions,
  type AttendResult,
  createRng,
  DisposedError,
  type Backend,
  gather,
  type HeadView,
  type KVCacheLayer,
  type LayerSpec,
  type MemoryReport,
  memoryReport,
  requireSynchronousBackend,
  type Rng,
  type StepInfo,
  type Tensor,
  tensor,
  validateAppend,
  validateAttend,
} from '@kvkit/tensor-core';
import { attendHeads } from '../attend/attend-heads.js';
import { type HeadKeys, headKeysOf } from '../attend/head-keys.js';
import { type Budget, resolveBudget } from '../budget.js';
import type { GqaReduce } from '../gqa.js';
import type { TokenCodes, TokenStore, TokenStoreFactory } from '@kvkit/tensor-core';
import { sphericalKMeans } from './spherical-kmeans.js';

export interface ClusterKVConfig {
  budget: Budget;
  sinks: number;
  recent: number;
  clusterSize: number;
  interval: number;
  iterations: number;
  seed: number;
  gqa: GqaReduce;
  store: TokenStoreFactory;
}

interface HeadClusters {
  /** Unit centroids, one f32 row of d per cluster (what `memory()` counts). */
  centroids: Float32Array[];
  sizes: number[];
  /** Cluster of each stored token (−1: not clustered yet), in the first `count` slots of an i32 buffer. */
  assignment: Int32Array;
  count: number;
}

/**
 * ClusterKV (Liu et al., 2024) as a cache layer: every token stays (in `store`, the cheaper tier);
 * keys older than the recent window are clustered by direction (spherical k-means) in batches of at
 * least `interval` tokens, and each attend reads the sinks, the not-yet-clustered tokens, and the
 * clusters whose centroids are most similar to the query (q·c, over the query group), whole clusters
 * best first until `budget` tokens. Nothing is evicted, so an unselected cluster can come back
 * at any later step (recallable); the saving is in the tokens attention reads, and in resident
 * bytes only if `store` is cheaper than f16.
 */
export class ClusterKVLayer implements KVCacheLayer {
  readonly layerIndex: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly keyInput = 'post-rope' as const;
  /** `attend` gives each row's log-sum-exp when asked (`returnLse`). */
  readonly returnsLse = true;
  readonly store: TokenStore;
  private readonly heads: HeadClusters[];
  private readonly rng: Rng;
  private seen = 0;
  private phase: 'prefill' | 'decode' = 'prefill';
  private lastSelected: number[] = [];
  private disposed = false;

  constructor(
    spec: LayerSpec,
    private readonly config: ClusterKVConfig,
  ) {
    requireSynchronousBackend(spec.backend, 'clusterkv', 'clusters keys and picks clusters for each query on the host');
    this.layerIndex = spec.layerIndex;
    this.kvHeads = spec.kvHeads;
    this.headDim = spec.headDim;
    this.store = config.store({ kvHeads: spec.kvHeads, headDim: spec.headDim, backend: spec.backend, layerIndex: spec.layerIndex });
    this.heads = Array.from({ length: spec.kvHeads }, () => ({ centroids: [], sizes: [], assignment: new Int32Array(0), count: 0 }));
    this.rng = createRng((config.seed * 1009 + spec.layerIndex) >>> 0);
  }

  get length(): number {
    return this.seen;
  }

  /** Tokens each head read in the last attend call. */
  selectedTokens(): number[] {
    return [...this.lastSelected];
  }

  /** Clusters per head. */
  clusterCounts(): number[] {
    return this.heads.map((h) => h.centroids.length);
  }

  append(k: Tensor, v: Tensor, step: StepInfo): void {
    this.assertAlive();
    const n = validateAppend(this, k, v, step);
    if (n === 0) return;
    this.store.append(k, v, step.positions);
    for (const head of this.heads) {
      if (head.count + n > head.assignment.length) {
        // Grows like the token store (an eighth, or exactly for a prompt): the slack is resident too.
        const grown = new Int32Array(Math.max(head.count + n, head.assignment.length + Math.max(16, Math.ceil(head.assignment.length / 8))));
        grown.set(head.assignment.subarray(0, head.count));
        head.assignment = grown;
      }
      head.assignment.fill(-1, head.count, head.count + n);
      head.count += n;
    }
    this.seen += n;
    this.phase = step.phase;
  }

  attend(q: Tensor, options: AttendOptions): AttendResult {
    this.assertAlive();
    validateAttend(this, q, options);
    const budget = resolveBudget(this.config.budget, this.seen);
    const qHost = q.readFloat32Sync();
    const [qHeads, m, d] = q.shape;
    const group = qHeads / this.kvHeads;
    const heads: HeadKeys[] = [];
    const views: HeadView[] = [];
    const temporaries: Tensor[] = [];
    try {
      this.lastSelected = [];
      for (let h = 0; h < this.kvHeads; h++) {
        const view = this.store.view(h);
        views.push(view);
        const selected = this.select(h, budget, qHost, group, m, d);
        this.lastSelected.push(selected ? selected.length : view.positions.length);
        heads.push(selected ? selectedKeys(view, selected, q.backend, temporaries) : headKeysOf(view));
      }
      const result = attendHeads(q, heads, {
        positions: options.positions,
        causal: options.causal,
        window: options.window,
        softcap: options.softcap,
        scale: options.scale,
        returnLse: options.returnLse,
      });
      this.clusterOldTokens();
      return { output: result.output, ...(result.lse ? { lse: result.lse } : {}) };
    } finally {
      for (const t of temporaries) t.dispose();
      for (const view of views) view.dispose();
    }
  }

  memory(): MemoryReport {
    const parts: Record<string, number> = { ...this.store.memory() };
    let centroids = 0;
    let indices = 0;
    for (const head of this.heads) {
      centroids += head.centroids.length * (this.headDim * 4 + 4); // f32 centroid + its size
      indices += head.assignment.byteLength;
    }
    parts.centroids = centroids;
    parts.indices = indices;
    const tokens = Array.from({ length: this.kvHeads }, (_, h) => this.store.count(h)).reduce((a, b) => a + b, 0) / this.kvHeads;
    return memoryReport(parts, tokens);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.store.dispose();
  }

  /** Storage indices head `h` reads now, or undefined for all of them (nothing clustered yet). */
  private select(h: number, budget: number, q: Float32Array, group: number, m: number, d: number): Int32Array | undefined {
    const head = this.heads[h];
    const count = head.count;
    if (head.centroids.length === 0 || count <= budget) return undefined;
    const marks = new Uint8Array(count);
    let used = 0;
    for (let i = 0; i < count; i++) {
      if (i < this.config.sinks || head.assignment[i] < 0) {
        marks[i] = 1;
        used++;
      }
    }
    // Rank clusters by q·centroid over the group's query heads and rows (mean or max).
    const scores = head.centroids.map((centroid) => {
      let acc = this.config.gqa === 'max' ? -Infinity : 0;
      for (let g = 0; g < group; g++) {
        let s = 0;
        for (let r = 0; r < m; r++) for (let c = 0; c < d; c++) s += q[((h * group + g) * m + r) * d + c] * centroid[c];
        s /= m;
        acc = this.config.gqa === 'max' ? Math.max(acc, s) : acc + s / group;
      }
      return acc;
    });
    const order = scores.map((s, c) => ({ s, c })).sort((a, b) => b.s - a.s || a.c - b.c);
    const chosen = new Set<number>();
    for (const { c } of order) {
      if (used + head.sizes[c] > budget) continue;
      chosen.add(c);
      used += head.sizes[c];
    }
    for (let i = 0; i < count; i++) if (chosen.has(head.assignment[i])) marks[i] = 1;
    const out = new Int32Array(used);
    let k = 0;
    for (let i = 0; i < count; i++) if (marks[i]) out[k++] = i;
    return out;
  }

  /** Clusters the tokens that left the recent window once there are `interval` of them (all of them at prefill). */
  private clusterOldTokens(): void {
    const { sinks, recent, interval, clusterSize, iterations } = this.config;
    const d = this.headDim;
    for (let h = 0; h < this.kvHeads; h++) {
      const head = this.heads[h];
      const count = head.count;
      const ready: number[] = [];
      for (let i = sinks; i < count - recent; i++) if (head.assignment[i] < 0) ready.push(i);
      if (ready.length === 0 || (this.phase === 'decode' && ready.length < interval)) continue;
      const keys = this.store.read(h).keys;
      const rows = new Float32Array(ready.length * d);
      ready.forEach((i, r) => rows.set(keys.subarray(i * d, (i + 1) * d), r * d));
      const { centroids, assignment } = sphericalKMeans(rows, d, Math.ceil(ready.length / clusterSize), this.rng, iterations);
      const base = head.centroids.length;
      const k = centroids.length / d;
      const sizes = new Array(k).fill(0);
      ready.forEach((i, r) => {
        head.assignment[i] = base + assignment[r];
        sizes[assignment[r]]++;
      });
      for (let c = 0; c < k; c++) {
        if (sizes[c] === 0) continue;
        head.centroids.push(centroids.slice(c * d, (c + 1) * d));
        head.sizes.push(sizes[c]);
      }
      // Renumber around empty clusters so ids match the centroid list.
      if (sizes.some((s) => s === 0)) {
        const remap = new Map<number, number>();
        let next = base;
        sizes.forEach((s, c) => {
          if (s > 0) remap.set(base + c, next++);
        });
        for (const i of ready) head.assignment[i] = remap.get(head.assignment[i])!;
      }
    }
  }

  private assertAlive(): void {
    if (this.disposed) throw new DisposedError(`kv-evict clusterkv layer ${this.layerIndex}`);
  }
}

/**
 * The selected tokens of one head: their codes gathered when the store holds codes (the kernels read
 * those in place), their f32 rows gathered from the view only if something reads `keys`/`values`.
 */
function selectedKeys(view: HeadView, selected: Int32Array, backend: Backend, temporaries: Tensor[]): HeadKeys {
  const index = tensor(selected, [selected.length], { dtype: 'i32', backend });
  temporaries.push(index);
  const pick = (t: Tensor, axis: number): Tensor => {
    const picked = gather(t, index, axis);
    temporaries.push(picked);
    return picked;
  };
  const pickCodes = (c: TokenCodes): TokenCodes => ({ ...c, codes: pick(c.codes, 0), scales: pick(c.scales, 0), zeros: pick(c.zeros, 0) });
  let rows: { keys: Tensor; values: Tensor } | undefined;
  const dense = () => (rows ??= { keys: pick(view.keys, 1), values: pick(view.values, 1) });
  return {
    get keys() {
      return dense().keys;
    },
    get values() {
      return dense().values;
    },
    positions: Int32Array.from(selected, (i) => view.positions[i]),
    ...(view.codes ? { codes: { keys: pickCodes(view.codes.keys), values: pickCodes(view.codes.values) } } : {}),
  };
}
