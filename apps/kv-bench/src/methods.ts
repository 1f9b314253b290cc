import {
  BackendUnavailable,
  type CacheLayerFactory,
  type CacheSpec,
  createCache,
  denseMethod,
  InvalidConfigError,
  type MethodContext,
  type MethodDescriptor,
  type MethodParams,
  formatMethodSpec,
  parseMethodSpec,
  resolveParams,
  type StoreDescriptor,
} from '@kvkit/tensor-core';

/** Packages that publish methods through `listMethods()` (attention-kernels: the fused paged cache); each is optional. */
export const METHOD_PACKAGES = ['@kvkit/attention-kernels', '@kvkit/kv-quant', '@kvkit/kv-evict', '@kvkit/kv-lowrank'] as const;

interface KvPackage {
  listMethods?: () => MethodDescriptor[];
  listStores?: () => StoreDescriptor[];
}

/** The KV packages installed here (a missing one is skipped). */
async function installedPackages(): Promise<KvPackage[]> {
  const found: KvPackage[] = [];
  for (const name of METHOD_PACKAGES) {
    try {
      found.push((await import(name)) as KvPackage);
    } catch (error) {
      if (!isMissingModule(error, name)) throw error;
    }
  }
  return found;
}

/** Every method available here: the dense baseline plus whatever KV packages are installed. */
export async function availableMethods(): Promise<MethodDescriptor[]> {
  const methods = [denseMethod];
  for (const mod of await installedPackages()) if (typeof mod.listMethods === 'function') methods.push(...mod.listMethods());
  return methods;
}

/** Every storage format available here (`listStores()` of the installed packages, e.g. kv-quant's `quant`). */
export async function availableStores(): Promise<StoreDescriptor[]> {
  const stores: StoreDescriptor[] = [];
  for (const mod of await installedPackages()) if (typeof mod.listStores === 'function') stores.push(...mod.listStores());
  return stores;
}

/** Whether a method runs on a store passed in its context (`{ store }`); kv-evict's eviction methods do. */
export function takesStore(descriptor: MethodDescriptor): boolean {
  return descriptor.takesStore === true;
}

