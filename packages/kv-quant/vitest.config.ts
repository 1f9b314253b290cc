import { kvkitVitestConfig } from '@kvkit/vitest-config';

export default kvkitVitestConfig({
  // CUDA C kernels are imported as text, as tsup's `.cu` loader does for the build.
  plugins: [
    {
      name: 'kvkit-cuda-source-text',
      transform(code: string, id: string) {
        return id.endsWith('.cu') || id.endsWith('.cuh') ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined;
      },
    },
  ],
});
