import { InvalidConfigError, type TokenStoreFactory, UnsupportedBitWidthError } from '@kvkit/tensor-core';
import type { ParamDType } from '../numeric/param-dtype.js';
import { QuantizedTokenStore } from './quantized-token-store.js';

/** Bit widths the quantized store offers (asymmetric uniform codes in tensor-core's packed layout). */
export const STORE_BITS: readonly number[] = [2, 3, 4, 8];

export interface QuantizedStoreOptions {
  /** Bits per key and value code: 2, 3, 4 or 8 (default 4). */
  bits?: number;
  /** Bits of the key codes (overrides `bits`). */
  keyBits?: number;
  /** Bits of the value codes (overrides `bits`). */
  valueBits?: number;
  /** Channels per scale/zero-point group; must divide the head dimension (default 32). */
  groupSize?: number;
  /** dtype of the scales and zero points (default f16). */
  dtype?: ParamDType;
  /** Tokens per head allocated at first use and kept as headroom after a shrink (default 16). */
  minCapacity?: number;
}

/** The checked settings a store is built from. */
export interface QuantizedStoreSettings {
  keyBits: number;
  valueBits: number;
  groupSize: number;
  paramDType: ParamDType;
  minCapacity: number;
}

/**
 * A `TokenStoreFactory` that keeps each KV head's tokens as uniform asymmetric codes, per token in
 * groups of `groupSize` channels — plug it into an eviction method (`h2o({ budget: 0.25, store:
 * quantizedStore({ bits: 4 }) })` from @kvkit/kv-evict) for evict + quantize.
 *
 * Why per token: eviction removes single tokens of single heads at any time. With per-token codes
 * a token's codes, scales and zero points form one row, so dropping tokens only moves whole rows
 * (compaction) and the survivors keep their exact codes — nothing is regrouped or re-quantized.
 * Per-channel groups of tokens (KIVI's key layout) would tie a token's error to its neighbours and
 * force a re-quantization of every group that loses a member.
 *
 * Options are checked here; whether `groupSize` divides the head dimension is checked when the
 * cache builds a layer's store (InvalidConfigError).
 */
export function quantizedStore(options: QuantizedStoreOptions = {}): TokenStoreFactory {
  const bits = options.bits ?? 4;
  const settings: QuantizedStoreSettings = {
    keyBits: options.keyBits ?? bits,
    valueBits: options.valueBits ?? bits,
    groupSize: options.groupSize ?? 32,
    paramDType: options.dtype ?? 'f16',
    minCapacity: options.minCapacity ?? 16,
  };
  for (const [name, value] of [
    ['bits', bits],
    ['keyBits', settings.keyBits],
    ['valueBits', settings.valueBits],
  ] as const) {
    if (!STORE_BITS.includes(value)) throw new UnsupportedBitWidthError(value, STORE_BITS, `quantizedStore ${name}`);
  }
  if (!Number.isInteger(settings.groupSize) || settings.groupSize < 1) {
    throw new InvalidConfigError(`quantizedStore: groupSize must be a positive integer, got ${settings.groupSize}`, { groupSize: settings.groupSize });
  }
  if (settings.paramDType !== 'f16' && settings.paramDType !== 'f32') {
    throw new InvalidConfigError(`quantizedStore: dtype must be f16 or f32, got ${String(settings.paramDType)}`);
  }
  if (!Number.isInteger(settings.minCapacity) || settings.minCapacity < 1) {
    throw new InvalidConfigError(`quantizedStore: minCapacity must be an integer >= 1, got ${settings.minCapacity}`);
  }
  return (spec) => new QuantizedTokenStore(spec, settings);
}
