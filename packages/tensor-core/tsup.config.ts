import { watEsbuildPlugin } from '@kvkit/wat';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'testing/index': 'src/testing/index.ts',
    'webgpu/index': 'src/webgpu/index.ts',
    'cuda/index': 'src/cuda/index.ts',
  },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  treeshake: true,
  // CUDA C kernel sources ship inside the bundle as text; @kvkit/cuda-runtime loads at run time only.
  loader: { '.cu': 'text', '.cuh': 'text' },
  external: ['@kvkit/cuda-runtime'],
  // src/simd/*.wat (the dense SIMD kernels) are compiled and inlined as bytes.
  esbuildPlugins: [watEsbuildPlugin()],
});
