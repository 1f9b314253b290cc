import { describe, expect, it } from 'vitest';
import { type MethodDescriptor, cpuBackend, createCache, denseCache, denseMethod, formatMethodSpec, parseMethodSpec, resolveParams, tensor } from '../src/index.js';

const dense: MethodDescriptor = {
  name: 'dense',
  package: '@kvkit/tensor-core',
  description: 'uncompressed reference cache',
  params: [
    { name: 'dtype', type: 'string', description: 'storage dtype', default: 'f16', values: ['f16', 'f32'] },
    { name: 'capacity', type: 'integer', description: 'initial capacity', default: 256, min: 1 },
    { name: 'ratio', type: 'number', description: 'a number', min: 0, max: 1 },
    { name: 'flag', type: 'boolean', description: 'a flag', default: false },
  ],
  create: (p) => denseCache({ dtype: p.dtype as 'f16', initialCapacity: p.capacity as number }),
};

describe('method descriptors', () => {
  it('parses name:key=value specs and resolves typed parameters with defaults', () => {
    const { name, raw } = parseMethodSpec('dense:dtype=f32:capacity=64:ratio=0.25:flag=true');
    expect(name).toBe('dense');
    expect(resolveParams(dense, raw)).toEqual({ dtype: 'f32', capacity: 64, ratio: 0.25, flag: true });
    expect(resolveParams(dense, {})).toEqual({ dtype: 'f16', capacity: 256, flag: false });
    expect(formatMethodSpec('dense', { dtype: 'f32', capacity: 64 })).toBe('dense:dtype=f32:capacity=64');
  });

  it('refuses unknown parameters, wrong types, disallowed values and out-of-range numbers', () => {
    const bad: Record<string, string>[] = [{ bits: '2' }, { capacity: '1.5' }, { capacity: '0' }, { dtype: 'bf16' }, { ratio: 'x' }, { ratio: '2' }, { flag: 'maybe' }];
    for (const raw of bad) expect(() => resolveParams(dense, raw)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => parseMethodSpec(':a=1')).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => parseMethodSpec('dense:capacity')).toThrow(/not key=value/);
  });

  it('denseMethod builds the dense cache from a spec, in the dtype asked for', () => {
    const spec = { numLayers: 1, qHeads: 2, kvHeads: 1, headDim: 8, maxPositions: 64, backend: cpuBackend(), rope: { invFreq: new Float32Array(4), layout: 'half' as const } };
    for (const [text, bytesPerValue] of [['dense', 2], ['dense:dtype=f32', 4]] as const) {
      const cache = createCache(spec, denseMethod.create(resolveParams(denseMethod, parseMethodSpec(text).raw), {}));
      const tokens = Float32Array.from({ length: 80 }, (_, i) => Math.sin(i));
      cache.layers[0].append(tensor(tokens, [1, 10, 8]), tensor(tokens, [1, 10, 8]), { positions: Int32Array.from({ length: 10 }, (_, i) => i), phase: 'prefill' });
      expect(cache.memory().parts.keys, text).toBe(10 * 8 * bytesPerValue);
      cache.dispose();
    }
    expect(() => resolveParams(denseMethod, { dtype: 'bf16' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });
});
