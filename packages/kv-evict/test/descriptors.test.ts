import { createCache, InvalidConfigError, parseMethodSpec, resolveParams } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { type CompressingLayer, type EvictMethodContext, listMethods, raggedDenseStore } from '../src/index.js';
import { cacheSpec, f32, positions, randomTensor } from './helpers.js';

const NAMES = ['streaming', 'h2o', 'a2sf', 'l2norm', 'snapkv', 'tova', 'fastgen', 'razor', 'chunkkv', 'kvmerger', 'd2o', 'ems', 'clusterkv', 'pyramidkv', 'squeeze', 'dynamickv', 'zigzag', 'minicache'];

describe('listMethods', () => {
  it('publishes every method under its short name with typed parameters', () => {
    const methods = listMethods();
    expect(methods.map((m) => m.name)).toEqual(NAMES);
    for (const m of methods) {
      expect(m.package).toBe('@kvkit/kv-evict');
      expect(m.description.length).toBeGreaterThan(20);
      expect(new Set(m.params.map((p) => p.name)).size).toBe(m.params.length);
    }
  });

  it.each(NAMES)('%s builds from name:key=value and runs prefill + decode through createCache', (name) =>
    withSeed((rng) => {
      const descriptor = listMethods().find((m) => m.name === name)!;
      const spec = cacheSpec({ numLayers: 4, headDim: 8 });
      const raw = parseMethodSpec(descriptor.params.some((p) => p.name === 'budget') ? `${name}:budget=0.25` : name).raw;
      const cache = createCache(spec, descriptor.create(resolveParams(descriptor, raw)));
      const n = 96;
      const ids = Int32Array.from({ length: n + 8 }, (_, i) => (i * 7) % 13);
      for (const layer of cache.layers) {
        layer.append(randomTensor(rng, [2, n, 8]), randomTensor(rng, [2, n, 8]), { positions: positions(0, n), phase: 'prefill', tokenIds: ids.subarray(0, n) });
        const out = layer.attend(randomTensor(rng, [4, n, 8]), { positions: positions(0, n) });
        expect(out.output.shape).toEqual([4, n, 8]);
        expect(f32(out.output).every(Number.isFinite)).toBe(true);
      }
      for (let t = n; t < n + 8; t++) {
        for (const layer of cache.layers) {
          layer.append(randomTensor(rng, [2, 1, 8]), randomTensor(rng, [2, 1, 8]), { positions: positions(t, 1), phase: 'decode', tokenIds: ids.subarray(t, t + 1) });
          const out = layer.attend(randomTensor(rng, [4, 1, 8]), { positions: positions(t, 1) });
          expect(f32(out.output).every(Number.isFinite)).toBe(true);
        }
      }
      const report = cache.memory();
      expect(report.bytes).toBeGreaterThan(0);
      expect(Object.values(report.parts).every((b) => b >= 0)).toBe(true);
      cache.dispose();
    }),
  );

  it('takes the storage (evict + quantize) and FastGen token classes from the harness context', () =>
    withSeed((rng) => {
      const methods = listMethods();
      const h2o = methods.find((m) => m.name === 'h2o')!;
      const spec = cacheSpec({ numLayers: 1 });
      const cache = createCache(spec, h2o.create(resolveParams(h2o, { budget: '8' }), { store: raggedDenseStore({ dtype: 'f32' }) } as EvictMethodContext));
      const layer = cache.layers[0];
      layer.append(randomTensor(rng, [2, 20, 8]), randomTensor(rng, [2, 20, 8]), { positions: positions(0, 20), phase: 'prefill' });
      layer.attend(randomTensor(rng, [4, 20, 8]), { positions: positions(0, 20) });
      expect(layer.memory().parts.keys).toBe(2 * 8 * 8 * 4); // 8 tokens per head, f32 from the context's store
      const fastgen = methods.find((m) => m.name === 'fastgen')!;
      const withClasses = createCache(spec, fastgen.create(resolveParams(fastgen, {}), { tokenClasses: { special: [1], punctuation: [2] } } as EvictMethodContext));
      const ids = Int32Array.from({ length: 20 }, (_, i) => (i % 5 === 0 ? 2 : 3));
      const l = withClasses.layers[0];
      l.append(randomTensor(rng, [2, 20, 8]), randomTensor(rng, [2, 20, 8]), { positions: positions(0, 20), phase: 'prefill', tokenIds: ids });
      l.attend(randomTensor(rng, [4, 20, 8]), { positions: positions(0, 20) });
      expect((l as CompressingLayer).describe().headPolicies).toHaveLength(2);
    }));

  it('rejects unknown parameters and values out of range with typed errors', () => {
    const h2o = listMethods().find((m) => m.name === 'h2o')!;
    expect(() => resolveParams(h2o, { bogus: '1' })).toThrow(InvalidConfigError);
    expect(() => resolveParams(h2o, { heads: 'sideways' })).toThrow(InvalidConfigError);
    expect(() => h2o.create(resolveParams(h2o, { budget: '1.5' }))).toThrow(InvalidConfigError);
    expect(() => h2o.create(resolveParams(h2o, { recent: '2.5' }))).toThrow(InvalidConfigError);
  });
});
