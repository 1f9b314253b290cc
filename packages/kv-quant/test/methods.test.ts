import {
  cpuBackend,
  rope,
  denseCache,
  denseF16Bytes,
  formatMethodSpec,
  type KVCacheLayer,
  type LayerSpec,
  type MethodContext,
  resolveParams,
  type Rng,
  tensor,
} from '@kvkit/tensor-core';
import { relativeError, withSeed } from '@kvkit/tensor-core/testing';
import { describe, expect, it } from 'vitest';
import { KiviLayer, KVCalibration, listMethods, methodFromSpec, MixedPrecisionLayer } from '../src/index.js';
import { layerSpec, positions, randomArray, withOutlierChannels } from './helpers.js';

const D = 64;
const spec = (): LayerSpec => layerSpec({ headDim: D, kvHeads: 2, qHeads: 4, numLayers: 1 });

function calibration(rng: Rng): KVCalibration {
  const n = 192;
  return KVCalibration.fromSamples({
    kvHeads: 2,
    headDim: D,
    qHeads: 4,
    rope: spec().rope,
    layers: [
      {
        keys: withOutlierChannels(rng, 2, n, D, [7, 40], 6),
        values: randomArray(rng, 2 * n * D),
        positions: positions(0, n),
        queries: randomArray(rng, 4 * n * D),
      },
    ],
  });
}

/** Prefill + decode on a layer and on the dense f32 reference; returns the relative error of the last outputs. */
function run(layer: KVCacheLayer, rng: Rng, prefill = 200, decode = 4): number {
  const dense = denseCache({ dtype: 'f16' })(spec());
  let error = 0;
  let t = 0;
  for (const n of [prefill, ...new Array(decode).fill(1)]) {
    const k = withOutlierChannels(rng, 2, n, D, [7, 40], 6);
    const v = randomArray(rng, 2 * n * D);
    const pos = positions(t, n);
    const step = { positions: pos, phase: t ? ('decode' as const) : ('prefill' as const) };
    // Pre-RoPE layers get pre-RoPE keys; the reference gets them rotated.
    layer.append(tensor(k, [2, n, D]), tensor(v, [2, n, D]), step);
    const s = spec();
    const postK =
      layer.keyInput === 'pre-rope'
        ? rope(tensor(k, [2, n, D]), tensor(pos, [n], { dtype: 'i32' }), tensor(s.rope.invFreq), s.rope.layout)
        : tensor(k, [2, n, D]);
    dense.append(postK, tensor(v, [2, n, D]), step);
    const q = tensor(randomArray(rng, 4 * n * D, 0.5), [4, n, D]);
    const got = layer.attend(q, { positions: pos }).output.readFloat32Sync();
    const ref = dense.attend(q, { positions: pos }).output.readFloat32Sync();
    expect(got.every(Number.isFinite)).toBe(true);
    error = relativeError(got, ref);
    t += n;
  }
  return error;
}

