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
  // CUDA C kernel sources ship inside the bundle as text (compiled by NVRTC at first use).
  loader: { '.cu': 'text', '.cuh': 'text' },
  // src/cpu/*.wat (the dense CPU loops) are compiled and inlined as bytes.
  esbuildPlugins: [watEsbuildPlugin()],
});
