import { createCache, denseF16Bytes, parseMethodSpec, resolveParams } from '@kvkit/tensor-core';
import { withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { fitEigenAttention, listMethods, uniformAllocation } from '../src/index.js';
import { positions, randomTensor, specOf, syntheticCalibration } from './helpers.js';

const byName = () => new Map(listMethods().map((m) => [m.name, m]));

describe('listMethods', () => {
  it('publishes every method once, from this package, with defaults that resolve', () => {
    const methods = listMethods();
    expect(methods.map((m) => m.name)).toEqual(['eigen', 'palu', 'matryoshka', 'cskv', 'shadowkv', 'headmerge', 'mha2mla', 'kvsharer', 'cla']);
    for (const m of methods) {
      expect(m.package).toBe('@kvkit/kv-lowrank');
      expect(m.description.length).toBeGreaterThan(20);
      const params = resolveParams(m, {});
      for (const p of m.params) expect(params[p.name]).toBe(p.default);
    }
    expect(methods.filter((m) => !m.needsCalibration).map((m) => m.name)).toEqual(['shadowkv', 'cla']);
  });

  it('every method builds a working cache from a calibration set, within its budget', () =>
    withSeed((rng) => {
      const spec = specOf({ numLayers: 2, kvHeads: 2, qHeads: 4, headDim: 8 });
      const { set } = syntheticCalibration(rng, spec, 48, 3, { weights: true });
      const methods = byName();
      const n = 40;
      for (const text of ['eigen:ratio=0.5', 'palu:ratio=0.5:bits=4', 'matryoshka:ratio=0.5', 'cskv:ratio=0.5:window=8', 'shadowkv:budget=16:chunk=4:window=4', 'headmerge', 'mha2mla:ratio=0.5', 'kvsharer:ratio=0.5', 'cla', 'eigen:rank=3:allocation=energy', 'palu:allocation=uniform:group=1']) {
        const { name, raw } = parseMethodSpec(text);
        const method = methods.get(name)!;
        const cache = createCache(spec, method.create(resolveParams(method, raw), { calibration: set }));
        for (const layer of cache.layers) layer.append(randomTensor(rng, [2, n, 8]), randomTensor(rng, [2, n, 8]), { positions: positions(0, n), phase: 'prefill' });
        for (const layer of cache.layers) {
          const out = layer.attend(randomTensor(rng, [4, 1, 8]), { positions: positions(n, 1) }).output.readSync();
          expect(out.length).toBe(32);
          for (const x of out) expect(Number.isFinite(x)).toBe(true);
        }
        const memory = cache.memory();
        const dense = denseF16Bytes(n, 2, 8, 2);
        if (['eigen', 'matryoshka', 'mha2mla'].includes(name)) expect(memory.parts.latents + (memory.parts.keys ?? 0)).toBeLessThanOrEqual(0.5 * dense);
        if (text.includes('bits=4')) expect(memory.parts.codes).toBeLessThanOrEqual(0.5 * 0.25 * dense);
        if (name === 'headmerge') expect(memory.parts.latents).toBe(0.5 * dense);
        if (name === 'kvsharer') expect(memory.parts.keys + memory.parts.values).toBe(0.5 * dense);
        expect(memory.tokens).toBe(n);
        cache.dispose();
      }
    }));

  it('takes fitted projections and ranks instead of a set, and says what is missing', () =>
    withSeed((rng) => {
      const spec = specOf();
      const { set } = syntheticCalibration(rng, spec, 32, 3);
      const projections = fitEigenAttention(set);
      const eigen = byName().get('eigen')!;
      const ranks = uniformAllocation(projections, 0.25);
      const factory = eigen.create(resolveParams(eigen, { allocation: 'given' }), { calibration: { projections: { eigen: projections }, ranks: { eigen: ranks } } });
      const layer = createCache(spec, factory).layers[0];
      layer.append(randomTensor(rng, [2, 3, 8]), randomTensor(rng, [2, 3, 8]), { positions: positions(0, 3), phase: 'prefill' });
      expect(layer.memory().parts.latents).toBe(3 * 2 * (2 + 2) * 2);
      for (const method of listMethods().filter((m) => m.needsCalibration)) {
        expect(() => method.create(resolveParams(method, {}), {})).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
        expect(() => method.create(resolveParams(method, {}))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      }
      expect(() => eigen.create(resolveParams(eigen, { allocation: 'given' }), { calibration: set })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => eigen.create(resolveParams(eigen, {}), { calibration: { set: {} as never } })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
      expect(() => resolveParams(eigen, { bits: '5' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }));
});
