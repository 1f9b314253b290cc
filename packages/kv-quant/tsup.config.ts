import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  treeshake: true,
  // CUDA C kernels and headers (src/cuda/*.cu, *.cuh) ship as text, compiled by NVRTC at run time.
  loader: { '.cu': 'text', '.cuh': 'text' },
});
