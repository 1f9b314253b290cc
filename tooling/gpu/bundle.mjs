// node tooling/gpu/bundle.mjs ENTRY.ts OUT.mjs: one self-contained ESM file for the GPU machine
// (CUDA C sources inlined as text, WebAssembly text compiled and inlined as bytes, `require`
// defined for the addon loader). Used by gpu_bundle in lib.sh.
import { build } from 'esbuild';
import { watEsbuildPlugin } from '@kvkit/wat';

const [entry, outfile] = process.argv.slice(2);
if (!entry || !outfile) throw new Error('usage: node tooling/gpu/bundle.mjs ENTRY.ts OUT.mjs');
await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  loader: { '.cu': 'text', '.cuh': 'text' },
  plugins: [watEsbuildPlugin()],
  banner: { js: "import { createRequire as __kvkitCreateRequire } from 'node:module'; const require = __kvkitCreateRequire(import.meta.url);" },
  outfile,
  logLevel: 'warning',
});
