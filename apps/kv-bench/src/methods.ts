import {
  type CacheLayerFactory,
  denseCache,
  InvalidConfigError,
  type MethodContext,
  type MethodDescriptor,
  type MethodParams,
  formatMethodSpec,
  parseMethodSpec,
  resolveParams,
} from '@kvkit/tensor-core';

/** The uncompressed reference every row is compared with. */
export const denseMethod: MethodDescriptor = {
  name: 'dense',
  package: '@kvkit/tensor-core',
  description: 'the uncompressed cache (the baseline every other row is compared with)',
  params: [{ name: 'dtype', type: 'string', description: 'storage dtype of K and V', default: 'f16', values: ['f16', 'f32'] }],
  create: (p) => denseCache({ dtype: p.dtype as 'f16' | 'f32' }),
};

/** Packages that publish compression methods through `listMethods()`; each is optional. */
export const METHOD_PACKAGES = ['@kvkit/kv-quant', '@kvkit/kv-evict', '@kvkit/kv-lowrank'] as const;

/** Every method available here: the dense baseline plus whatever KV packages are installed. */
export async function availableMethods(): Promise<MethodDescriptor[]> {
  const methods = [denseMethod];
  for (const name of METHOD_PACKAGES) {
    let mod: { listMethods?: () => MethodDescriptor[] };
    try {
      mod = (await import(name)) as typeof mod;
    } catch (error) {
      if (isMissingModule(error, name)) continue;
      throw error;
    }
    if (typeof mod.listMethods === 'function') methods.push(...mod.listMethods());
  }
  return methods;
}

function isMissingModule(error: unknown, name: string): boolean {
  const e = error as { code?: string; message?: string };
  return (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && (e.message ?? '').includes(name);
}

/** One row of the benchmark before its cache factory exists: a method with resolved parameters. */
export interface ResolvedRow {
  label: string;
  method: string;
  params: MethodParams;
  descriptor: MethodDescriptor;
}

/** One row of the benchmark, ready to run. */
export interface MethodRun extends ResolvedRow {
  factory: CacheLayerFactory;
}

/**
 * Parses and checks `--methods`: rows separated by commas, each `name:key=value:…` (see
 * `kv-bench --list`). No factory is built yet: calibration may have to run first.
 */
export function resolveMethodList(list: string, methods: readonly MethodDescriptor[]): ResolvedRow[] {
  const byName = new Map(methods.map((m) => [m.name, m]));
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((spec) => {
      const { name, raw } = parseMethodSpec(spec);
      const descriptor = byName.get(name);
      if (!descriptor) {
        throw new InvalidConfigError(`unknown method "${name}"; available: ${[...byName.keys()].join(', ')} (kv-bench --list shows their parameters)`);
      }
      return { label: formatMethodSpec(name, raw), method: name, params: resolveParams(descriptor, raw), descriptor };
    });
}

/**
 * `resolveMethodList` plus each row's cache factory, built with its package's context (the
 * calibration kv-bench collected for that package, see calibration.ts).
 */
export function parseMethodList(list: string, methods: readonly MethodDescriptor[], contexts: ReadonlyMap<string, MethodContext> = new Map()): MethodRun[] {
  return resolveMethodList(list, methods).map((row) => ({ ...row, factory: row.descriptor.create(row.params, contexts.get(row.descriptor.package) ?? {}) }));
}

/** `kv-bench --list`: every method, its parameters with types/defaults/allowed values, and examples. */
export function describeMethods(methods: readonly MethodDescriptor[]): string {
  const lines: string[] = [];
  for (const m of methods) {
    lines.push(`${m.name}  (${m.package}${m.needsCalibration ? ', calibrated on the model' : ''})`);
    lines.push(`    ${m.description}`);
    for (const p of m.params) {
      const extra = [
        p.default !== undefined ? `default ${p.default}` : 'no default',
        p.values ? `one of ${p.values.join('|')}` : undefined,
        p.min !== undefined || p.max !== undefined ? `range [${p.min ?? '-∞'}, ${p.max ?? '∞'}]` : undefined,
      ].filter(Boolean);
      lines.push(`    ${`${p.name}=<${p.type}>`.padEnd(24)} ${p.description} (${extra.join(', ')})`);
    }
  }
  lines.push('');
  lines.push('--methods takes rows separated by commas, each name:key=value:…, for example:');
  const example = methods.slice(0, 3).map((m) => formatMethodSpec(m.name, Object.fromEntries(m.params.slice(0, 1).filter((p) => p.default !== undefined).map((p) => [p.name, p.default!]))));
  lines.push(`  kv-bench --methods "${example.join(',')}"`);
  return lines.join('\n');
}