describe('method registry', () => {
  it('lists every method with typed parameters whose defaults pass their own checks', () => {
    const methods = listMethods();
    expect(methods.map((m) => m.name)).toEqual(['uniform', 'fp8', 'kivi', 'kvquant', 'rotatekv', 'zipcache', 'mikv', 'qaq', 'cq']);
    for (const m of methods) {
      expect(m.package).toBe('@kvkit/kv-quant');
      expect(new Set(m.params.map((p) => p.name)).size).toBe(m.params.length);
      for (const p of m.params) {
        expect(['number', 'integer', 'boolean', 'string']).toContain(p.type);
        expect(p.description.length).toBeGreaterThan(5);
        if (p.default !== undefined && p.values) expect(p.values).toContain(p.default);
      }
      expect(() => resolveParams(m, {})).not.toThrow();
    }
  });

  it('every method at its defaults runs prefill and decode and stays close to the uncompressed attention', () =>
    withSeed((rng) => {
      const context: MethodContext = { calibration: calibration(rng) };
      const errors: Record<string, number> = {};
      for (const m of listMethods()) {
        const factory = m.create(resolveParams(m, {}), context);
        errors[m.name] = run(factory(spec()), rng);
      }
      // Random Gaussian K/V: a sanity bound for the 1–2-bit defaults, tighter ones for the ≥ 3-bit defaults.
      // (Coupled Quantization's default is 1 bit per channel, which unstructured Gaussian data punishes most.)
      for (const [name, e] of Object.entries(errors)) expect(e, name).toBeLessThan(name === 'cq' ? 1 : 0.7);
      for (const name of ['uniform', 'fp8', 'kvquant']) expect(errors[name], name).toBeLessThan(0.25);
      expect(errors.fp8).toBeLessThan(0.05);
      expect(errors.kivi).toBeGreaterThan(0); // the prefill is longer than the residual: something was quantized
    }));

  it('builds methods from name:key=value specs and refuses unknown names, parameters and values', () => {
    const layer = methodFromSpec('kivi:bits=4:group=16:residual=32')(spec());
    expect(layer).toBeInstanceOf(KiviLayer);
    expect((layer as KiviLayer).bits).toBe(4);
    expect((layer as KiviLayer).groupSize).toBe(16);
    expect(methodFromSpec('zipcache:bits=1:highBits=4')(spec())).toBeInstanceOf(MixedPrecisionLayer);
    expect(formatMethodSpec('kivi', resolveParams(listMethods()[2], { bits: '4' }))).toBe('kivi:bits=4:group=32:residual=128:dtype=f16');
    for (const bad of ['nope:bits=2', 'kivi:bits=3', 'kivi:colour=red', 'uniform:axis=diagonal', 'qaq:outliers=2']) {
      expect(() => methodFromSpec(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    }
    expect(() => methodFromSpec('kvquant')).toThrow(expect.objectContaining({ name: 'CalibrationRequiredError' }));
    expect(() => methodFromSpec('cq:channels=4:bits=1', { calibration: 'not a calibration' })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' })
    );
    expect(() => methodFromSpec('uniform:group=24')(spec())).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});

describe('the cache-layer contract, for every method', () => {
  it('a failed append leaves the layer unchanged; use after dispose is a typed error; memory() is what the backend holds', () =>
    withSeed((rng) => {
      const context: MethodContext = { calibration: calibration(rng) };
      const backend = cpuBackend();
      for (const m of listMethods()) {
        const factory = m.create(resolveParams(m, {}), context);
        const k = tensor(randomArray(rng, 2 * 40 * D), [2, 40, D]);
        const prefillQ = tensor(randomArray(rng, 4 * 40 * D), [4, 40, D]);
        const k1 = tensor(randomArray(rng, 2 * D), [2, 1, D]);
        const q = tensor(randomArray(rng, 4 * D), [4, 1, D]);
        const wrongHeads = tensor(new Float32Array(3 * D), [3, 1, D]);
        const before = backend.bytesInUse();
        const layer = factory(spec());
        layer.append(k, k, { positions: positions(0, 40), phase: 'prefill' });
        layer.attend(prefillQ, { positions: positions(0, 40) }).output.dispose();
        layer.append(k1, k1, { positions: Int32Array.of(40), phase: 'decode' });
        const first = layer.attend(q, { positions: Int32Array.of(40) }).output;
        const out = Array.from(first.readSync());
        first.dispose();
        const memory = layer.memory();
        const bad = [
          () => layer.append(wrongHeads, k1, { positions: Int32Array.of(41), phase: 'decode' }),
          () => layer.append(k, k, { positions: positions(41, 39), phase: 'decode' }),
          () => layer.append(k, k, { positions: Int32Array.from({ length: 40 }, () => -3), phase: 'decode' }),
        ];
        for (const call of bad)
          expect(call, m.name).toThrow(expect.objectContaining({ code: expect.stringMatching(/SHAPE_MISMATCH|INVALID_CONFIG/) }));
        expect(layer.length, m.name).toBe(41);
        expect(layer.memory(), m.name).toEqual(memory);
        const again = layer.attend(q, { positions: Int32Array.of(40) }).output;
        expect(Array.from(again.readSync()), m.name).toEqual(out);
        again.dispose();
        // Device bytes are what the backend holds (nothing leaked); mixed-precision layers add their host bookkeeping.
        const host =
          layer instanceof MixedPrecisionLayer
            ? 12 * [layer.high.columns, layer.low.columns, layer.windowColumns].reduce((s, c) => s + c.capacity, 0)
            : 0;
        expect(backend.bytesInUse() - before + host, m.name).toBe(memory.bytes);
        layer.dispose();
        expect(backend.bytesInUse(), m.name).toBe(before);
        expect(() => layer.append(k, k, { positions: positions(41, 40), phase: 'decode' }), m.name).toThrow(
          expect.objectContaining({ code: 'DISPOSED' })
        );
        expect(() => layer.attend(q, { positions: Int32Array.of(41) }), m.name).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
        for (const t of [k, prefillQ, k1, q, wrongHeads]) t.dispose();
      }
    }));

  it('compression against f16 at 2048 tokens counts every overhead (KIVI-2 and KIVI-4 at the default group size and residual)', () =>
    withSeed((rng) => {
      for (const [bits, ratio] of [
        [2, 4.531],
        [4, 2.926],
      ] as const) {
        const layer = methodFromSpec(`kivi:bits=${bits}`)(spec());
        for (let t = 0; t < 2048; t += 512) {
          const x = tensor(randomArray(rng, 2 * 512 * D), [2, 512, D]);
          layer.append(x, x, { positions: positions(t, 512), phase: 'prefill' });
        }
        const m = layer.memory();
        const used = m.bytes - m.parts.reserved;
        // Per token and KV head: b·64/8 code bytes and 2 groups × (f16 scale + f16 min) for K (per channel over 32 tokens) and V
        // (per token over 32 channels); the newest 128 values in f16 (2048 is a multiple of 128, so no key waits); 4 bytes of
        // position per token.
        const perToken = (bits * D) / 8 + (D / 32) * 4;
        const expected = 2 * (2048 * perToken + (2048 - 128) * perToken + 128 * D * 2) + 2048 * 4;
        expect(used).toBe(expected);
        expect(denseF16Bytes(2048, 2, D, 1) / used).toBeCloseTo(ratio, 3);
      }
    }));
});
