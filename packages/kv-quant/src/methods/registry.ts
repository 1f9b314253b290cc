import {
  type CacheLayerFactory,
  InvalidConfigError,
  type MethodContext,
  type MethodDescriptor,
  type MethodParams,
  type ParamSpec,
  parseMethodSpec,
  resolveParams,
} from '@kvkit/tensor-core';
import { KVCalibration } from '../calibration/calibration.js';
import { CalibrationRequiredError } from '../errors.js';
import { coupledQuant } from './coupled.js';
import { fp8 } from './fp8.js';
import { kivi } from './kivi.js';
import { kvquant } from './kvquant.js';
import { mixedPrecision } from './mikv.js';
import { qaq } from './qaq.js';
import { rotateKV } from './rotatekv.js';
import { uniformQuant } from './uniform.js';
import { zipCache } from './zipcache.js';

const PACKAGE = '@kvkit/kv-quant';

const dtype: ParamSpec = {
  name: 'dtype',
  type: 'string',
  description: 'dtype of full-precision tokens, scales and zero points',
  default: 'f16',
  values: ['f16', 'f32'],
};
const int = (name: string, description: string, def: number | undefined, min = 0): ParamSpec => ({
  name,
  type: 'integer',
  description,
  ...(def === undefined ? {} : { default: def }),
  min,
});
const num = (name: string, description: string, def: number, min = 0, max = 1): ParamSpec => ({
  name,
  type: 'number',
  description,
  default: def,
  min,
  max,
});
const bool = (name: string, description: string, def: boolean): ParamSpec => ({ name, type: 'boolean', description, default: def });
const choice = (
  name: string,
  description: string,
  def: string | number | undefined,
  values: readonly (string | number)[],
  type: 'string' | 'integer' = 'string'
): ParamSpec => ({
  name,
  type,
  description,
  ...(def === undefined ? {} : { default: def }),
  values,
});

const UNIFORM_BITS = [1, 2, 3, 4, 8];

function calibrationOf(context: MethodContext | undefined): KVCalibration | undefined {
  const c = context?.calibration;
  if (c === undefined) return undefined;
  if (!(c instanceof KVCalibration)) throw new InvalidConfigError('kv-quant: context.calibration must be a KVCalibration');
  return c;
}

function requireCalibration(method: string, context: MethodContext | undefined): KVCalibration {
  const c = calibrationOf(context);
  if (!c) throw new CalibrationRequiredError(method, 'this method fits on calibration activations; pass { calibration } in the method context');
  return c;
}

const n = (p: MethodParams, key: string) => p[key] as number;
// Strings were checked against the descriptor's allowed values by resolveParams, so they fit the option types.
const s = (p: MethodParams, key: string) => p[key] as never;
const b = (p: MethodParams, key: string) => p[key] as boolean;
const opt = (p: MethodParams, key: string) => (p[key] === undefined ? undefined : (p[key] as number));

