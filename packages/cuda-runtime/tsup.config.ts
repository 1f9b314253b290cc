import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  treeshake: true,
  // Resolved at run time, never bundled: tensor-core is a dependency, the addon is a native file.
  external: ['@kvkit/tensor-core'],
});
