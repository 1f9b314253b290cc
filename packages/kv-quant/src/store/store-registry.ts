import type { ParamSpec, StoreDescriptor } from '@kvkit/tensor-core';
import { quantizedStore, STORE_BITS } from './quantized-store.js';

const bitsOverride = (name: string, what: string): ParamSpec => ({ name, type: 'integer', description: `bits of the ${what} codes (overrides bits)`, values: STORE_BITS });

/** kv-quant's token stores, for harnesses (`kv-bench --list`). */
export function listStores(): StoreDescriptor[] {
  return [
    {
      name: 'quant',
      package: '@kvkit/kv-quant',
      description: 'quantized token store: uniform asymmetric codes per token in channel groups (evict + quantize with a kv-evict method)',
      params: [
        { name: 'bits', type: 'integer', description: 'bits per key and value code', default: 4, values: STORE_BITS },
        bitsOverride('keyBits', 'key'),
        bitsOverride('valueBits', 'value'),
        { name: 'group', type: 'integer', description: 'channels per scale/zero-point group (divides headDim)', default: 32, min: 1 },
        { name: 'dtype', type: 'string', description: 'dtype of the scales and zero points', default: 'f16', values: ['f16', 'f32'] },
      ],
      create: (p) =>
        quantizedStore({
          bits: p.bits as number,
          keyBits: p.keyBits as number | undefined,
          valueBits: p.valueBits as number | undefined,
          groupSize: p.group as number,
          dtype: p.dtype as 'f16' | 'f32',
        }),
    },
  ];
}
