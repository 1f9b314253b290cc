// `import bytes from './kernels.wat'` in a package's source: the text is compiled with wabt (SIMD
// enabled) at build or test time and the module's bytes are inlined as base64, so the published
// bundle carries its WebAssembly and loads it with no file or network access, in Node and browsers.
import { readFile } from 'node:fs/promises';
import wabtFactory from 'wabt';

let wabt;

/** The bytes of the WebAssembly module in a .wat file; a syntax or validation error names the file. */
export async function compileWat(path) {
  wabt ??= await wabtFactory();
  const text = await readFile(path, 'utf8');
  const module = wabt.parseWat(path, text, { simd: true });
  try {
    module.validate();
    return Uint8Array.from(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

/** An ES module whose default export is the compiled module's bytes (a Uint8Array). */
export async function watModuleCode(path) {
  const base64 = Buffer.from(await compileWat(path)).toString('base64');
  return `const base64 = ${JSON.stringify(base64)};\nexport default Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));\n`;
}

/** tsup/esbuild plugin: `.wat` imports become their compiled bytes. */
export function watEsbuildPlugin() {
  return {
    name: 'kvkit-wat',
    setup(build) {
      build.onLoad({ filter: /\.wat$/ }, async (args) => ({ contents: await watModuleCode(args.path), loader: 'js' }));
    },
  };
}

/** vite/vitest plugin: the same transform for tests that import the sources. */
export function watVitePlugin() {
  return {
    name: 'kvkit-wat',
    async load(id) {
      return id.endsWith('.wat') ? { code: await watModuleCode(id), map: null } : undefined;
    },
  };
}
