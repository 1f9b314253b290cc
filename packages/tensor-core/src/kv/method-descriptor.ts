import { InvalidConfigError } from '../errors.js';
import type { CacheLayerFactory } from './contract.js';
import type { TokenStoreFactory } from './token-store.js';

/** One parameter of a compression method, as a harness shows it and parses it. */
export interface ParamSpec {
  name: string;
  type: 'number' | 'integer' | 'boolean' | 'string';
  description: string;
  default?: number | boolean | string;
  /** Allowed values (bit widths, scorer names …); absent = any value of the type. */
  values?: readonly (number | string)[];
  min?: number;
  max?: number;
}

export type MethodParams = Record<string, number | boolean | string>;

/**
 * A compression method as the KV packages publish it (`listMethods()`), so harnesses such as
 * kv-bench can list every method with its parameters and build one from `name:key=value:…`.
 */
export interface MethodDescriptor {
  /** Short name used on command lines, e.g. 'kivi', 'h2o', 'palu'. */
  name: string;
  /** The package that provides it, e.g. '@kvkit/kv-quant'. */
  package: string;
  /** One line: what it does and where it comes from (paper). */
  description: string;
  params: readonly ParamSpec[];
  /** Whether `create` needs calibration data from the model (passed in `context`). */
  needsCalibration?: boolean;
  /** Whether the method keeps its tokens in a `TokenStore` given as `context.store` (method + store rows). */
  takesStore?: boolean;
  create(params: MethodParams, context?: MethodContext): CacheLayerFactory;
}

/**
 * A token storage format as a harness shows it and builds it from `name:key=value:…` — the store
 * counterpart of `MethodDescriptor`. Methods with `takesStore` run on it (kv-bench writes
 * `h2o:budget=0.5+quant:bits=4`).
 */
export interface StoreDescriptor {
  /** Short name used on command lines, e.g. 'quant'. */
  name: string;
  package: string;
  description: string;
  params: readonly ParamSpec[];
  /** Builds the factory from parameters already checked against `params` (`resolveParams`). */
  create(params: MethodParams): TokenStoreFactory;
}

/** What a harness can hand to methods that fit on the model (calibration activations, etc.). */
export interface MethodContext {
  calibration?: unknown;
}

/**
 * Parses `name:key=value:key=value` into the method name and raw string values. Values stay
 * strings here; `resolveParams` types and checks them against a descriptor.
 */
export function parseMethodSpec(spec: string): { name: string; raw: Record<string, string> } {
  const [name, ...pairs] = spec.trim().split(':');
  if (!name) throw new InvalidConfigError(`method spec "${spec}" has no method name (expected name:key=value:…)`);
  const raw: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidConfigError(`method spec "${spec}": "${pair}" is not key=value`);
    raw[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { name, raw };
}

/** Types, range-checks and defaults raw parameter strings against a method's `ParamSpec`s. */
export function resolveParams(descriptor: MethodDescriptor, raw: Record<string, string | number | boolean>): MethodParams {
  const known = new Map(descriptor.params.map((p) => [p.name, p]));
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) {
      throw new InvalidConfigError(
        `${descriptor.name}: unknown parameter "${key}"; parameters: ${descriptor.params.map((p) => p.name).join(', ') || '(none)'}`,
      );
    }
  }
  const out: MethodParams = {};
  for (const spec of descriptor.params) {
    const given = raw[spec.name];
    if (given === undefined) {
      if (spec.default !== undefined) out[spec.name] = spec.default;
      continue;
    }
    const value = coerce(descriptor.name, spec, given);
    if (spec.values && !spec.values.includes(value as number | string)) {
      throw new InvalidConfigError(`${descriptor.name}: ${spec.name}=${value} is not allowed; allowed: ${spec.values.join(', ')}`);
    }
    if (typeof value === 'number' && ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max))) {
      throw new InvalidConfigError(`${descriptor.name}: ${spec.name}=${value} is outside [${spec.min ?? '-∞'}, ${spec.max ?? '∞'}]`);
    }
    out[spec.name] = value;
  }
  return out;
}

function coerce(method: string, spec: ParamSpec, given: string | number | boolean): number | boolean | string {
  if (spec.type === 'string') return String(given);
  if (spec.type === 'boolean') {
    if (typeof given === 'boolean') return given;
    if (given === 'true' || given === '1') return true;
    if (given === 'false' || given === '0') return false;
    throw new InvalidConfigError(`${method}: ${spec.name} must be true or false, got "${given}"`);
  }
  const value = typeof given === 'number' ? given : Number(given);
  if (!Number.isFinite(value) || (spec.type === 'integer' && !Number.isInteger(value))) {
    throw new InvalidConfigError(`${method}: ${spec.name} must be ${spec.type === 'integer' ? 'an integer' : 'a number'}, got "${given}"`);
  }
  return value;
}

/** `name:key=value` for a method and its (resolved) parameters: the label of a result row. */
export function formatMethodSpec(name: string, params: MethodParams): string {
  return [name, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)].join(':');
}
