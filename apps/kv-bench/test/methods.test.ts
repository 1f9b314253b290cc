import { quantizedStore } from '@kvkit/kv-quant';
import { cpuBackend, InvalidConfigError, type LayerSpec, ropeInverseFrequencies, tensor } from '@kvkit/tensor-core';
import { asAsynchronousBackend, withSeed } from '@kvkit/tensor-core/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableMethods, availableStores, describeMethods, parseMethodList, resolveMethodList, rowsThatCannotRunOn, takesStore } from '../src/methods.js';
import type { MethodDescriptor } from '@kvkit/tensor-core';
import type { StoreDescriptor } from '@kvkit/kv-quant';

const d = 32;
const spec: LayerSpec = {
  numLayers: 1,
  qHeads: 4,
  kvHeads: 2,
  headDim: d,
  maxPositions: 1024,
  backend: cpuBackend(),
  rope: { invFreq: ropeInverseFrequencies(d, 10000), layout: 'half' },
  layerIndex: 0,
};

describe('method+store rows (evict + quantize)', () => {
  let methods: MethodDescriptor[];
  let stores: StoreDescriptor[];
  beforeAll(async () => {
    methods = await availableMethods();
    stores = await availableStores();
  });

  it('finds kv-quant’s store and knows which methods take one', () => {
    expect(stores.map((s) => s.name)).toEqual(['quant']);
    const takers = methods.filter(takesStore).map((m) => m.package);
    expect(takers.length).toBeGreaterThan(0);
    expect(new Set(takers)).toEqual(new Set(['@kvkit/kv-evict']));
    expect(takesStore(methods.find((m) => m.name === 'kivi')!)).toBe(false);
    expect(takesStore(methods.find((m) => m.name === 'dense')!)).toBe(false);
  });

  it('resolves a composed row: label, method name, both parameter sets with their defaults', () => {
    const [plain, composed] = resolveMethodList('h2o:budget=0.5, h2o:budget=0.5+quant:bits=2:group=16', methods, stores);
    expect(plain.store).toBeUndefined();
    expect(plain.method).toBe('h2o');
    expect(composed.label).toBe('h2o:budget=0.5+quant:bits=2:group=16');
    expect(composed.method).toBe('h2o+quant');
    expect(composed.params).toEqual(plain.params);
    expect(composed.store?.name).toBe('quant');
    expect(composed.store?.params).toEqual({ bits: 2, group: 16, dtype: 'f16' });
    // The label parses back to the same row (worker threads receive rows by label).
    const again = resolveMethodList(composed.label, methods, stores)[0];
    expect({ ...again, descriptor: undefined, store: { ...again.store, descriptor: undefined } }).toEqual({
      ...composed,
      descriptor: undefined,
      store: { ...composed.store, descriptor: undefined },
    });
  });

  it('builds the method on the store: the layer holds codes, and attends like the same store built by hand', () =>
    withSeed((rng) => {
      const [run] = parseMethodList('snapkv:budget=0.5:observationWindow=4+quant:bits=4', methods, new Map(), stores);
      const byHand = methods.find((m) => m.name === 'snapkv')!.create(run.params, { store: quantizedStore({ bits: 4 }) } as never);
      const n = 24;
      const k = Float32Array.from({ length: 2 * n * d }, () => rng.normal());
      const v = Float32Array.from({ length: 2 * n * d }, () => rng.normal());
      const q = Float32Array.from({ length: 4 * n * d }, () => rng.normal());
      const outputs = [run.factory, byHand].map((factory) => {
        const layer = factory(spec);
        const positions = Int32Array.from({ length: n }, (_, i) => i);
        layer.append(tensor(k, [2, n, d]), tensor(v, [2, n, d]), { positions, phase: 'prefill' });
        const out = Array.from(layer.attend(tensor(q, [4, n, d]), { positions }).output.readFloat32Sync());
        const parts = layer.memory().parts;
        expect(parts.codes).toBe(2 * 12 * 2 * (d * 4) / 8);
        expect(parts.keys).toBeUndefined();
        layer.dispose();
        return out;
      });
      expect(outputs[0]).toEqual(outputs[1]);
    }));

  it('refuses with typed errors: a + part that is not a store, a method that takes no store, two stores, a bad store parameter', () => {
    const cases: [string, RegExp][] = [
      ['h2o:budget=0.5+kivi:bits=2', /"kivi" after \+ is not a store; stores: quant/],
      ['kivi:bits=2+quant:bits=4', /kivi takes no store; methods that do: streaming, h2o/],
      ['dense+quant', /dense takes no store/],
      ['h2o+quant+quant', /a row takes one store after its method \(method\+store\), got 2/],
      ['h2o+quant:bits=5', /quant: bits=5 is not allowed; allowed: 2, 3, 4, 8/],
      ['h2o+quant:width=4', /quant: unknown parameter "width"/],
    ];
    for (const [list, message] of cases) {
      expect(() => resolveMethodList(list, methods, stores)).toThrow(InvalidConfigError);
      expect(() => resolveMethodList(list, methods, stores)).toThrow(message);
    }
    // Without any store installed, the + part names none.
    expect(() => resolveMethodList('h2o+quant', methods)).toThrow(/"quant" after \+ is not a store; stores: \(none installed\)/);
  });

  it('--list shows the stores, marks the methods that take one and gives a composed example', () => {
    const text = describeMethods(methods, stores);
    expect(text).toMatch(/^h2o {2}\(@kvkit\/kv-evict, takes a store: \+quant:…\)$/m);
    expect(text).toMatch(/^kivi {2}\(@kvkit\/kv-quant\)$/m);
    expect(text).toMatch(/^Stores \(where a method marked "takes a store" keeps its tokens; add one to its row with \+\):\nquant {2}\(@kvkit\/kv-quant\)$/m);
    expect(text).toMatch(/^ {4}group=<integer> +channels per scale\/zero-point group \(divides headDim\) \(default 32, range \[1, ∞\]\)$/m);
    expect(text).toMatch(/^ {2}kv-bench --methods "streaming:budget=0\.5\+quant:bits=4"$/m);
  });
});

