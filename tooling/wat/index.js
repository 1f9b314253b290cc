// `import bytes from './kernels.wat'` in a package's source: the text is compiled with wabt (SIMD
// enabled) at build or test time and the module's bytes are inlined as base64, so the published
// bundle carries its WebAssembly and loads it with no file or network access, in Node and browsers.
import { readFile } from 'node:fs/promises';
import wabtFactory from 'wabt';

let wabt;

/**
 * A multiply-add written `(f64x2.relaxed_madd (local.get $x) (local.get $y) (local.get $acc))` (or
 * f32x4): the fused variant keeps it (one rounding where the engine fuses), the plain one computes
 * it as `acc + x·y` with two roundings, the order tensor-core's JavaScript loops use.
 */
const RELAXED_MADD = /\((f64x2|f32x4)\.relaxed_madd \(local\.get (\$\w+)\) \(local\.get (\$\w+)\) \(local\.get (\$\w+)\)\)/g;

function compileText(wabt, path, text, relaxed) {
  // The plain variant is parsed without relaxed SIMD, so a relaxed instruction the rewrite missed fails the build.
  const module = wabt.parseWat(path, text, { simd: true, relaxed_simd: relaxed });
  try {
    module.validate();
    return Uint8Array.from(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

/**
 * The module of a .wat file, plain and (where its text has relaxed multiply-adds) fused: `plain`
 * computes each `f64x2.relaxed_madd` as a multiply then an add, `fused` (null without any) keeps
 * them, for engines with relaxed SIMD. A syntax or validation error names the file.
 */
export async function compileWatVariants(path) {
  wabt ??= await wabtFactory();
  const text = await readFile(path, 'utf8');
  const plainText = text.replace(RELAXED_MADD, '($1.add (local.get $4) ($1.mul (local.get $2) (local.get $3)))');
  return { plain: compileText(wabt, path, plainText, false), fused: plainText === text ? null : compileText(wabt, path, text, true) };
}

/** The bytes of the (plain) WebAssembly module in a .wat file. */
export async function compileWat(path) {
  return (await compileWatVariants(path)).plain;
}

/**
 * An ES module whose default export is the plain module's bytes (a Uint8Array) and whose `fused`
 * export is the fused variant's, or null.
 */
export async function watModuleCode(path) {
  const { plain, fused } = await compileWatVariants(path);
  const bytes = (module) => (module ? `Uint8Array.from(atob(${JSON.stringify(Buffer.from(module).toString('base64'))}), (c) => c.charCodeAt(0))` : 'null');
  return `export default ${bytes(plain)};\nexport const fused = ${bytes(fused)};\n`;
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
