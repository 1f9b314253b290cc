import { assertDType, type DType, type HostArray, type HostArrayOf, hostArrayMatches, inferHostDType } from '../dtype.js';
import { BackendMismatchError, DTypeMismatchError, ShapeMismatchError } from '../errors.js';
import { backendOf, type CreateOptions } from '../ops/creation.js';
import { assertValidShape, formatShape, type Shape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { CpuBackend, CpuStorage } from './cpu-backend.js';
import { readNumbers, readRaw, wrapRaw } from './host-data.js';

/**
 * Zero-copy access to CPU tensors for code that computes on the host (CPU kernels of other
 * packages, scorers, codecs). `t.readSync()` always copies; these do not when they can.
 */

function assertCpu(t: Tensor, where: string): void {
  if (!(t.storage instanceof CpuStorage)) {
    throw new BackendMismatchError(`${where}: needs a tensor on the CPU backend, got one on "${t.backend.name}" (use await tensor.read())`, {
      backend: t.backend.name,
    });
  }
}

/**
 * The tensor's elements in row-major order, in their host representation (f16/bf16 as bit
 * patterns). A contiguous tensor gives its storage itself (a subarray, no copy): writing to it
 * writes to the tensor and every view of it — what an in-place kernel wants; anyone else treats it
 * as read-only. A strided view is gathered into a fresh array.
 */
export function hostView<D extends DType>(t: Tensor<D>): HostArrayOf[D] {
  assertCpu(t, 'hostView');
  return readRaw(t) as HostArrayOf[D];
}

/**
 * The tensor's elements as f32 numbers, row-major: the storage itself for a contiguous f32 tensor
 * (read-only, as `hostView`), a decoded copy for f16/bf16, a converted copy for integer dtypes.
 */
export function hostFloat32(t: Tensor): Float32Array {
  assertCpu(t, 'hostFloat32');
  const values = readNumbers(t);
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/**
 * A CPU tensor over `data` without copying it: the tensor takes ownership of the array (writing to
 * it afterwards changes the tensor). `data` must already be in `dtype`'s host representation
 * (`HostArrayOf`: f16/bf16 as Uint16Array bit patterns); `dtype` defaults to the array's own
 * (Float32Array → f32, Int32Array → i32, …; a Uint16Array needs 'f16' or 'bf16'). Plain numbers or
 * a Float64Array go through `tensor()`, which encodes (and copies) them.
 */
export function tensorFromHost(data: HostArray, shape?: Shape, options: CreateOptions = {}): Tensor {
  const where = 'tensorFromHost';
  const dtype = assertDType(options.dtype ?? inferHostDType(data), where);
  if (!ArrayBuffer.isView(data) || !hostArrayMatches(dtype, data)) {
    throw new DTypeMismatchError(`${where}: a ${data?.constructor?.name ?? typeof data} does not hold ${dtype} data; use tensor() to encode numbers`, { dtype });
  }
  const resolved = shape ?? [data.length];
  assertValidShape(resolved, where);
  if (sizeOf(resolved) !== data.length) {
    throw new ShapeMismatchError(`${where}: ${data.length} values do not fill shape ${formatShape(resolved)}`, { length: data.length, shape: resolved });
  }
  const backend = backendOf(options.backend);
  if (!(backend instanceof CpuBackend)) {
    throw new BackendMismatchError(`${where}: wraps host memory, so the backend must be the CPU; got "${backend.name}" (use tensor() to upload)`, {
      backend: backend.name,
    });
  }
  return wrapRaw(backend, resolved, dtype, data);
}
