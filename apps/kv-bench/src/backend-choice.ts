import { type Backend, BackendUnavailable, getBackend, resolveBackend } from '@kvkit/tensor-core';

/** Where each device backend lives; importing the subpath registers it. */
const BACKEND_MODULES: Record<string, { module: string; register: string }> = {
  webgpu: { module: '@kvkit/tensor-core/webgpu', register: 'registerWebGpuBackend' },
  cuda: { module: '@kvkit/tensor-core/cuda', register: 'registerCudaBackend' },
};

/** The backend named on the command line, initialized, or BackendUnavailable saying why not. */
export async function chooseBackend(name: string): Promise<Backend> {
  if (name === 'cpu') return getBackend('cpu');
  const entry = BACKEND_MODULES[name];
  if (!entry) throw new BackendUnavailable(`unknown backend "${name}"; choose cpu, webgpu or cuda`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(entry.module)) as Record<string, unknown>;
  } catch (error) {
    throw new BackendUnavailable(`the ${name} backend is not available in this build of @kvkit/tensor-core (${(error as Error).message})`, [], { cause: error });
  }
  const register = mod[entry.register];
  if (typeof register === 'function') register();
  return resolveBackend(name);
}
