import type { Backend } from '../backend.js';

/**
 * `backend` as it would look if it could not read back synchronously (as WebGPU and CUDA cannot):
 * what tests of "refused on an asynchronous backend" need on a machine without a GPU. Every method
 * is the original's; only `name` and `synchronous` differ.
 */
export function asAsynchronousBackend(backend: Backend, name = `${backend.name}-as-async`): Backend {
  return Object.create(backend, { name: { value: name }, synchronous: { value: false } }) as Backend;
}
