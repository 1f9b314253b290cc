import { type KernelImpl, type KernelName, registerKernel } from '../../kernel-registry.js';
import type { WebGpuBackend } from '../backend.js';
import { assignInto, castTensor, concatTensors, contiguousCopy, fillTensor } from './layout.js';

type Impl<K extends KernelName> = KernelImpl<K, WebGpuBackend>;

// Module-level constants: registering twice registers the same functions, which is a no-op.
const contiguous: Impl<'contiguous'> = (b, [x]) => contiguousCopy(b, x);
const cast: Impl<'cast'> = (b, [x], { dtype }) => castTensor(b, x, dtype);
const concat: Impl<'concat'> = (b, inputs, { axis }) => concatTensors(b, inputs, axis);
const assign: Impl<'assign'> = (b, [target, source]) => assignInto(b, target, source);
const fill: Impl<'fill'> = (b, _inputs, { shape, dtype, value }) => fillTensor(b, shape, dtype, value);

/** Registers every WGSL kernel of tensor-core for the 'webgpu' backend (idempotent). */
export function registerWebGpuKernels(): void {
  registerKernel('contiguous', 'webgpu', contiguous);
  registerKernel('cast', 'webgpu', cast);
  registerKernel('concat', 'webgpu', concat);
  registerKernel('assign', 'webgpu', assign);
  registerKernel('fill', 'webgpu', fill);
}
