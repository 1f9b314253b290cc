import { describe, expect, it } from 'vitest';
import { BackendUnavailable, openBackend } from '../src/index.js';
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
