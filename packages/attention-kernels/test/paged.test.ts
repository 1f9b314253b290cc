import { attention, cast, cpuBackend, createCache, denseCache, randomNormal, type Rng, slice, type Tensor, tensor } from '@kvkit/tensor-core';
import { assertClose, referenceLogSumExp, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { batchedPagedAttention, pagedAttention, pagedCache, PagedCacheLayer, PagedKVPool, PagedSequence } from '../src/index.js';
import { gappedPositions, i32 } from './helpers/reference.js';

/** Appends random K/V to `seq` in chunks of random size; returns the dense K/V and positions appended. */
function fill(rng: Rng, seq: PagedSequence, n: number, d: number) {
  const k = randomNormal([seq.kvHeads, n, d], rng);
  const v = randomNormal([seq.kvHeads, n, d], rng);
  const positions = gappedPositions(rng, n);
  for (let t = 0; t < n; ) {
    const step = Math.min(n - t, 1 + rng.int(9));
    seq.append(slice(k, [0, t], [seq.kvHeads, t + step]), slice(v, [0, t], [seq.kvHeads, t + step]), positions.slice(t, t + step));
    t += step;
  }
  return { k, v, positions };
}

/** Reference attention of the query heads of KV head h over the tokens `keep` of that head. */
function headReference(q: Tensor, k: Tensor, v: Tensor, h: number, keep: number[], positions: Int32Array, qPos: Int32Array, options = {}) {
  const [qHeads, , d] = q.shape;
  const group = qHeads / k.shape[0];
  const rows = (t: Tensor) => tensor(Float32Array.from(keep.flatMap((j) => [...slice(t, [h, j], [h + 1, j + 1]).readSync()])), [1, keep.length, d]);
  const qh = slice(q, [h * group], [(h + 1) * group]);
  return attention(qh, rows(k), rows(v), { ...options, queryPositions: i32(qPos), keyPositions: i32(Int32Array.from(keep, (j) => positions[j])), statistics: true });
}

describe('pagedAttention', () => {
  for (const pageSize of [1, 5, 16]) {
    for (const dtype of ['f32', 'f16'] as const) {
      it(`page size ${pageSize}, ${dtype} pool: equals the reference over the dense cache, GQA 1/4/8`, () =>
        withSeed((rng) => {
          for (const [d, group, n] of [[64, 4, 37], [128, 8, 16], [64, 1, 1]]) {
            const pool = new PagedKVPool({ headDim: d, pageSize, dtype, initialPages: 2 });
            const seq = new PagedSequence(pool, 2);
            const { k, v, positions } = fill(rng, seq, n, d);
            const q = randomNormal([2 * group, 2, d], rng);
            const qPos = Int32Array.of(positions[n - 1], positions[n - 1] + 1);
            const kRef = dtype === 'f16' ? cast(k, 'f16') : k;
            const vRef = dtype === 'f16' ? cast(v, 'f16') : v;
            const ref = attention(q, kRef, vRef, { queryPositions: i32(qPos), keyPositions: i32(positions), statistics: true });
            const got = pagedAttention(q, seq, { queryPositions: qPos, statistics: true, tileSize: 8 });
            assertClose(got.output.readSync(), ref.output.readSync(), 1e-5, `output d${d} g${group} n${n}`);
            assertClose(got.statistics!.keySum.readSync(), ref.statistics!.keySum.readSync(), 1e-5, 'keySum');
            expect(pool.pagesInUse).toBe(2 * Math.ceil(n / pageSize));
            seq.release();
            expect(pool.pagesInUse).toBe(0);
          }
        }));
    }
  }

  it('ragged heads after head-wise retain: each head attends over exactly the tokens it kept', () =>
    withSeed((rng) => {
      const [d, group, n] = [64, 4, 61];
      const pool = new PagedKVPool({ headDim: d, pageSize: 8, dtype: 'f32' });
      const seq = new PagedSequence(pool, 3);
      const { k, v, positions } = fill(rng, seq, n, d);
      const keeps = [
        Array.from({ length: n }, (_, j) => j).filter(() => rng.uniform() < 0.5),
        [0, 1, 2, n - 1],
        [] as number[],
      ];
      keeps.forEach((keep, h) => seq.retain(h, Int32Array.from(keep)));
      expect([...seq.headLengths()]).toEqual(keeps.map((x) => x.length));
      expect(seq.pageCount).toBe(keeps.reduce((a, x) => a + Math.ceil(x.length / 8), 0));
      expect([...seq.headPositions(1)]).toEqual(keeps[1].map((j) => positions[j]));
      const q = randomNormal([3 * group, 1, d], rng);
      const qPos = Int32Array.of(positions[n - 1]);
      const got = pagedAttention(q, seq, { queryPositions: qPos, statistics: true, window: 100 });
      const out = got.output.readSync();
      const keySum = got.statistics!.keySum.readSync();
      const L = Math.max(...keeps.map((x) => x.length));
      expect(got.statistics!.keySum.shape).toEqual([3 * group, L]);
      keeps.forEach((keep, h) => {
        const ref = headReference(q, k, v, h, keep, positions, qPos, { window: 100 });
        assertClose(out.subarray(h * group * d, (h + 1) * group * d), ref.output.readSync(), 1e-5, `head ${h}`);
        const refSum = ref.statistics!.keySum.readSync();
        for (let g = 0; g < group; g++) {
          const row = keySum.subarray((h * group + g) * L, (h * group + g + 1) * L);
          assertClose(row.subarray(0, keep.length), refSum.subarray(g * keep.length, (g + 1) * keep.length), 1e-5, `keySum head ${h}`);
          expect([...row.subarray(keep.length)].every((x) => x === 0)).toBe(true);
        }
      });
      expect(() => seq.retain(0, Int32Array.of(3, 2))).toThrow(expect.objectContaining({ code: 'INDEX_OUT_OF_RANGE' }));
      expect(() => seq.retain(0, Int32Array.of(1000))).toThrow(expect.objectContaining({ code: 'INDEX_OUT_OF_RANGE' }));
      expect(() => pagedAttention(q, seq, {} as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));

  it('pages in a row (a prefill) are read as one run, later pages one by one: the same values', () =>
    withSeed((rng) => {
      const [d, group, P] = [64, 2, 4];
      const pool = new PagedKVPool({ headDim: d, pageSize: P, dtype: 'f32', initialPages: 4 });
      const other = new PagedSequence(pool, 2);
      other.append(randomNormal([2, 3, d], rng), randomNormal([2, 3, d], rng), Int32Array.of(0, 1, 2));
      const seq = new PagedSequence(pool, 2);
      // One append of 23 tokens: each head takes 6 pages in a row (the pool grows on the way); then
      // single tokens interleave the heads' pages, and pages freed by `other` are handed out again.
      const n0 = 23;
      const k = randomNormal([2, n0 + 11, d], rng);
      const v = randomNormal([2, n0 + 11, d], rng);
      const positions = gappedPositions(rng, n0 + 11);
      seq.append(slice(k, [0, 0], [2, n0]), slice(v, [0, 0], [2, n0]), positions.slice(0, n0));
      for (let t = n0; t < n0 + 11; t++) {
        if (t === n0 + 4) other.release();
        seq.append(slice(k, [0, t], [2, t + 1]), slice(v, [0, t], [2, t + 1]), positions.slice(t, t + 1));
      }
      const runs = (pages: readonly number[]) => pages.filter((p, i) => i === 0 || p !== pages[i - 1] + 1).length;
      expect(runs(seq.headPages(0))).toBeLessThan(seq.headPages(0).length);
      expect(runs(seq.headPages(0))).toBeGreaterThan(1);
      const n = n0 + 11;
      const q = randomNormal([2 * group, 3, d], rng);
      const qPos = Int32Array.of(positions[n - 9], positions[n - 1], positions[n - 1] + 1);
      for (const window of [0, 13]) {
        const ref = attention(q, k, v, { queryPositions: i32(qPos), keyPositions: i32(positions), statistics: true, window });
        const got = pagedAttention(q, seq, { queryPositions: qPos, statistics: true, window, tileSize: 8 });
        assertClose(got.output.readSync(), ref.output.readSync(), 1e-5, `output, window ${window}`);
        assertClose(got.statistics!.keySum.readSync(), ref.statistics!.keySum.readSync(), 1e-5, `keySum, window ${window}`);
        assertClose(got.statistics!.keyMax.readSync(), ref.statistics!.keyMax.readSync(), 1e-5, `keyMax, window ${window}`);
      }
    }));

  it('batched: requests of different lengths in one pool, one call', () =>
    withSeed((rng) => {
      const d = 64;
      const pool = new PagedKVPool({ headDim: d, pageSize: 4, dtype: 'f32' });
      const seqs = [new PagedSequence(pool, 2), new PagedSequence(pool, 2), new PagedSequence(pool, 2)];
      const data = [fill(rng, seqs[0], 10, d), fill(rng, seqs[1], 1, d), fill(rng, seqs[2], 33, d)];
      const q = randomNormal([3, 8, 1, d], rng);
      const qPos = Int32Array.from(data.map((x) => x.positions[x.positions.length - 1]));
      const got = batchedPagedAttention(q, seqs, { queryPositions: qPos, returnLse: true });
      const out = got.output.readSync();
      data.forEach(({ k, v, positions }, b) => {
        const qb = tensor(slice(q, [b], [b + 1]).readSync(), [8, 1, d]);
        const ref = attention(qb, k, v, { queryPositions: i32(qPos.slice(b, b + 1)), keyPositions: i32(positions) });
        assertClose(out.subarray(b * 8 * d, (b + 1) * 8 * d), ref.output.readSync(), 1e-5, `request ${b}`);
      });
      const other = new PagedSequence(new PagedKVPool({ headDim: d }), 2);
      expect(() => batchedPagedAttention(randomNormal([2, 8, 1, d], rng), [seqs[0], other], { queryPositions: Int32Array.of(1, 1) })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' }),
      );
    }));
});

describe('PagedKVPool', () => {
  it('property: random allocate/release never leaks or double-hands a page, freed pages are reused, maxPages holds', () =>
    withSeed((rng) => {
      for (let trial = 0; trial < 20; trial++) {
        const maxPages = 8 + rng.int(40);
        const pool = new PagedKVPool({ headDim: 4, pageSize: 2, initialPages: 1 + rng.int(8), maxPages, dtype: 'f32' });
        const held: number[][] = [];
        for (let step = 0; step < 200; step++) {
          const inUse = held.reduce((a, x) => a + x.length, 0);
          expect(pool.pagesInUse).toBe(inUse);
          expect(pool.capacity).toBeLessThanOrEqual(maxPages);
          const all = held.flat();
          expect(new Set(all).size).toBe(all.length);
          expect(all.every((p) => p >= 0 && p < pool.capacity)).toBe(true);
          if (held.length > 0 && rng.uniform() < 0.45) {
            const freed = held.splice(rng.int(held.length), 1)[0];
            const before = pool.memory().parts.keys ?? 0;
            pool.release(freed);
            expect(pool.memory().parts.keys ?? 0).toBe(before - freed.length * 2 * 4 * 4);
          } else {
            const count = rng.int(6);
            if (inUse + count > maxPages) {
              const capacity = pool.capacity;
              expect(() => pool.allocate(count)).toThrow(expect.objectContaining({ code: 'OUT_OF_MEMORY' }));
              expect(pool.pagesInUse).toBe(inUse);
              expect(pool.capacity).toBe(capacity);
            } else {
              const oldCapacity = pool.capacity;
              const lowestFree = Array.from({ length: oldCapacity }, (_, p) => p).filter((p) => !all.includes(p));
              const got = [...pool.allocate(count)];
              // the lowest free pages come back first: freed pages are reused before new capacity
              const grown = Array.from({ length: pool.capacity - oldCapacity }, (_, i) => oldCapacity + i);
              expect(got).toEqual(lowestFree.concat(grown).slice(0, count));
              if (lowestFree.length >= count) expect(pool.capacity).toBe(oldCapacity);
              held.push(got);
            }
          }
        }
        pool.release(held.flat());
        expect(pool.pagesInUse).toBe(0);
        expect(() => pool.release([0])).toThrow(expect.objectContaining({ code: 'INDEX_OUT_OF_RANGE' }));
      }
    }));

  it('grows by doubling, trims its free top, and keeps page contents across both', () =>
    withSeed((rng) => {
      const pool = new PagedKVPool({ headDim: 8, pageSize: 4, initialPages: 2, dtype: 'f32', autoTrim: false });
      const a = new PagedSequence(pool, 1);
      const b = new PagedSequence(pool, 1);
      const da = fill(rng, a, 9, 8); // 3 pages: grows to 4
      const db = fill(rng, b, 20, 8); // 5 more: grows to 8 … 
      expect(pool.capacity).toBeGreaterThanOrEqual(8);
      const bytesBefore = pool.memory().bytes;
      b.release();
      expect(pool.memory().bytes).toBe(bytesBefore); // free pages are still resident (reserved) until trimmed
      pool.trim();
      expect(pool.capacity).toBe(3);
      expect(pool.memory().bytes).toBe(3 * pool.pageBytes);
      const q = randomNormal([1, 1, 8], rng);
      const qPos = Int32Array.of(1000);
      const ref = attention(q, da.k, da.v, { queryPositions: i32(qPos), keyPositions: i32(da.positions) });
      assertClose(pagedAttention(q, a, { queryPositions: qPos }).output.readSync(), ref.output.readSync(), 1e-6);
      expect(db.k.shape[1]).toBe(20);
      expect(() => new PagedKVPool({ headDim: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => new PagedKVPool({ headDim: 8, dtype: 'bf16' as never })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));
});

describe('pagedCache (KVCacheLayer)', () => {
  const spec = { numLayers: 2, qHeads: 8, kvHeads: 2, headDim: 32, maxPositions: 4096, backend: cpuBackend(), rope: { invFreq: new Float32Array(16), layout: 'half' as const } };

  it('attends exactly like the dense f32 cache through prefill and decode', () =>
    withSeed((rng) => {
      const paged = createCache(spec, pagedCache({ pageSize: 8, dtype: 'f32' }));
      const dense = createCache(spec, denseCache({ dtype: 'f32' }));
      let pos = 0;
      for (const n of [45, 1, 1, 7, 1]) {
        const positions = Int32Array.from({ length: n }, (_, i) => pos + i);
        pos += n;
        for (let l = 0; l < 2; l++) {
          const k = randomNormal([2, n, 32], rng);
          const v = randomNormal([2, n, 32], rng);
          paged.layers[l].append(k, v, { positions, phase: n > 1 ? 'prefill' : 'decode' });
          dense.layers[l].append(k, v, { positions, phase: n > 1 ? 'prefill' : 'decode' });
          const q = randomNormal([8, n, 32], rng);
          const a = paged.layers[l].attend(q, { positions, statistics: true });
          const b = dense.layers[l].attend(q, { positions, statistics: true });
          assertClose(a.output.readSync(), b.output.readSync(), 1e-5);
          assertClose(a.statistics!.keySum.readSync(), b.statistics!.keySum.readSync(), 1e-5);
        }
      }
      expect(paged.layers[0].length).toBe(pos);
      expect(paged.memory().tokens).toBe(pos);
      const report = paged.layers[0].memory();
      expect(report.parts.keys).toBe(pos * 2 * 32 * 4);
      expect(report.parts.reserved).toBeGreaterThan(0);
      paged.dispose();
      dense.dispose();
    }));

  it('stores values that are the keys once (valuesAreKeys): the same attention and log-sum-exp as two copies through growth and retain, no value bytes, another v refused', () =>
    withSeed((rng) => {
      const mqa = { ...spec, kvHeads: 1, qHeads: 4 };
      const shared = createCache({ ...mqa, valuesAreKeys: true }, pagedCache({ pageSize: 4, dtype: 'f32', initialPages: 2 }));
      const both = createCache(mqa, pagedCache({ pageSize: 4, dtype: 'f32', initialPages: 2 }));
      let pos = 0;
      const step = (n: number) => {
        const positions = Int32Array.from({ length: n }, (_, i) => pos + i);
        pos += n;
        const k = randomNormal([1, n, 32], rng);
        for (const cache of [shared, both]) cache.layers[0].append(k, k, { positions, phase: n > 1 ? 'prefill' : 'decode' });
        const q = randomNormal([4, n, 32], rng);
        const [a, b] = [shared, both].map((cache) => cache.layers[0].attend(q, { positions, returnLse: true, statistics: true }));
        expect(Array.from(a.output.readSync())).toEqual(Array.from(b.output.readSync()));
        expect(Array.from(a.lse!.readSync())).toEqual(Array.from(b.lse!.readSync()));
      };
      for (const n of [13, 1, 1]) step(n);
      // Head-wise retain moves the kept tokens down (pagedMove), then more tokens land in the freed slots.
      const keep = Int32Array.from({ length: 15 }, (_, i) => i).filter((i) => i % 3 !== 1);
      for (const cache of [shared, both]) (cache.layers[0] as PagedCacheLayer).retain(keep);
      for (const n of [6, 1]) step(n);
      const [a, b] = [shared.layers[0].memory(), both.layers[0].memory()];
      expect(a.parts.values ?? 0).toBe(0);
      expect(a.parts.keys).toBe(b.parts.keys);
      expect(b.parts.values).toBe(b.parts.keys);
      const pool = (shared.layers[0] as PagedCacheLayer).pool;
      expect(pool.pageBytes).toBe(4 * (32 * 4 + 4));
      const k = randomNormal([1, 1, 32], rng);
      expect(() => shared.layers[0].append(k, randomNormal([1, 1, 32], rng), { positions: Int32Array.of(pos), phase: 'decode' })).toThrow(/valuesAreKeys/);
      // A pool keeping one copy is refused for a model whose values are not its keys.
      expect(() => pagedCache({ pool })({ ...mqa, layerIndex: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      shared.dispose();
      both.dispose();
    }));

  it('clear() gives every page back: what it holds next attends like a fresh layer', () =>
    withSeed((rng) => {
      const [used, fresh] = [0, 1].map(() => createCache(spec, pagedCache({ pageSize: 4, dtype: 'f32' })).layers[0] as PagedCacheLayer);
      used.append(randomNormal([2, 11, 32], rng), randomNormal([2, 11, 32], rng), { positions: Int32Array.from({ length: 11 }, (_, i) => i), phase: 'prefill' });
      used.clear();
      expect([used.length, used.pool.pagesInUse]).toEqual([0, 0]);
      const [k, v] = [randomNormal([2, 3, 32], rng), randomNormal([2, 3, 32], rng)];
      const positions = Int32Array.of(11, 12, 13);
      for (const layer of [used, fresh]) layer.append(k, v, { positions, phase: 'prefill' });
      const q = randomNormal([8, 3, 32], rng);
      const [a, b] = [used, fresh].map((layer) => layer.attend(q, { positions }).output.readSync());
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(used.memory().parts.keys).toBe(fresh.memory().parts.keys);
    }));

  it("returns each row's log-sum-exp when asked (the float64 definition, a window included), and none otherwise", () =>
    withSeed((rng) => {
      const cache = createCache(spec, pagedCache({ pageSize: 8, dtype: 'f32' }));
      const layer = cache.layers[0];
      expect(layer.returnsLse).toBe(true);
      const n = 29;
      const positions = gappedPositions(rng, n);
      const k = randomNormal([2, n, 32], rng);
      layer.append(k, randomNormal([2, n, 32], rng), { positions, phase: 'prefill' });
      for (const [m, window] of [[1, undefined], [5, 7]] as const) {
        const queryPositions = positions.slice(n - m);
        const q = randomNormal([8, m, 32], rng);
        const result = layer.attend(q, { positions: queryPositions, returnLse: true, ...(window ? { window } : {}) });
        const expected = referenceLogSumExp(q.readSync(), k.readSync(), { qHeads: 8, kvHeads: 2, m, n, d: 32 }, queryPositions, positions, { window });
        expect(result.lse!.shape).toEqual([8, m]);
        assertClose(result.lse!.readSync(), expected, 1e-6, `lse, ${m} queries, window ${window}`);
        expect(layer.attend(q, { positions: queryPositions }).lse).toBeUndefined();
      }
      cache.dispose();
    }));

  it('a failed append leaves the layer unchanged; retain frees pages and memory drops', () =>
    withSeed((rng) => {
      const pool = new PagedKVPool({ headDim: 32, pageSize: 4, dtype: 'f16', maxPages: 12, initialPages: 4 });
      const layer = pagedCache({ pool })({ ...spec, layerIndex: 0 }) as PagedCacheLayer;
      const positions = Int32Array.from({ length: 20 }, (_, i) => i);
      layer.append(randomNormal([2, 20, 32], rng), randomNormal([2, 20, 32], rng), { positions, phase: 'prefill' }); // 10 pages
      const before = layer.memory();
      const q = randomNormal([8, 1, 32], rng);
      const out = layer.attend(q, { positions: Int32Array.of(20) }).output.readSync();
      // out of pages: 2 heads × 2 more pages > 12
      expect(() => layer.append(randomNormal([2, 5, 32], rng), randomNormal([2, 5, 32], rng), { positions: Int32Array.from({ length: 5 }, (_, i) => 20 + i), phase: 'prefill' })).toThrow(
        expect.objectContaining({ code: 'OUT_OF_MEMORY' }),
      );
      expect(() => layer.append(randomNormal([2, 1, 16], rng), randomNormal([2, 1, 16], rng), { positions: Int32Array.of(20), phase: 'decode' })).toThrow(
        expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
      );
      expect(() => layer.retain([Int32Array.of(0, 1), Int32Array.of(5, 5)])).toThrow(expect.objectContaining({ code: 'INDEX_OUT_OF_RANGE' }));
      expect(layer.memory()).toEqual(before);
      expect(pool.pagesInUse).toBe(10);
      expect(layer.attend(q, { positions: Int32Array.of(20) }).output.readSync()).toEqual(out);
      // head-wise eviction: head 0 keeps 3 tokens, head 1 keeps 9
      layer.retain([Int32Array.of(0, 7, 19), Int32Array.from({ length: 9 }, (_, i) => 2 * i)]);
      expect(pool.pagesInUse).toBe(1 + 3);
      expect(layer.memory().bytes).toBeLessThan(before.bytes);
      expect(layer.memory().tokens).toBe(6);
      expect([...layer.storedPositions(0)]).toEqual([0, 7, 19]);
      expect([...layer.headLengths()]).toEqual([3, 9]);
      layer.dispose();
      expect(pool.pagesInUse).toBe(0);
      expect(() => layer.attend(q, { positions: Int32Array.of(20) })).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    }));

  it('many requests share one pool; pages freed by one are reused by the next', () =>
    withSeed((rng) => {
      const pool = new PagedKVPool({ headDim: 32, pageSize: 8, dtype: 'f32', initialPages: 4, autoTrim: false });
      const factory = pagedCache({ pool });
      const caches = [createCache(spec, factory), createCache(spec, factory)];
      const feed = (cache: ReturnType<typeof createCache>, n: number) => {
        for (const layer of cache.layers) {
          layer.append(randomNormal([2, n, 32], rng), randomNormal([2, n, 32], rng), { positions: Int32Array.from({ length: n }, (_, i) => i), phase: 'prefill' });
        }
      };
      feed(caches[0], 30);
      feed(caches[1], 9);
      const used = pool.pagesInUse;
      expect(used).toBe(2 * 2 * (4 + 2));
      const capacity = pool.capacity;
      caches[0].dispose();
      expect(pool.pagesInUse).toBe(2 * 2 * 2);
      const third = createCache(spec, factory);
      feed(third, 30);
      expect(pool.capacity).toBe(capacity); // reused, no growth
      third.dispose();
      caches[1].dispose();
      expect(pool.pagesInUse).toBe(0);
      expect(() => pagedCache({ pool })({ ...spec, headDim: 16, layerIndex: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));
});