function isMissingModule(error: unknown, name: string): boolean {
  const e = error as { code?: string; message?: string };
  return (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND') && (e.message ?? '').includes(name);
}

/** The storage format of a composed row (`method+store`), with resolved parameters. */
export interface ResolvedStore {
  name: string;
  params: MethodParams;
  descriptor: StoreDescriptor;
}

/** One row of the benchmark before its cache factory exists: a method with resolved parameters. */
export interface ResolvedRow {
  label: string;
  /** The method's name, or `method+store` for a composed row (e.g. `h2o+quant`). */
  method: string;
  params: MethodParams;
  descriptor: MethodDescriptor;
  /** The store the method keeps its tokens in, when the row names one. */
  store?: ResolvedStore;
}

/** One row of the benchmark, ready to run. */
export interface MethodRun extends ResolvedRow {
  factory: CacheLayerFactory;
}

/**
 * Parses and checks `--methods`: rows separated by commas, each `name:key=value:…` (see
 * `kv-bench --list`), optionally followed by `+store:key=value:…` — an eviction method on a storage
 * format (evict + quantize: `h2o:budget=0.5+quant:bits=4`). No factory is built yet: calibration
 * may have to run first.
 */
export function resolveMethodList(list: string, methods: readonly MethodDescriptor[], stores: readonly StoreDescriptor[] = []): ResolvedRow[] {
  const byName = new Map(methods.map((m) => [m.name, m]));
  const storesByName = new Map(stores.map((s) => [s.name, s]));
  return list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((row) => {
      const [spec, ...storeSpecs] = row.split('+').map((s) => s.trim());
      const { name, raw } = parseMethodSpec(spec);
      const descriptor = byName.get(name);
      if (!descriptor) {
        throw new InvalidConfigError(`unknown method "${name}"; available: ${[...byName.keys()].join(', ')} (kv-bench --list shows their parameters)`);
      }
      const resolved: ResolvedRow = { label: formatMethodSpec(name, raw), method: name, params: resolveParams(descriptor, raw), descriptor };
      if (storeSpecs.length === 0) return resolved;
      if (storeSpecs.length > 1) throw new InvalidConfigError(`"${row}": a row takes one store after its method (method+store), got ${storeSpecs.length}`);
      const store = resolveStore(row, storeSpecs[0], storesByName);
      if (!takesStore(descriptor)) {
        const takers = methods.filter(takesStore).map((m) => m.name);
        throw new InvalidConfigError(
          `"${row}": ${name} takes no store; methods that do: ${takers.join(', ') || '(none installed)'}`,
          { method: name },
        );
      }
      return { ...resolved, label: `${resolved.label}+${formatMethodSpec(store.name, store.raw)}`, method: `${name}+${store.name}`, store: store.resolved };
    });
}

function resolveStore(row: string, spec: string, stores: ReadonlyMap<string, StoreDescriptor>): { name: string; raw: Record<string, string>; resolved: ResolvedStore } {
  const { name, raw } = parseMethodSpec(spec);
  const descriptor = stores.get(name);
  if (!descriptor) {
    throw new InvalidConfigError(`"${row}": "${name}" after + is not a store; stores: ${[...stores.keys()].join(', ') || '(none installed)'}`, { store: name });
  }
  // resolveParams reads a descriptor's name and params only; a store has the same parameter specs.
  const params = resolveParams({ ...descriptor, create: () => unreachable() }, raw);
  return { name, raw, resolved: { name, params, descriptor } };
}

function unreachable(): never {
  throw new Error('a store descriptor builds a store, not a cache');
}

/**
 * `resolveMethodList` plus each row's cache factory, built with its package's context (the
 * calibration kv-bench collected for that package, see calibration.ts) and its store.
 */
export function parseMethodList(
  list: string,
  methods: readonly MethodDescriptor[],
  contexts: ReadonlyMap<string, MethodContext> = new Map(),
  stores: readonly StoreDescriptor[] = [],
): MethodRun[] {
  return resolveMethodList(list, methods, stores).map((row) => {
    const context = contexts.get(row.descriptor.package) ?? {};
    const withStore = row.store ? { ...context, store: row.store.descriptor.create(row.store.params) } : context;
    return { ...row, factory: row.descriptor.create(row.params, withStore) };
  });
}

/** `kv-bench --list`: every method and store, their parameters with types/defaults/allowed values, and examples. */
export function describeMethods(methods: readonly MethodDescriptor[], stores: readonly StoreDescriptor[] = []): string {
  const lines: string[] = [];
  const describeParams = (params: MethodDescriptor['params']) => {
    for (const p of params) {
      const extra = [
        p.default !== undefined ? `default ${p.default}` : 'no default',
        p.values ? `one of ${p.values.join('|')}` : undefined,
        p.min !== undefined || p.max !== undefined ? `range [${p.min ?? '-∞'}, ${p.max ?? '∞'}]` : undefined,
      ].filter(Boolean);
      lines.push(`    ${`${p.name}=<${p.type}>`.padEnd(24)} ${p.description} (${extra.join(', ')})`);
    }
  };
  const storeNote = stores.length ? `, takes a store: +${stores[0].name}:…` : '';
  for (const m of methods) {
    lines.push(`${m.name}  (${m.package}${m.needsCalibration ? ', calibrated on the model' : ''}${takesStore(m) ? storeNote : ''})`);
    lines.push(`    ${m.description}`);
    describeParams(m.params);
  }
  if (stores.length) {
    lines.push('');
    lines.push('Stores (where a method marked "takes a store" keeps its tokens; add one to its row with +):');
    for (const s of stores) {
      lines.push(`${s.name}  (${s.package})`);
      lines.push(`    ${s.description}`);
      describeParams(s.params);
    }
  }
  lines.push('');
  lines.push('--methods takes rows separated by commas, each name:key=value:…, for example:');
  const example = methods.slice(0, 3).map((m) => formatMethodSpec(m.name, Object.fromEntries(m.params.slice(0, 1).filter((p) => p.default !== undefined).map((p) => [p.name, p.default!]))));
  lines.push(`  kv-bench --methods "${example.join(',')}"`);
  const taker = methods.find((m) => takesStore(m) && m.params.some((p) => p.name === 'budget'));
  if (taker && stores.length) {
    lines.push('An eviction method on a storage format (evict + quantize) is one row, method+store:');
    const storeExample = formatMethodSpec(stores[0].name, Object.fromEntries(stores[0].params.slice(0, 1).filter((p) => p.default !== undefined).map((p) => [p.name, p.default!])));
    lines.push(`  kv-bench --methods "${formatMethodSpec(taker.name, { budget: 0.5 })}+${storeExample}"`);
  }
  return lines.join('\n');
}

/**
 * The rows whose cache cannot be built for `spec` (its backend): methods that decide on the host
 * refuse an asynchronous backend (WebGPU, CUDA) when built. Building each cache once, empty, finds
 * them before any row has spent minutes running.
 */
export function rowsThatCannotRunOn(spec: CacheSpec, runs: readonly MethodRun[]): { run: MethodRun; reason: string }[] {
  return runs.flatMap((run) => {
    try {
      createCache(spec, run.factory).dispose();
      return [];
    } catch (error) {
      if (error instanceof BackendUnavailable) return [{ run, reason: error.message }];
      throw error;
    }
  });
}
