import type { Backend } from './backend.js';
import { BackendMismatchError, InvalidConfigError, KernelNotFoundError } from './errors.js';
import type { Tensor } from './tensor.js';

/**
 * The signature of every kernel: its inputs, attributes and result. Packages that add kernels
 * extend it by declaration merging:
 *
 * ```ts
 * declare module '@kvkit/tensor-core' {
 *   interface KernelSignatures {
 *     kiviDecode: { inputs: Tensor[]; attrs: KiviAttrs; output: Tensor };
 *   }
 * }
 * ```
 */
// biome-ignore lint: filled by declaration merging (see ops/*.ts)
export interface KernelSignatures {}

export type KernelName = keyof KernelSignatures & string;
type Sig<K extends KernelName> = KernelSignatures[K] extends { inputs: infer I; attrs: infer A; output: infer O }
  ? { inputs: I; attrs: A; output: O }
  : never;

export type KernelImpl<K extends KernelName, B extends Backend = Backend> = (
  backend: B,
  inputs: Sig<K>['inputs'],
  attrs: Sig<K>['attrs'],
) => Sig<K>['output'];

type AnyImpl = (backend: Backend, inputs: unknown, attrs: unknown) => unknown;
const registry = new Map<string, Map<string, AnyImpl>>();

/**
 * Registers the implementation of `kernel` on `backend`. Registering the same function again is a
 * no-op (so lazy registration is safe); a different function for the same key needs `override`.
 */
export function registerKernel<K extends KernelName, B extends Backend = Backend>(
  kernel: K,
  backend: string,
  impl: KernelImpl<K, B>,
  options: { override?: boolean } = {},
): void {
  let byBackend = registry.get(kernel);
  if (!byBackend) registry.set(kernel, (byBackend = new Map()));
  const existing = byBackend.get(backend);
  if (existing && existing !== impl && !options.override) {
    throw new InvalidConfigError(`kernel "${kernel}" is already registered for backend "${backend}"; pass { override: true } to replace it`, {
      kernel,
      backend,
    });
  }
  byBackend.set(backend, impl as AnyImpl);
}

export function hasKernel(kernel: string, backend: string): boolean {
  return registry.get(kernel)?.has(backend) ?? false;
}

/** Backends that implement `kernel`. */
export function kernelBackends(kernel: string): string[] {
  return [...(registry.get(kernel)?.keys() ?? [])];
}

/** Every registered (kernel, backend) pair, for diagnostics and parity suites. */
export function listKernels(backend?: string): string[] {
  return [...registry.entries()].filter(([, m]) => backend === undefined || m.has(backend)).map(([k]) => k);
}

/**
 * Runs `kernel` on the backend of its tensor inputs. All tensor inputs must live on one backend;
 * `backend` is required only when no input is a tensor (creation kernels).
 */
export function runKernel<K extends KernelName>(
  kernel: K,
  inputs: Sig<K>['inputs'],
  attrs: Sig<K>['attrs'],
  backend?: Backend,
): Sig<K>['output'] {
  const target = backend ?? commonBackend(kernel, inputs as unknown);
  const impl = registry.get(kernel)?.get(target.name);
  if (!impl) throw new KernelNotFoundError(kernel, target.name, kernelBackends(kernel));
  return impl(target, inputs, attrs) as Sig<K>['output'];
}

function commonBackend(kernel: string, inputs: unknown): Backend {
  let found: Backend | undefined;
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value && typeof value === 'object' && 'shared' in value && 'dtype' in value) {
      const b = (value as Tensor).backend;
      if (found && found !== b) {
        throw new BackendMismatchError(`${kernel}: inputs live on different backends ("${found.name}" and "${b.name}"); move them with toBackend()`, {
          kernel,
        });
      }
      found = b;
    }
  };
  visit(inputs);
  if (!found) throw new InvalidConfigError(`${kernel}: no tensor input and no backend given`, { kernel });
  return found;
}
