import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BackendUnavailable, openBackend } from '../src/index.js';
import { createWebGpuBackend } from '../src/webgpu/index.js';
import { prepareSwiftShaderEnvironment, webgpuRequired } from '../src/testing/index.js';

describe('openBackend: a backend by name, registered on demand', () => {
  it('cpu is always there; an unknown name is a typed error naming the choices', async () => {
    expect((await openBackend('cpu')).name).toBe('cpu');
    await expect(openBackend('tpu')).rejects.toThrow(BackendUnavailable);
    await expect(openBackend('tpu')).rejects.toThrow(/choose cpu, webgpu or cuda/);
  });

  it('webgpu registers and initializes from its subpath (SwiftShader here), or says why not', async () => {
    prepareSwiftShaderEnvironment();
    const opened = await openBackend('webgpu').catch((error: unknown) => error);
    if (opened instanceof BackendUnavailable && !webgpuRequired) return; // no adapter on this machine: the reason is the error
    expect(opened).toMatchObject({ name: 'webgpu' });
    // A second call returns the same initialized backend instead of registering again.
    expect(await openBackend('webgpu')).toBe(opened);
  });

  it('cuda without an NVIDIA driver is BackendUnavailable with the install hint, never a crash', async () => {
    const opened = await openBackend('cuda').catch((error: unknown) => error);
    if (opened instanceof BackendUnavailable) expect(opened.message).toMatch(/cuda/i);
    else expect(opened).toMatchObject({ name: 'cuda' });
  });
});

describe('KVKIT_DAWN_NODE: Dawn loaded from a file instead of the webgpu package', () => {
  const withEnv = async <T>(value: string, body: () => Promise<T>): Promise<T> => {
    const before = process.env.KVKIT_DAWN_NODE;
    process.env.KVKIT_DAWN_NODE = value;
    try {
      return await body();
    } finally {
      if (before === undefined) delete process.env.KVKIT_DAWN_NODE;
      else process.env.KVKIT_DAWN_NODE = before;
    }
  };

  it('a file that is not Dawn is BackendUnavailable naming the variable', async () => {
    await expect(withEnv('/nonexistent/dawn.node', () => createWebGpuBackend())).rejects.toThrow(/KVKIT_DAWN_NODE=\/nonexistent\/dawn.node/);
  });

  it("the webgpu package's own dawn.node gives a working backend", async () => {
    prepareSwiftShaderEnvironment();
    const dawn = join(dirname(createRequire(import.meta.url).resolve('webgpu')), 'dist', `${process.platform}-${process.arch}`, 'dawn.node');
    expect(existsSync(dawn), dawn).toBe(true);
    const backend = await withEnv(dawn, () => createWebGpuBackend({ dawnFlags: ['enable-dawn-features=disable_workgroup_init'] })).catch((e: unknown) => e);
    if (backend instanceof BackendUnavailable && /no GPU adapter/.test(backend.message) && !webgpuRequired) return;
    expect(backend).toMatchObject({ name: 'webgpu' });
    (backend as { dispose(): void }).dispose();
  });
});
