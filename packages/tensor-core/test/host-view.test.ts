import { describe, expect, it } from 'vitest';
import {
  type Backend,
  type DType,
  type HostArray,
  type KvkitError,
  cpuBackend,
  f32ArrayToBf16,
  f32ArrayToF16,
  hostFloat32,
  hostView,
  slice,
  tensor,
  tensorFromHost,
  transpose,
} from '../src/index.js';
import { withSeed } from '../src/testing/index.js';

/** A backend whose storage is not CPU storage (host copies behind an opaque handle). */
function elsewhereBackend(): Backend {
  return {
    name: 'elsewhere',
    synchronous: false,
    allocate: (_dtype: DType, length: number) => ({ byteLength: length * 4, data: new Float32Array(length) }),
    upload: (_dtype: DType, data: HostArray) => ({ byteLength: data.byteLength, data: data.slice() }),
    download: async (storage, _dtype, offset, length) => (storage as unknown as { data: HostArray }).data.slice(offset, offset + length),
    release: () => {},
    bytesInUse: () => 0,
    synchronize: async () => {},
    dispose: () => {},
  };
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as KvkitError).code;
  }
  return 'no error';
}

describe('host views of CPU tensors', () => {
  it('hostView gives the storage itself for a contiguous tensor and a packed copy for a strided view', () =>
    withSeed((rng) => {
      const values = Float32Array.from({ length: 24 }, () => rng.normal());
      const t = tensor(values, [2, 3, 4]);
      const view = hostView(t);
      expect(Array.from(view)).toEqual(Array.from(values));
      // no copy: a write through the view is seen by the tensor
      view[5] = 42;
      expect(t.readSync()[5]).toBe(42);

      // a contiguous slice (rows 1..2 of axis 1 of item 1) is a subarray of the same memory
      const rows = slice(t, [1, 1, 0], [2, 3, 4]);
      const rowsView = hostView(rows);
      expect(rowsView.buffer).toBe(view.buffer);
      expect(Array.from(rowsView)).toEqual(Array.from(view.subarray(16, 24)));

      // a transposed view is gathered into row-major order: element [i, j] of [4, 3] is t[1, j, i]
      const tr = transpose(slice(t, [1, 0, 0], [2, 3, 4]), [0, 2, 1]);
      const packed = hostView(tr);
      expect(packed.buffer).not.toBe(view.buffer);
      for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) expect(packed[i * 3 + j]).toBe(view[12 + j * 4 + i]);
      for (const x of [t, rows, tr]) x.dispose();
    }));

  it('hostFloat32: f32 without copy, f16/bf16 decoded, integers converted', () =>
    withSeed((rng) => {
      const values = Float32Array.from({ length: 10 }, () => rng.normal() * 4);
      const f32 = tensor(values, [10]);
      expect(hostFloat32(f32)).toBe(hostView(f32));
      const half = f32ArrayToF16(values);
      const f16 = tensor(half, [10], { dtype: 'f16' });
      const decoded = hostFloat32(f16);
      // f16 → f32 is exact: compare with the bit patterns decoded by the definition (sign, exponent, mantissa)
      half.forEach((bits, i) => {
        const e = (bits >> 10) & 0x1f;
        const m = bits & 0x3ff;
        const magnitude = e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15);
        expect(decoded[i]).toBe(bits & 0x8000 ? -magnitude : magnitude);
      });
      const brain = f32ArrayToBf16(values);
      const bf16 = tensor(brain, [10], { dtype: 'bf16' });
      const fromBf16 = hostFloat32(bf16);
      const word = new Uint32Array(1);
      const asFloat = new Float32Array(word.buffer);
      brain.forEach((bits, i) => {
        word[0] = bits << 16;
        expect(fromBf16[i]).toBe(asFloat[0]);
      });
      const ints = tensor(Int32Array.of(-3, 0, 7), [3]);
      expect(Array.from(hostFloat32(ints))).toEqual([-3, 0, 7]);
      for (const x of [f32, f16, bf16, ints]) x.dispose();
    }));

  it('tensorFromHost wraps host arrays without copying, in their own or the given dtype', () => {
    const backend = cpuBackend();
    const before = backend.bytesInUse();
    const data = Float32Array.of(1, 2, 3, 4, 5, 6);
    const t = tensorFromHost(data, [2, 3]);
    expect(t.dtype).toBe('f32');
    expect(t.shape).toEqual([2, 3]);
    expect(hostView(t)).toBe(data);
    expect(backend.bytesInUse() - before).toBe(24); // the wrapped memory is accounted for
    data[0] = -1;
    expect(t.readSync()[0]).toBe(-1);
    t.dispose();
    expect(backend.bytesInUse()).toBe(before);

    expect(tensorFromHost(Uint32Array.of(1, 2)).dtype).toBe('u32');
    expect(tensorFromHost(Int8Array.of(1, 2)).dtype).toBe('i8');
    const half = tensorFromHost(f32ArrayToF16(Float32Array.of(0.5, -2)), [2], { dtype: 'f16' });
    expect(Array.from(half.readFloat32Sync())).toEqual([0.5, -2]);
    expect(tensorFromHost(Uint16Array.of(0x3f80), [1], { dtype: 'bf16' }).readFloat32Sync()[0]).toBe(1);
  });

  it('refuses arrays that do not hold the dtype, wrong shapes, and tensors or backends off the CPU', () => {
    expect(code(() => tensorFromHost(Uint16Array.of(1, 2)))).toBe('DTYPE_MISMATCH'); // f16 or bf16? say which
    expect(code(() => tensorFromHost(Float32Array.of(1), [1], { dtype: 'i32' }))).toBe('DTYPE_MISMATCH');
    expect(code(() => tensorFromHost(new Float64Array(2) as unknown as Float32Array))).toBe('DTYPE_MISMATCH');
    expect(code(() => tensorFromHost(Float32Array.of(1, 2, 3), [2, 2]))).toBe('SHAPE_MISMATCH');
    expect(code(() => tensorFromHost(Float32Array.of(1), [1], { dtype: 'f64' as DType }))).toBe('UNSUPPORTED_DTYPE');
    const elsewhere = elsewhereBackend();
    expect(code(() => tensorFromHost(Float32Array.of(1), [1], { backend: elsewhere }))).toBe('BACKEND_MISMATCH');
    const remote = tensor([1, 2], [2], { backend: elsewhere });
    expect(code(() => hostView(remote))).toBe('BACKEND_MISMATCH');
    expect(code(() => hostFloat32(remote))).toBe('BACKEND_MISMATCH');
    const gone = tensor([1], [1]);
    gone.dispose();
    expect(code(() => hostView(gone))).toBe('DISPOSED');
  });
});
