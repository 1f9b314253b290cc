import { defineConfig } from 'tsup';

// Two outputs: the Node server and CLI, and the page's scripts — the page's own (/app.js, the form)
// and the generation worker's (/worker.js: every kvkit package inside, the CPU backend's
// WebAssembly included), each one self-contained file.
export default defineConfig([
  {
    entry: { cli: 'src/cli.ts', server: 'src/server.ts' },
    format: ['esm'],
    platform: 'node',
    target: 'es2022',
    sourcemap: true,
    clean: ['*.js', '*.js.map'],
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    entry: { app: 'src/page/app.ts', worker: 'src/page/generation-worker.ts' },
    outDir: 'dist/page',
    format: ['esm'],
    platform: 'browser',
    target: 'es2022',
    noExternal: [/.*/],
    splitting: false,
    minify: true,
    sourcemap: true,
    clean: true,
  },
]);
