// What the CUDA KIVI pass tests share: a case's shape, one random cache's parity between the
// emulated CUDA kernel and the CPU kernel, and the case's name.
import { type DType, getBackend, randomNormal, type Rng, toBackend } from '@kvkit/tensor-core';
import type { CudaBackend } from '@kvkit/tensor-core/cuda';
import { type KiviCacheView, type KiviDecodeOptions, kiviDecodeAttention } from '../../src/index.js';
import { compareResults } from '../gpu/parity-cases.js';
import { randomKiviView } from './random-kivi.js';

export interface KiviCudaShape {
  bits: 2 | 4;
  d: number;
  group: number;
  m: number;
  n: number;
  residual: number;
  groupSize: number;
  valueGroupSize: number;
  floatDType: 'f32' | 'f16';
  qDType: DType;
  capacity?: number;
}

async function viewOn(view: KiviCacheView, backend: CudaBackend): Promise<KiviCacheView> {
  const names = ['keyCodes', 'keyScale', 'keyMin', 'valueCodes', 'valueScale', 'valueMin', 'residualKeys', 'residualValues', 'positions'] as const;
  const moved = await Promise.all(names.map((name) => toBackend(view[name], backend)));
  return { ...view, ...Object.fromEntries(names.map((name, i) => [name, moved[i]])) };
}

/** Worst relative error of the CUDA kernel on `cuda` against the CPU kernel on one random cache of `kvHeads` KV heads. */
export async function kiviCudaParity(rng: Rng, cuda: CudaBackend, s: KiviCudaShape, options: KiviDecodeOptions, kvHeads: number): Promise<number> {
  const positions = Int32Array.from({ length: s.n + (s.capacity ?? 0) }, (_, i) => 3 * i + (i % 2));
  const { view } = randomKiviView(rng, {
    bits: s.bits, groupSize: s.groupSize, valueGroupSize: s.valueGroupSize, kvHeads, headDim: s.d, length: s.n,
    residual: s.residual, extraCapacity: s.capacity, floatDType: s.floatDType, positions,
  });
  const q = randomNormal([kvHeads * s.group, s.m, s.d], rng, { dtype: s.qDType, backend: getBackend('cpu') });
  const ref = kiviDecodeAttention(q, view, options);
  return compareResults(kiviDecodeAttention(await toBackend(q, cuda), await viewOn(view, cuda), options), ref);
}

export const kiviCaseLabel = (s: KiviCudaShape, o: KiviDecodeOptions): string =>
  `${s.bits}-bit, d ${s.d}, GQA ${s.group}, m ${s.m}, n ${s.n}, residual ${s.residual}, groups ${s.groupSize}/${s.valueGroupSize}, ${s.floatDType} scales, ${s.qDType} q, partition ${o.partitionSize ?? 512}${o.causal ? ', causal' : ''}${o.window ? `, window ${o.window}` : ''}${o.softcap ? `, soft-cap ${o.softcap}` : ''}`;
