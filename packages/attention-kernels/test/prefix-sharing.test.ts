import { attention, cpuBackend, createCache, tensor } from '@kvkit/tensor-core';
import { assertClose, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { pagedAttention, PrefixCacheLayer, PrefixKVTree, prefixSharedAttention, prefixSharedCache } from '../src/index.js';
import { appendTokens, D, KV, kvOf, randomTokens, type Request } from './helpers/prefix-requests.js';
import { i32 } from './helpers/reference.js';

function referenceOf(r: Request, q: ReturnType<typeof tensor>, qPos: Int32Array) {
  const { k, v } = kvOf(r.tokens, r.positions, 0);
  return attention(q, k, v, { queryPositions: i32(qPos), keyPositions: i32(Int32Array.from(r.positions)) });
}

describe('prefix tree (ChunkAttention)', () => {
  it('stores a shared prompt prefix once, frees chunks with their last user', () =>
    withSeed((rng) => {
      const tree = new PrefixKVTree({ kvHeads: KV, headDim: D, chunkSize: 8, dtype: 'f32' });
      const system = randomTokens(rng, 27); // 3 full chunks + 3 tokens
      const a: Request = { seq: tree.openSequence(), tokens: [], positions: [] };
      const b: Request = { seq: tree.openSequence(), tokens: [], positions: [] };
      const c: Request = { seq: tree.openSequence(), tokens: [], positions: [] };
      appendTokens(a, Int32Array.from([...system, ...randomTokens(rng, 12)])); // 39 tokens: 5 chunks
      expect(tree.chunkCount).toBe(5);
      appendTokens(b, Int32Array.from([...system, ...randomTokens(rng, 5)])); // shares 3 chunks, 1 own
      expect(tree.chunkCount).toBe(6);
      expect(b.seq.sharedTokens).toBe(24);
      expect(a.seq.sharedTokens).toBe(24);
      appendTokens(c, randomTokens(rng, 9)); // nothing shared
      expect(tree.chunkCount).toBe(8);
      expect(tree.pool.pagesInUse).toBe(8 * KV);
      // decode steps into the own chunks
      for (let s = 0; s < 10; s++) for (const r of [a, b, c]) appendTokens(r, randomTokens(rng, 1));
      for (const r of [a, b, c]) {
        const q = tensor(Float32Array.from({ length: 8 * D }, () => rng.normal()), [8, 1, D]);
        const qPos = Int32Array.of(r.positions.length - 1);
        const got = pagedAttention(q, r.seq, { queryPositions: qPos });
        assertClose(got.output.readSync(), referenceOf(r, q, qPos).output.readSync(), 1e-5);
      }
      const before = tree.chunkCount;
      a.seq.release();
      expect(tree.chunkCount).toBe(before - (Math.ceil(49 / 8) - 3)); // a's own chunks go, the shared 3 stay
      expect(b.seq.sharedTokens).toBe(0); // nobody else uses them now
      b.seq.release();
      c.seq.release();
      expect(tree.chunkCount).toBe(0);
      expect(tree.pool.pagesInUse).toBe(0);
    }));

  it('two-phase batched decode equals the reference for every request (shared, partly shared, own)', () =>
    withSeed((rng) => {
      for (const group of [1, 4]) {
        const tree = new PrefixKVTree({ kvHeads: KV, headDim: D, chunkSize: 4, dtype: 'f32' });
        const common = randomTokens(rng, 13);
        const branch = randomTokens(rng, 6);
        const prompts = [
          [...common, ...branch, ...randomTokens(rng, 3)],
          [...common, ...branch, ...randomTokens(rng, 9)],
          [...common, ...randomTokens(rng, 2)],
          [...randomTokens(rng, 7)],
          [...common.slice(0, 4)],
        ];
        const reqs: Request[] = prompts.map((p) => {
          const r: Request = { seq: tree.openSequence(), tokens: [], positions: [] };
          appendTokens(r, Int32Array.from(p));
          return r;
        });
        for (const r of reqs) appendTokens(r, randomTokens(rng, 1 + rng.int(3)));
        const m = 2;
        const qData = Float32Array.from({ length: reqs.length * KV * group * m * D }, () => rng.normal());
        const q = tensor(qData, [reqs.length, KV * group, m, D]);
        const qPos = Int32Array.from(reqs.flatMap((r) => [r.positions.length - 2, r.positions.length - 1]));
        for (const options of [{}, { window: 9 }, { softcap: 2 }]) {
          const got = prefixSharedAttention(q, reqs.map((r) => r.seq), { ...options, queryPositions: qPos, returnLse: true, tileSize: 3 });
          const out = got.output.readSync();
          const per = KV * group * m * D;
          reqs.forEach((r, b) => {
            const qb = tensor(qData.subarray(b * per, (b + 1) * per), [KV * group, m, D]);
            const { k, v } = kvOf(r.tokens, r.positions, 0);
            const ref = attention(qb, k, v, { ...options, queryPositions: i32(qPos.slice(b * m, (b + 1) * m)), keyPositions: i32(Int32Array.from(r.positions)) });
            assertClose(out.subarray(b * per, (b + 1) * per), ref.output.readSync(), 1e-5, `request ${b} ${JSON.stringify(options)}`);
          });
        }
        expect(() => prefixSharedAttention(q, reqs.map((r) => r.seq).slice(1), { queryPositions: qPos })).toThrow(expect.objectContaining({ code: 'SHAPE_MISMATCH' }));
      }
    }));

  it('adopt attaches the cached prefix without K/V; property: no leaks over random workloads', () =>
    withSeed((rng) => {
      const tree = new PrefixKVTree({ kvHeads: KV, headDim: D, chunkSize: 4, dtype: 'f16', initialPages: 2 });
      const prompts = [randomTokens(rng, 10), randomTokens(rng, 6)];
      const live: Request[] = [];
      for (let step = 0; step < 60; step++) {
        const roll = rng.uniform();
        if (roll < 0.35 || live.length === 0) {
          const base = prompts[rng.int(2)];
          const prompt = Int32Array.from([...base.slice(0, rng.int(base.length + 1)), ...randomTokens(rng, rng.int(6))]);
          const r: Request = { seq: tree.openSequence(), tokens: [], positions: [] };
          const positions = Int32Array.from(prompt, (_, i) => i);
          const adopted = r.seq.adopt(prompt, positions);
          expect(adopted % 4).toBe(0);
          r.tokens.push(...prompt.slice(0, adopted));
          r.positions.push(...positions.slice(0, adopted));
          if (adopted < prompt.length) appendTokens(r, prompt.slice(adopted));
          expect(r.seq.length).toBe(prompt.length);
          live.push(r);
        } else if (roll < 0.75) {
          appendTokens(live[rng.int(live.length)], randomTokens(rng, 1 + rng.int(5)));
        } else {
          live.splice(rng.int(live.length), 1)[0].seq.release();
        }
        const chunks = new Set(live.flatMap((r) => r.seq.nodes));
        expect(tree.chunkCount).toBe(chunks.size);
        expect(tree.pool.pagesInUse).toBe(chunks.size * KV);
        for (const node of chunks) expect(node.refs).toBe(live.filter((r) => r.seq.nodes.includes(node)).length);
      }
      for (const r of live) {
        const q = tensor(Float32Array.from({ length: 4 * D }, () => rng.normal()), [4, 1, D]);
        const qPos = Int32Array.of(r.positions.length);
        const got = pagedAttention(q, r.seq, { queryPositions: qPos });
        const { k, v } = kvOf(r.tokens, r.positions, 0);
        const ref = attention(q, k, v, { queryPositions: i32(qPos), keyPositions: i32(Int32Array.from(r.positions)) });
        assertClose(got.output.readSync(), ref.output.readSync(), 1e-2);
      }
      for (const r of live) r.seq.release();
      expect(tree.chunkCount).toBe(0);
      expect(tree.pool.pagesInUse).toBe(0);
    }));
});

describe('prefixSharedCache (KVCacheLayer)', () => {
  const spec = { numLayers: 2, qHeads: 4, kvHeads: KV, headDim: D, maxPositions: 1024, backend: cpuBackend(), rope: { invFreq: new Float32Array(16), layout: 'half' as const } };

  it('requests sharing a system prompt hold it once; memory shares add up to the tree', () =>
    withSeed((rng) => {
      const factory = prefixSharedCache({ chunkSize: 8, dtype: 'f32' });
      const system = randomTokens(rng, 40);
      const caches = [0, 1, 2].map(() => createCache(spec, factory));
      caches.forEach((cache) => {
        const prompt = Int32Array.from([...system, ...randomTokens(rng, 5)]);
        const positions = Int32Array.from(prompt, (_, i) => i);
        cache.layers.forEach((layer, l) => {
          const { k, v } = kvOf(prompt, positions, l);
          layer.append(k, v, { positions, tokenIds: prompt, phase: 'prefill' });
        });
      });
      for (let l = 0; l < 2; l++) {
        const tree = factory.trees.get(l)!;
        expect(tree.chunkCount).toBe(5 + 3); // 5 shared chunks + one own tail each
        const layerBytes = caches.reduce((a, c) => {
          const p = c.layers[l].memory().parts;
          return a + (p.keys ?? 0) + (p.values ?? 0) + (p.positions ?? 0) + (p.shared ?? 0);
        }, 0);
        // the tree holds 40 shared + 3 × 5 own tokens; the layers' shares add up to exactly that
        const slotBytes = tree.pool.pageBytes / 8;
        expect(layerBytes).toBeCloseTo((40 + 3 * 5) * KV * slotBytes, 6);
        expect(caches[1].layers[l].memory().tokens).toBe(45);
      }
      const layer = caches[0].layers[0] as PrefixCacheLayer;
      expect(layer.sharedTokens).toBe(40);
      const q = tensor(Float32Array.from({ length: 4 * D }, () => rng.normal()), [4, 1, D]);
      expect(layer.attend(q, { positions: Int32Array.of(45), statistics: true }).statistics!.keySum.shape).toEqual([4, 45]);
      expect(() => layer.append(kvOf([1], [45], 0).k, kvOf([1], [45], 0).v, { positions: Int32Array.of(45), phase: 'decode' })).toThrow(
        expect.objectContaining({ code: 'INVALID_CONFIG' }),
      );
      const before = layer.memory();
      expect(() => layer.append(kvOf([1], [45], 0).k, kvOf([1, 2], [45, 46], 0).v, { positions: Int32Array.of(45), tokenIds: Int32Array.of(1), phase: 'decode' })).toThrow(
        expect.objectContaining({ code: 'SHAPE_MISMATCH' }),
      );
      expect(layer.memory()).toEqual(before);
      for (const c of caches) c.dispose();
      for (const tree of factory.trees.values()) expect(tree.pool.pagesInUse).toBe(0);
    }));

  it('an append that runs out of pages changes nothing', () =>
    withSeed((rng) => {
      const tree = new PrefixKVTree({ kvHeads: KV, headDim: D, chunkSize: 4, dtype: 'f32', initialPages: 2, maxPages: 6 });
      const r: Request = { seq: tree.openSequence(), tokens: [], positions: [] };
      appendTokens(r, randomTokens(rng, 10)); // 3 chunks = 6 pages
      const nodes = [...r.seq.nodes];
      expect(() => appendTokens({ ...r }, randomTokens(rng, 3))).toThrow(expect.objectContaining({ code: 'OUT_OF_MEMORY' }));
      expect(r.seq.length).toBe(10);
      expect(r.seq.nodes).toEqual(nodes);
      expect(tree.chunkCount).toBe(3);
      expect(tree.pool.pagesInUse).toBe(6);
      appendTokens(r, randomTokens(rng, 2)); // fits in the own tail chunk
      expect(r.seq.length).toBe(12);
    }));
});