const DESCRIPTORS: readonly MethodDescriptor[] = [
  {
    name: 'uniform',
    package: PACKAGE,
    description: 'Uniform INT8/4/3/2/1 codes, symmetric or asymmetric, per token or per channel with a group size (baseline)',
    params: [
      choice('bits', 'bits per value', 4, UNIFORM_BITS, 'integer'),
      bool('symmetric', 'abs-max scale without zero point (bits ≥ 2)', false),
      choice('axis', 'quantization axis of keys and values', 'token', ['token', 'channel']),
      choice('keyAxis', 'axis of the keys (overrides axis)', undefined, ['token', 'channel']),
      choice('valueAxis', 'axis of the values (overrides axis)', undefined, ['token', 'channel']),
      int('group', 'per token: channels per group (divides headDim); per channel: tokens per group', 32, 1),
      int('residual', 'full-precision tokens (per token: sliding window; per channel: a multiple of group)', 0),
      dtype,
    ],
    create: (p) =>
      uniformQuant({
        bits: n(p, 'bits'),
        symmetric: b(p, 'symmetric'),
        axis: s(p, 'axis'),
        keyAxis: p.keyAxis as 'token' | 'channel' | undefined,
        valueAxis: p.valueAxis as 'token' | 'channel' | undefined,
        groupSize: n(p, 'group'),
        residual: n(p, 'residual'),
        dtype: s(p, 'dtype'),
      }),
  },
  {
    name: 'fp8',
    package: PACKAGE,
    description: 'FP8 e4m3/e5m2 codes with per-tensor or per-head scales (calibrated when a calibration is given, else from the prefill)',
    params: [
      choice('format', 'FP8 format', 'e4m3', ['e4m3', 'e5m2']),
      choice('scaling', 'one scale per layer or per KV head', 'per-head', ['per-tensor', 'per-head']),
      int('sinks', 'first tokens kept in full precision', 0),
      int('window', 'newest tokens kept in full precision', 0),
      dtype,
    ],
    create: (p, context) =>
      fp8({
        format: s(p, 'format'),
        scaling: s(p, 'scaling'),
        sinks: n(p, 'sinks'),
        window: n(p, 'window'),
        dtype: s(p, 'dtype'),
        calibration: calibrationOf(context),
      }),
  },
  {
    name: 'kivi',
    package: PACKAGE,
    description: 'KIVI: keys per channel in groups of tokens, values per token, 2/4-bit, full-precision residual (Liu et al. 2024)',
    params: [
      choice('bits', 'bits per value', 2, [2, 4, 8], 'integer'),
      int('group', 'tokens per key group', 32, 1),
      int('valueGroup', 'channels per value group (default: group when it divides headDim)', undefined, 1),
      int('residual', 'full-precision residual, a multiple of group', 128),
      dtype,
    ],
    create: (p) =>
      kivi({ bits: n(p, 'bits'), groupSize: n(p, 'group'), valueGroupSize: opt(p, 'valueGroup'), residual: n(p, 'residual'), dtype: s(p, 'dtype') }),
  },
  {
    name: 'kvquant',
    package: PACKAGE,
    description:
      'KVQuant: pre-RoPE per-channel keys, sensitivity-weighted non-uniform datatypes, dense-and-sparse outliers, full-precision sink (Hooper et al. 2024)',
    needsCalibration: true,
    params: [
      choice('bits', 'bits per value', 3, UNIFORM_BITS, 'integer'),
      num('outliers', 'share of each vector kept exactly', 0.01, 0, 0.5),
      int('sinks', 'first tokens kept in full precision', 1),
      int('residual', 'newest tokens kept in full precision', 0),
      int('valueGroup', 'channels per value normalization group (default headDim)', undefined, 1),
      bool('sensitivity', 'weight the key datatype by query energy', true),
      dtype,
    ],
    create: (p, context) =>
      kvquant({
        calibration: requireCalibration('kvquant', context),
        bits: n(p, 'bits'),
        outliers: n(p, 'outliers'),
        sinks: n(p, 'sinks'),
        residual: n(p, 'residual'),
        valueGroupSize: opt(p, 'valueGroup'),
        sensitivity: b(p, 'sensitivity'),
        dtype: s(p, 'dtype'),
      }),
  },
  {
    name: 'rotatekv',
    package: PACKAGE,
    description: 'RotateKV: outlier-aware channel reorder + fast Walsh–Hadamard rotation, pre-RoPE grouped heads, sink-aware (Su et al. 2025)',
    params: [
      choice('bits', 'bits per value', 2, UNIFORM_BITS, 'integer'),
      int('group', 'channels per quantization group (divides headDim)', 32, 1),
      choice('keyInput', 'rotate keys before or after RoPE', 'pre-rope', ['pre-rope', 'post-rope']),
      int('headGroup', 'KV heads rotated together (default: all before RoPE, 1 after)', undefined, 1),
      int('block', 'Hadamard block size (power of two; default: largest dividing headDim)', undefined, 1),
      bool('rotateValues', 'rotate the values too', true),
      int('sinks', 'first tokens kept in full precision', 1),
      int('residual', 'newest tokens kept in full precision', 0),
      dtype,
    ],
    create: (p, context) =>
      rotateKV({
        bits: n(p, 'bits'),
        groupSize: n(p, 'group'),
        keyInput: s(p, 'keyInput'),
        headGroup: opt(p, 'headGroup'),
        blockSize: opt(p, 'block'),
        rotateValues: b(p, 'rotateValues'),
        sinks: n(p, 'sinks'),
        residual: n(p, 'residual'),
        dtype: s(p, 'dtype'),
        calibration: calibrationOf(context),
      }),
  },
  {
    name: 'zipcache',
    package: PACKAGE,
    description: 'ZipCache: channel-separable token-wise codes, salient tokens (normalized attention) at high precision (He et al. 2024)',
    params: [
      choice('bits', 'bits of ordinary tokens', 2, UNIFORM_BITS, 'integer'),
      choice('highBits', 'bits of salient tokens', 4, UNIFORM_BITS, 'integer'),
      num('salient', 'share of tokens kept at highBits', 0.3),
      int('recent', 'newest tokens kept in full precision', 32),
      dtype,
    ],
    create: (p) =>
      zipCache({ bits: n(p, 'bits'), highBits: n(p, 'highBits'), salientRatio: n(p, 'salient'), recent: n(p, 'recent'), dtype: s(p, 'dtype') }),
  },
  {
    name: 'mikv',
    package: PACKAGE,
    description: 'MiKV: tokens an eviction scorer would drop kept at 1–2 bits, the rest at high precision (Yang et al. 2024)',
    params: [
      choice('scorer', 'eviction scorer', 'accumulated', ['accumulated', 'normalized']),
      choice('bits', 'bits of evicted tokens', 2, UNIFORM_BITS, 'integer'),
      choice('highBits', 'bits of kept tokens', 8, UNIFORM_BITS, 'integer'),
      num('high', 'share of tokens the scorer keeps (budget)', 0.2),
      int('group', 'channels per quantization group (divides headDim)', 32, 1),
      int('recent', 'newest tokens kept in full precision', 32),
      dtype,
    ],
    create: (p) =>
      mixedPrecision({
        scorer: s(p, 'scorer'),
        bits: n(p, 'bits'),
        highBits: n(p, 'highBits'),
        highRatio: n(p, 'high'),
        groupSize: n(p, 'group'),
        recent: n(p, 'recent'),
        dtype: s(p, 'dtype'),
      }),
  },
  {
    name: 'qaq',
    package: PACKAGE,
    description: 'QAQ: separate key and value bit widths with outliers kept exactly (Dong et al. 2024)',
    params: [
      choice('keyBits', 'bits of the keys', 4, UNIFORM_BITS, 'integer'),
      choice('valueBits', 'bits of the values', 2, UNIFORM_BITS, 'integer'),
      num('outliers', 'share of each vector kept exactly', 0.01, 0, 0.5),
      int('group', 'channels per quantization group (divides headDim)', 32, 1),
      int('sinks', 'first tokens kept in full precision', 0),
      int('residual', 'newest tokens kept in full precision', 0),
      dtype,
    ],
    create: (p) =>
      qaq({
        keyBits: n(p, 'keyBits'),
        valueBits: n(p, 'valueBits'),
        outliers: n(p, 'outliers'),
        groupSize: n(p, 'group'),
        sinks: n(p, 'sinks'),
        residual: n(p, 'residual'),
        dtype: s(p, 'dtype'),
      }),
  },
  {
    name: 'cq',
    package: PACKAGE,
    description: 'Coupled Quantization: channel groups coded jointly with k-means codebooks, down to 1 bit per channel (Zhang et al. 2024)',
    needsCalibration: true,
    params: [
      int('channels', 'channels coded jointly (divides headDim)', 4, 1),
      choice('bits', 'bits per channel (channels × bits ∈ {1, 2, 3, 4, 8})', 1, [1, 2, 3, 4, 8], 'integer'),
      choice('keyInput', 'code keys after or before RoPE', 'post-rope', ['post-rope', 'pre-rope']),
      bool('sensitivity', 'weight key channels by query energy', true),
      int('sinks', 'first tokens kept in full precision', 0),
      int('residual', 'newest tokens kept in full precision', 0),
      dtype,
    ],
    create: (p, context) =>
      coupledQuant({
        calibration: requireCalibration('cq', context),
        channels: n(p, 'channels'),
        bits: n(p, 'bits'),
        keyInput: s(p, 'keyInput'),
        sensitivity: b(p, 'sensitivity'),
        sinks: n(p, 'sinks'),
        residual: n(p, 'residual'),
        dtype: s(p, 'dtype'),
      }),
  },
];

/** Every method of this package with its parameters, for harnesses (`kv-bench --list`). */
export function listMethods(): readonly MethodDescriptor[] {
  return DESCRIPTORS;
}

/**
 * Builds a method from a `name:key=value:…` spec (e.g. `kivi:bits=2:group=32`), checking every
 * parameter against its descriptor.
 */
export function methodFromSpec(spec: string, context?: MethodContext): CacheLayerFactory {
  const { name, raw } = parseMethodSpec(spec);
  const descriptor = DESCRIPTORS.find((d) => d.name === name);
  if (!descriptor) throw new InvalidConfigError(`kv-quant: unknown method "${name}"; methods: ${DESCRIPTORS.map((d) => d.name).join(', ')}`);
  return descriptor.create(resolveParams(descriptor, raw), context);
}
