import { watEsbuildPlugin } from '@kvkit/wat';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  treeshake: true,
  // src/wasm/*.wat (the SIMD hot loops) are compiled and inlined as bytes; CUDA C sources ship as text.
  esbuildPlugins: [watEsbuildPlugin()],
  loader: { '.cu': 'text', '.cuh': 'text' },
});
