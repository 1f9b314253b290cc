import type { Backend } from './backend.js';
import { BackendUnavailable } from './errors.js';
import { getBackend, registeredBackends, resolveBackend } from './backend-registry.js';

/**
 * The device backends and the subpath that registers each. They are imported only when asked for,
 * so an application that runs on the CPU never loads Dawn or the CUDA driver bindings.
 */
const DEVICE_BACKENDS: Record<string, () => Promise<() => void>> = {
  webgpu: async () => (await import('./webgpu/index.js')).registerWebGpuBackend,
  cuda: async () => (await import('./cuda/index.js')).registerCudaBackend,
};

/**
 * The backend called `name` ('cpu', 'webgpu' or 'cuda'), registered (with its defaults, unless the
 * application registered it already) and initialized — what a command-line `--backend` flag needs.
 * Throws BackendUnavailable saying why when it cannot start here.
 */
export async function openBackend(name: string): Promise<Backend> {
  if (name === 'cpu') return getBackend('cpu');
  const load = DEVICE_BACKENDS[name];
  if (!load) throw new BackendUnavailable(`unknown backend "${name}"; choose cpu, webgpu or cuda`);
  if (!registeredBackends().includes(name)) {
    let register: () => void;
    try {
      register = await load();
    } catch (error) {
      throw new BackendUnavailable(`the ${name} backend could not be loaded (${(error as Error).message})`, [], { cause: error });
    }
    register();
  }
  return resolveBackend(name);
}
