import { afterAll, describe, expect, it } from 'vitest';
import {
  type Tensor, BackendUnavailable, add, attention, gather, getBackend, matmul, packBits, registerKernel, resolveBackend, runKernel, scatter,
  tensor, transpose, unary, zeros,
} from '../../src/index.js';
import { assertClose, withSeed } from '../../src/testing/index.js';
import { WebGpuBackend, createWebGpuBackend, registerWebGpuBackend, runMap } from '../../src/webgpu/index.js';
import { openWebGpuForTests } from '../../src/testing/index.js';

declare module '../../src/kernel-registry.js' {
  interface KernelSignatures {
    testScaledAdd: { inputs: [Tensor, Tensor]; attrs: { alpha: number }; output: Tensor };
    testRowSum: { inputs: [Tensor]; attrs: Record<string, never>; output: Tensor };
  }
}

const gpu = await openWebGpuForTests('tensor-core');

describe.skipIf(!gpu)('webgpu backend (Node + Dawn)', () => {
  const backend = gpu as WebGpuBackend;
  afterAll(() => backend.dispose());

  it('registers as "webgpu" above the CPU, and reports what to install when no adapter exists', async () => {
    registerWebGpuBackend();
    const resolved = await resolveBackend();
    expect(resolved).toBeInstanceOf(WebGpuBackend);
    expect(resolved.name).toBe('webgpu');
    registerWebGpuBackend({ gpu: { requestAdapter: async () => null } as unknown as GPU }); // disposes the first one
    const error = await resolveBackend('webgpu').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendUnavailable);
    expect((error as BackendUnavailable).message).toMatch(/no GPU adapter found.*npm install webgpu/s);
    expect((await resolveBackend(['webgpu', 'cpu'])).name).toBe('cpu');
  });

  it('refuses a tensor larger than one device buffer may hold, before allocating anything', async () => {
    const before = backend.bytesInUse();
    expect(() => zeros([backend.maxBufferBytes / 4 + 1], { backend })).toThrow(expect.objectContaining({ code: 'OUT_OF_MEMORY' }));
    const small = await createWebGpuBackend({ device: backend.device, maxBufferBytes: 4096 });
    try {
      expect(() => tensor(new Float32Array(1025), [1025], { backend: small })).toThrow(/needs 4100 bytes.*maxStorageBufferBindingSize/);
      const x = tensor(new Float32Array(600), [600], { backend: small });
      expect(() => matmul(x.view([600, 1], [1, 1], 0), x.view([1, 600], [600, 1], 0))).toThrow(expect.objectContaining({ code: 'OUT_OF_MEMORY' }));
      expect(small.bytesInUse()).toBe(2400);
    } finally {
      small.dispose();
    }
    expect(backend.device.lost).toBeInstanceOf(Promise); // the shared device survives the small backend
    expect(backend.bytesInUse()).toBe(before);
  });

  it('turns a lost device into DeviceLostError for pending and later work, instead of hanging', async () => {
    const doomed = await createWebGpuBackend();
    const t = tensor([1, 2, 3], [3], { backend: doomed });
    const pending = add(t, t).read();
    doomed.device.destroy();
    await expect(pending).rejects.toMatchObject({ code: 'DEVICE_LOST' });
    expect(doomed.isLost).toBe(true);
    expect(() => tensor([1], [1], { backend: doomed })).toThrow(expect.objectContaining({ code: 'DEVICE_LOST' }));
    await expect(doomed.synchronize()).rejects.toMatchObject({ code: 'DEVICE_LOST' });
    doomed.dispose();
  });

  it('reports bad input that only a kernel can see (indices, codes) at the next read, with typed errors', async () => {
    const x = tensor([1, 2, 3, 4], [4], { backend });
    const bad = gather(x, tensor([1, 7], [2], { dtype: 'i32', backend }));
    await expect(bad.read()).rejects.toMatchObject({ code: 'INDEX_OUT_OF_RANGE' });
    expect(Array.from(await gather(x, tensor([3, 0], [2], { dtype: 'i32', backend })).read())).toEqual([4, 1]); // reported once
    scatter(x, tensor([-1], [1], { dtype: 'i32', backend }), tensor([9], [1], { backend }));
    await expect(backend.synchronize()).rejects.toMatchObject({ code: 'INDEX_OUT_OF_RANGE' });
    packBits(tensor([1, 5], [2], { dtype: 'u8', backend }), 2);
    await expect(backend.synchronize()).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    await backend.synchronize();
  });

  it('rejects unsupported dtypes, mismatched host arrays and mixed backends with typed errors', () => {
    const ints = tensor([1, 2, 3, 4], [2, 2], { dtype: 'i32', backend });
    expect(() => matmul(ints, ints)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
    expect(() => unary('exp', ints)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
    expect(() => runKernel('binary', [ints, ints], { op: 'div', shape: [2, 2] })).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_DTYPE' }));
    expect(() => backend.upload('i32', new Float32Array(2))).toThrow(expect.objectContaining({ code: 'DTYPE_MISMATCH' }));
    expect(() => add(tensor([1], [1], { backend: getBackend('cpu') }), tensor([1], [1], { backend }))).toThrow(expect.objectContaining({ code: 'BACKEND_MISMATCH' }));
    expect(() => backend.program('test:bad-atomic', () => ({ bindings: [{ name: 'x', dtype: 'f32', access: 'atomic' }], code: '' }))).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });

  it('reports an invalid WGSL program at the next synchronize', async () => {
    const program = backend.program('test:broken-wgsl', () => ({ bindings: [], code: '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }' }));
    backend.dispatch(program, [], {}, [1]);
    await expect(backend.synchronize()).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/test:broken-wgsl/) });
  });

  it('reuses pooled buffers across steps (zero-filled on reuse) and counts live bytes honestly', async () => {
    const baseline = backend.bytesInUse();
    const step = async () => {
      const x = tensor(new Float32Array(3000).fill(2), [3000], { backend });
      const z = zeros([3000], { backend });
      const y = add(x, z);
      const values = await y.read();
      x.dispose();
      z.dispose();
      y.dispose();
      return values;
    };
    await step();
    const created = backend.memoryStats().pool.created;
    for (let i = 0; i < 5; i++) expect((await step()).every((v) => v === 2)).toBe(true);
    const stats = backend.memoryStats();
    expect(stats.pool.created).toBe(created);
    expect(stats.pool.reused).toBeGreaterThanOrEqual(15);
    expect(backend.bytesInUse()).toBe(baseline);
    const live = zeros([1000], { backend, dtype: 'f16' });
    expect(backend.bytesInUse()).toBe(baseline + 2000);
    expect(backend.memoryStats().liveBufferBytes).toBeGreaterThanOrEqual(backend.memoryStats().liveBytes);
    live.dispose();
  });

  it('serves every shape of a rank from one pipeline, batches dispatches and times them on the GPU', async () => {
    const views = [[2, 3, 4], [5, 2, 3], [3, 6, 2]].map((shape) => transpose(zeros(shape, { backend }), [2, 0, 1]));
    await add(views[0], views[0]).read();
    const pipelines = backend.pipelineStats().pipelines;
    for (const view of views.slice(1)) await add(view, view).read();
    expect(backend.pipelineStats().pipelines).toBe(pipelines);
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { backend });
    let y = x;
    const timing = await backend.timeGpu(() => {
      for (let i = 0; i < 50; i++) y = add(y, x);
    });
    expect(Array.from(await y.read())).toEqual([51, 102, 153, 204, 255, 306]);
    expect(timing.wallMs).toBeGreaterThan(0);
    if (backend.features.has('timestamp-query')) expect(timing.gpuMs).toBeGreaterThan(0);
    else expect(timing.gpuMs).toBeUndefined();
  });

  it('lets other packages add WGSL kernels: the elementwise template and a custom program', () =>
    withSeed(async (rng) => {
      registerKernel<'testScaledAdd', WebGpuBackend>('testScaledAdd', 'webgpu', (b, [x, y], { alpha }) =>
        runMap(b, {
          key: 'testScaledAdd',
          shape: x.shape,
          operands: [
            { name: 'x', tensor: x },
            { name: 'y', tensor: y },
          ],
          uniforms: { fields: [{ name: 'alpha', type: 'f32' }], values: { alpha } },
          dtype: x.dtype,
          value: 'fn value(i: u32) -> f32 { return x_load(x_index(i)) + u_alpha() * y_load(y_index(i)); }',
        }),
      );
      registerKernel<'testRowSum', WebGpuBackend>('testRowSum', 'webgpu', (b, [x]) => {
        const [rows, cols] = x.shape;
        const out = b.empty([rows], 'f32');
        const program = b.program(`testRowSum:${x.dtype}`, () => ({
          bindings: [
            { name: 'x', dtype: x.dtype, access: 'read' },
            { name: 'out', dtype: 'f32', access: 'write' },
          ],
          uniforms: ['rows', 'cols', 'offset', 'row_stride', 'col_stride'].map((name) => ({ name, type: 'u32' as const })),
          code: `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let r = id.x;
  if (r >= u_rows()) { return; }
  var s = 0.0;
  for (var c = 0u; c < u_cols(); c++) { s += x_load(u_offset() + r * u_row_stride() + c * u_col_stride()); }
  out_store(r, s);
}`,
        }));
        b.dispatch(program, [x, out], { rows, cols, offset: x.offset, row_stride: x.strides[0], col_stride: x.strides[1] }, [Math.ceil(rows / 64)]);
        return out;
      });
      const a = Array.from({ length: 70 }, () => rng.normal());
      const c = Array.from({ length: 70 }, () => rng.normal());
      const x = tensor(a, [7, 10], { backend, dtype: 'f16' });
      const y = tensor(c, [7, 10], { backend, dtype: 'f16' });
      const xs = await x.readFloat32();
      const ys = await y.readFloat32();
      const expected = Array.from(xs, (v, i) => v + 0.5 * ys[i]);
      assertClose(await runKernel('testScaledAdd', [x, y], { alpha: 0.5 }).readFloat32(), expected, 2e-3, 'scaledAdd f16');
      const transposed = x.view([10, 7], [1, 10], 0);
      const sums = Array.from({ length: 10 }, (_, r) => Array.from({ length: 7 }, (_, k) => xs[k * 10 + r]).reduce((p, q) => p + q, 0));
      assertClose(await runKernel('testRowSum', [transposed], {}).readFloat32(), sums, 1e-6, 'rowSum of a transposed f16 view');
    }));

  it('computes the reference attention of a decode step over a long cache in one batch', () =>
    withSeed(async (rng) => {
      const [q, k, v] = [[8, 1, 32], [2, 700, 32], [2, 700, 32]].map((shape) => {
        const values = Array.from({ length: shape.reduce((p, s) => p * s) }, () => rng.normal());
        return [tensor(values, shape), tensor(values, shape, { backend })];
      });
      const expected = attention(q[0], k[0], v[0]).output.readFloat32Sync();
      assertClose(await attention(q[1], k[1], v[1]).output.readFloat32(), expected, 1e-5, 'decode attention');
    }));
});
