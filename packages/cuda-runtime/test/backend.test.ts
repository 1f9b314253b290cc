import {
  add,
  cast,
  contiguous,
  IndexOutOfRangeError,
  InvalidConfigError,
  matmul,
  mul,
  slice,
  tensor,
  transpose,
  zeros,
} from '@kvkit/tensor-core';
import { CudaBackend, createCudaBackend, DEVICE_CHECK, LAYOUT_BYTES, MAX_RANK, collapseViews, layoutBytes } from '@kvkit/tensor-core/cuda';
import { describe, expect, it } from 'vitest';
import { FakeRuntime } from './fake-runtime.js';

async function fakeBackend(): Promise<{ backend: CudaBackend; runtime: FakeRuntime }> {
  const runtime = new FakeRuntime();
  const backend = await createCudaBackend({ runtime: () => runtime });
  return { backend, runtime };
}

describe('KvLayout packing (the prelude struct)', () => {
  it('lays out shape[8], stride[8], offset as int64 and the rank as int32', () => {
    const bytes = layoutBytes({ shape: [3, 4], strides: [1, 3], offset: 5 });
    expect(bytes.byteLength).toBe(LAYOUT_BYTES);
    expect(LAYOUT_BYTES).toBe(144);
    const view = new DataView(bytes.buffer);
    expect([view.getBigInt64(0, true), view.getBigInt64(8, true), view.getBigInt64(16, true)]).toEqual([3n, 4n, 0n]);
    expect([view.getBigInt64(64, true), view.getBigInt64(72, true)]).toEqual([1n, 3n]);
    expect(view.getBigInt64(128, true)).toBe(5n);
    expect(view.getInt32(136, true)).toBe(2);
    expect(() => layoutBytes({ shape: new Array(MAX_RANK + 1).fill(2), strides: new Array(MAX_RANK + 1).fill(1), offset: 0 })).toThrow(InvalidConfigError);
  });

  it('collapses axes that every view walks contiguously and drops size-1 axes', () => {
    // A row-major [2, 3, 4] and a view whose last two axes are contiguous but the first is strided.
    const { shape, views } = collapseViews([2, 1, 3, 4], [
      { strides: [12, 12, 4, 1], offset: 0 },
      { strides: [40, 7, 4, 1], offset: 3 },
    ]);
    expect(shape).toEqual([2, 12]);
    expect(views[0].strides).toEqual([12, 1]);
    expect(views[1]).toEqual({ shape: [2, 12], strides: [40, 1], offset: 3 });
    // Broadcast (stride 0) axes merge with each other only.
    expect(collapseViews([5, 6], [{ strides: [0, 0], offset: 0 }, { strides: [6, 1], offset: 0 }]).shape).toEqual([30]);
    expect(collapseViews([5, 6], [{ strides: [0, 1], offset: 0 }, { strides: [6, 1], offset: 0 }]).shape).toEqual([5, 6]);
  });
});

