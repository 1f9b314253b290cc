import { InvalidConfigError } from '@kvkit/tensor-core';
import type { KernelArg } from '@kvkit/tensor-core/cuda';

/** Kernel arguments laid out the way cuLaunchKernel reads them: one buffer, one offset per argument. */
export interface PackedArgs {
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array;
}

const SCALAR_SIZE = { ptr: 8, i32: 4, u32: 4, f32: 4, i64: 8, u64: 8, f64: 8 } as const;

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}

/** Writes a 64-bit integer given as a JS number (exact up to 2^53) in little-endian order. */
export function writeInt64(view: DataView, offset: number, value: number): void {
  if (!Number.isSafeInteger(value)) throw new InvalidConfigError(`kernel argument ${value} is not a safe integer`, { value });
  const low = ((value % 2 ** 32) + 2 ** 32) % 2 ** 32;
  view.setUint32(offset, low, true);
  view.setInt32(offset + 4, Math.floor((value - low) / 2 ** 32), true);
}

function checkInteger(arg: KernelArg, index: number, min: number, max: number): void {
  const v = arg.value as number;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new InvalidConfigError(`kernel argument ${index} (${arg.type}) must be an integer in [${min}, ${max}], got ${v}`, { index, type: arg.type, value: v });
  }
}

/**
 * Packs arguments at their natural alignment (8 for pointers and 64-bit values, 4 for 32-bit ones,
 * the declared alignment for structs), so each offset points at a value of the kernel's parameter type.
 */
export function packArgs(args: readonly KernelArg[]): PackedArgs {
  const offsets = new Uint32Array(args.length);
  let size = 0;
  args.forEach((arg, i) => {
    const align = arg.type === 'bytes' ? arg.align : SCALAR_SIZE[arg.type];
    if (arg.type === 'bytes' && !(align === 1 || align === 2 || align === 4 || align === 8 || align === 16)) {
      throw new InvalidConfigError(`kernel argument ${i}: struct alignment must be 1, 2, 4, 8 or 16, got ${align}`, { index: i, align });
    }
    size = alignUp(size, align);
    offsets[i] = size;
    size += arg.type === 'bytes' ? arg.value.byteLength : SCALAR_SIZE[arg.type];
  });
  // 16-byte aligned backing store, so a struct with alignment 16 really is aligned in host memory too.
  const bytes = new Uint8Array(new ArrayBuffer(alignUp(Math.max(size, 1), 16)));
  const view = new DataView(bytes.buffer);
  args.forEach((arg, i) => {
    const at = offsets[i];
    switch (arg.type) {
      case 'ptr':
        checkInteger(arg, i, 0, Number.MAX_SAFE_INTEGER);
        writeInt64(view, at, arg.value);
        break;
      case 'i64':
        checkInteger(arg, i, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
        writeInt64(view, at, arg.value);
        break;
      case 'u64':
        checkInteger(arg, i, 0, Number.MAX_SAFE_INTEGER);
        writeInt64(view, at, arg.value);
        break;
      case 'i32':
        checkInteger(arg, i, -(2 ** 31), 2 ** 31 - 1);
        view.setInt32(at, arg.value, true);
        break;
      case 'u32':
        checkInteger(arg, i, 0, 2 ** 32 - 1);
        view.setUint32(at, arg.value, true);
        break;
      case 'f32':
        view.setFloat32(at, arg.value, true);
        break;
      case 'f64':
        view.setFloat64(at, arg.value, true);
        break;
      case 'bytes':
        bytes.set(arg.value, at);
        break;
      default:
        throw new InvalidConfigError(`kernel argument ${i} has an unknown type ${JSON.stringify((arg as { type: unknown }).type)}`, { index: i });
    }
  });
  return { bytes, offsets };
}