describe('the paged row (attention-kernels)', () => {
  it('is listed, and attends like the dense row on the same tokens: the fused kernel against the reference', () =>
    withSeed(async (rng) => {
      const methods = await availableMethods();
      expect(methods.find((m) => m.name === 'paged')?.package).toBe('@kvkit/attention-kernels');
      const runs = parseMethodList('dense:dtype=f32,paged:dtype=f32:pageSize=5', methods);
      expect(runs.map((r) => r.params)).toEqual([{ dtype: 'f32' }, { dtype: 'f32', pageSize: 5 }]);
      const n = 23;
      const k = Float32Array.from({ length: 2 * n * d }, () => rng.normal());
      const v = Float32Array.from({ length: 2 * n * d }, () => rng.normal());
      const q = Float32Array.from({ length: 4 * n * d }, () => rng.normal());
      const positions = Int32Array.from({ length: n }, (_, i) => i);
      const [dense, paged] = runs.map((run) => {
        const layer = run.factory(spec);
        layer.append(tensor(k, [2, n, d]), tensor(v, [2, n, d]), { positions, phase: 'prefill' });
        const out = layer.attend(tensor(q, [4, n, d]), { positions }).output.readFloat32Sync();
        const bytes = layer.memory().parts;
        layer.dispose();
        return { out, bytes };
      });
      for (let i = 0; i < dense.out.length; i++) expect(Math.abs(paged.out[i] - dense.out[i])).toBeLessThan(1e-5);
      // The same token bytes; the pages add their tables and the unused slots of the last page.
      expect([paged.bytes.keys, paged.bytes.values]).toEqual([dense.bytes.keys, dense.bytes.values]);
      expect(paged.bytes.indices).toBeGreaterThan(0);
      expect(() => parseMethodList('paged:dtype=f8', methods)).toThrow(InvalidConfigError);
      expect(() => parseMethodList('paged:pageSize=0', methods)).toThrow(InvalidConfigError);
    }));
});

describe('rowsThatCannotRunOn', () => {
  it('names the rows an asynchronous backend refuses, with the reason, and passes the others', async () => {
    const methods = await availableMethods();
    const runs = parseMethodList('dense,kivi:bits=2,streaming:budget=16,h2o:budget=0.5,snapkv:budget=0.5', methods);
    expect(rowsThatCannotRunOn(spec, runs)).toEqual([]);
    const onAsync = { ...spec, backend: asAsynchronousBackend(spec.backend, 'gpu-like') };
    const refused = rowsThatCannotRunOn(onAsync, runs);
    expect(refused.map(({ run }) => run.label)).toEqual(['h2o:budget=0.5', 'snapkv:budget=0.5']);
    expect(refused[0].reason).toMatch(/^h2o scores tokens on the host.*"gpu-like" is asynchronous/);
  });
});