describe('CudaBackend over a runtime (host-memory fake)', () => {
  it('uploads, downloads views at their offset, and accounts for resident bytes', async () => {
    const { backend, runtime } = await fakeBackend();
    const t = tensor([1, 2, 3, 4, 5, 6], [2, 3], { backend });
    expect(backend.bytesInUse()).toBe(24);
    const row = slice(t, [1], [2]);
    expect([...(await row.read())]).toEqual([4, 5, 6]);
    expect([...(await t.read())]).toEqual([1, 2, 3, 4, 5, 6]);
    const z = zeros([4], { backend, dtype: 'bf16' });
    expect([...(await z.read())]).toEqual([0, 0, 0, 0]);
    row.dispose();
    t.dispose();
    z.dispose();
    expect(backend.bytesInUse()).toBe(0);
    expect(runtime.liveBlocks()).toBe(1); // only the device-check flag
    backend.dispose();
    expect(runtime.disposed).toBe(true);
  });

  it('copies contiguous data with the copy engine and strided views with the strided-copy kernel', async () => {
    const { backend, runtime } = await fakeBackend();
    const t = tensor(Float32Array.from({ length: 12 }, (_, i) => i), [3, 4], { backend });
    contiguous(t).dispose();
    expect(runtime.copies.at(-1)?.bytes).toBe(48);
    expect(runtime.launches).toHaveLength(0);
    contiguous(transpose(t)).dispose();
    expect(runtime.launches.at(-1)?.kernel).toBe('kv_strided_copy_b4');
    const f16 = cast(t, 'f16');
    expect(runtime.launches.at(-1)?.kernel).toBe('kv_cast_f32_to_f16');
    f16.dispose();
    t.dispose();
  });

  it('picks vectorized elementwise kernels for dense aligned operands, strided ones otherwise', async () => {
    const { backend, runtime } = await fakeBackend();
    const a = tensor(new Float32Array(64), [8, 8], { backend });
    add(a, a).dispose();
    expect(runtime.launches.at(-1)?.kernel).toBe('kv_binary_contig_f32');
    mul(a, 2).dispose();
    expect(runtime.launches.at(-1)?.kernel).toBe('kv_binary_f32');
    add(transpose(a), a).dispose();
    expect(runtime.launches.at(-1)?.kernel).toBe('kv_binary_f32');
  });

  it('routes f16/bf16 matmuls with aligned layouts to the tensor-core kernel and the rest to SIMT', async () => {
    const { backend, runtime } = await fakeBackend();
    const a16 = zeros([64, 32], { backend, dtype: 'f16' });
    const b16 = zeros([32, 48], { backend, dtype: 'f16' });
    matmul(a16, b16).dispose();
    expect(runtime.launches.at(-1)?.kernel).toBe('kv_gemm_mma_f16_kn');
    expect(runtime.launches.at(-1)?.config.sharedBytes).toBeGreaterThan(48 * 1024);
    matmul(a16, zeros([48, 32], { backend, dtype: 'f16' }), { transposeB: true }).dispose();
    expect(runtime.launches.at(-1)?.kernel).toBe('kv_gemm_mma_f16_kk');
    matmul(zeros([32, 64], { backend, dtype: 'bf16' }), zeros([32, 48], { backend, dtype: 'bf16' }), { transposeA: true }).dispose();
    expect(runtime.launches.at(-1)?.kernel).toBe('kv_gemm_mma_bf16_mn');
    matmul(zeros([5, 7], { backend, dtype: 'f16' }), zeros([7, 3], { backend, dtype: 'f16' })).dispose(); // k = 7: not 16-byte rows
    expect(runtime.launches.at(-1)?.kernel).toBe('kv_gemm_simt_f16');
    matmul(zeros([2, 4, 8], { backend }), zeros([8, 8], { backend })).dispose();
    const last = runtime.launches.at(-1)!;
    expect(last.kernel).toBe('kv_gemm_simt_f32');
    expect(last.config.grid).toEqual([1, 1, 2]);
  });

  it('turns a device-side check into a typed error at the next read, then clears it', async () => {
    const { backend, runtime } = await fakeBackend();
    const x = tensor([1, 2, 3], [3], { backend });
    const flag = backend.deviceCheckFlag('gather');
    runtime.upload(flag, Uint32Array.of(DEVICE_CHECK.gatherIndex, 7, 1, 3));
    await expect(x.read()).rejects.toBeInstanceOf(IndexOutOfRangeError);
    expect([...(await x.read())]).toEqual([1, 2, 3]); // cleared
    backend.deviceCheckFlag('packBits');
    runtime.upload(flag, Uint32Array.of(DEVICE_CHECK.packCode, 9, 4, 3));
    await expect(backend.synchronize()).rejects.toThrow(/code 9 at position 4 does not fit in 3 bits/);
  });
});
