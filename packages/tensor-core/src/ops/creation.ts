import type { Backend } from '../backend.js';
import { defaultBackend, getBackend } from '../backend-registry.js';
import { allocateHostArray, assertDType, type DType, type HostArray, hostArrayMatches, inferHostDType, integerRange } from '../dtype.js';
import { InvalidConfigError, ShapeMismatchError } from '../errors.js';
import { numberToBf16Bits, numberToF16Bits } from '../float16.js';
import { runKernel } from '../kernel-registry.js';
import type { Rng } from '../rng.js';
import { assertValidShape, formatShape, type Shape, sizeOf } from '../shape.js';
import { SharedStorage, Tensor } from '../tensor.js';

export interface CreateOptions {
  dtype?: DType;
  /** A backend instance or the name of an initialized one; default: `defaultBackend()`. */
  backend?: Backend | string;
}

declare module '../kernel-registry.js' {
  interface KernelSignatures {
    fill: { inputs: []; attrs: { shape: Shape; dtype: DType; value: number }; output: Tensor };
  }
}

export function backendOf(option: Backend | string | undefined): Backend {
  if (option === undefined) return defaultBackend();
  return typeof option === 'string' ? getBackend(option) : option;
}

/** Encodes plain numbers into `dtype`'s host representation, refusing values the dtype cannot hold. */
export function encodeNumbers(values: ArrayLike<number>, dtype: DType, where: string): HostArray {
  const out = allocateHostArray(dtype, values.length);
  if (dtype === 'f16' || dtype === 'bf16') {
    const encodeOne = dtype === 'f16' ? numberToF16Bits : numberToBf16Bits;
    for (let i = 0; i < values.length; i++) out[i] = encodeOne(values[i]);
    return out;
  }
  const range = integerRange(dtype);
  if (range) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isInteger(v) || v < range.min || v > range.max) {
        throw new InvalidConfigError(`${where}: value ${v} at index ${i} is not a valid ${dtype} (integers ${range.min}..${range.max})`, {
          index: i,
          value: v,
        });
      }
    }
  }
  out.set(values as ArrayLike<number>);
  return out;
}

/**
 * A tensor from host data: plain numbers (encoded into `dtype`, default f32) or a typed array that
 * already holds `dtype`'s representation (f16/bf16 as Uint16Array bit patterns). Shape defaults to 1-D.
 */
export function tensor(data: ArrayLike<number> | HostArray, shape?: Shape, options: CreateOptions = {}): Tensor {
  const dtype = assertDType(options.dtype ?? inferHostDType(data), 'tensor');
  const resolvedShape = shape ?? [data.length];
  assertValidShape(resolvedShape, 'tensor');
  if (sizeOf(resolvedShape) !== data.length) {
    throw new ShapeMismatchError(`tensor: ${data.length} values do not fill shape ${formatShape(resolvedShape)}`, {
      length: data.length,
      shape: resolvedShape,
    });
  }
  const backend = backendOf(options.backend);
  // A typed array already in the dtype's representation is taken as is (f16/bf16: bit patterns).
  const raw = ArrayBuffer.isView(data) && hostArrayMatches(dtype, data as HostArray) ? (data as HostArray) : encodeNumbers(data, dtype, 'tensor');
  return new Tensor(new SharedStorage(backend, backend.upload(dtype, raw)), resolvedShape, dtype);
}

export function scalar(value: number, options: CreateOptions = {}): Tensor {
  return tensor([value], [], options);
}

export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  assertValidShape(shape, 'zeros');
  const dtype = assertDType(options.dtype ?? 'f32', 'zeros');
  const backend = backendOf(options.backend);
  return new Tensor(new SharedStorage(backend, backend.allocate(dtype, sizeOf(shape))), shape, dtype);
}

export function full(shape: Shape, value: number, options: CreateOptions = {}): Tensor {
  assertValidShape(shape, 'full');
  const dtype = assertDType(options.dtype ?? 'f32', 'full');
  encodeNumbers([value], dtype, 'full');
  return runKernel('fill', [], { shape, dtype, value }, backendOf(options.backend));
}

export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** `[start, start + step, ...)` up to `stop` (exclusive). */
export function arange(start: number, stop: number, step = 1, options: CreateOptions = {}): Tensor {
  if (step === 0 || !Number.isFinite(step)) throw new InvalidConfigError(`arange: step must be finite and non-zero, got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return tensor(values, [n], { dtype: options.dtype ?? 'i32', backend: options.backend });
}

/** Normal(mean, std) samples from `rng`. */
export function randomNormal(shape: Shape, rng: Rng, options: CreateOptions & { mean?: number; std?: number } = {}): Tensor {
  assertValidShape(shape, 'randomNormal');
  const { mean = 0, std = 1 } = options;
  const values = new Float64Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = mean + std * rng.normal();
  return tensor(values, shape, { dtype: options.dtype ?? 'f32', backend: options.backend });
}

/** Uniform samples in [low, high) from `rng`. */
export function randomUniform(shape: Shape, rng: Rng, options: CreateOptions & { low?: number; high?: number } = {}): Tensor {
  assertValidShape(shape, 'randomUniform');
  const { low = 0, high = 1 } = options;
  const values = new Float64Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = low + (high - low) * rng.uniform();
  return tensor(values, shape, { dtype: options.dtype ?? 'f32', backend: options.backend });
}

/** Uniform random integers in [low, high) as `dtype` (default i32). */
export function randomInt(shape: Shape, low: number, high: number, rng: Rng, options: CreateOptions = {}): Tensor {
  assertValidShape(shape, 'randomInt');
  const values = new Float64Array(sizeOf(shape));
  for (let i = 0; i < values.length; i++) values[i] = low + rng.int(high - low);
  return tensor(values, shape, { dtype: options.dtype ?? 'i32', backend: options.backend });
}

/** A copy of `t` on another backend (async: it may read back from a device). */
export async function toBackend(t: Tensor, backend: Backend | string): Promise<Tensor> {
  const target = typeof backend === 'string' ? getBackend(backend) : backend;
  const raw = await t.read();
  return new Tensor(new SharedStorage(target, target.upload(t.dtype, raw)), t.shape, t.dtype);
}
