import type { DType } from '../../dtype.js';
import { InvalidConfigError } from '../../errors.js';
import { computeType, decodeExpr, elementsPerWord, encodeExpr } from './dtypes.js';

/**
 * A storage buffer a program binds, and how the kernel touches it:
 *
 * - `read`: read-only. Generates `NAME_load(e) -> T` (decoded compute-type value of element `e`)
 *   and `NAME_raw(e) -> u32` (its bit pattern).
 * - `write`: per-element stores. Generates `NAME_store(e, v)`, `NAME_store_raw(e, bits)` plus the
 *   two loads. Sub-word dtypes are written with atomic read-modify-write on their word, so
 *   invocations may write neighbouring elements concurrently (each element by one invocation).
 * - `words`: whole 32-bit words, for kernels that pack sub-word elements themselves.
 *   Generates `NAME_store_word(w, bits)`.
 * - `atomic`: 32-bit dtypes only (i32, u32): `array<atomic<T>>` for the WGSL atomic built-ins.
 *
 * `e` is an element index into the whole buffer (tensor offset included), `w` a word index.
 */
export interface TensorBindingSpec {
  /** WGSL identifier (also the prefix of the generated functions). */
  name: string;
  dtype: DType;
  access: 'read' | 'write' | 'words' | 'atomic';
  /**
   * 32-bit dtypes (`read`/`write`): declare the buffer as `array<vec4<T>>` and add `NAME_load4(i)`
   * (elements 4i … 4i+3). `words`: `array<vec4<u32>>` plus `NAME_store_word4(q, bits)` (words 4q … 4q+3).
   * The buffer's size must be a multiple of 16 bytes (the backend's buffers are).
   */
  vec4?: boolean;
}

export interface BindingOptions {
  /** The device has `shader-f16`: f16 tensors are `array<f16>` (read and write). */
  nativeF16: boolean;
}

const SHIFT_BY_WIDTH: Record<number, number> = { 2: 1, 4: 2 };

/** True when this binding needs `enable f16;`. */
export function usesNativeF16(spec: TensorBindingSpec, options: BindingOptions): boolean {
  return options.nativeF16 && spec.dtype === 'f16' && (spec.access === 'read' || spec.access === 'write');
}

/** WGSL declaration of binding `index` in group 0 plus its accessor functions. */
export function bindingDeclaration(spec: TensorBindingSpec, index: number, options: BindingOptions): string {
  const { name, dtype, access } = spec;
  const ct = computeType(dtype);
  const mode = access === 'read' ? 'read' : 'read_write';
  if (access === 'atomic') {
    if (ct === 'f32' || elementsPerWord(dtype) !== 1) throw new InvalidConfigError(`binding ${name}: atomic access needs an i32 or u32 tensor, got ${dtype}`);
    return `@group(0) @binding(${index}) var<storage, read_write> ${name}: array<atomic<${ct}>>;`;
  }
  if (access === 'words') {
    if (spec.vec4) {
      return [
        `@group(0) @binding(${index}) var<storage, read_write> ${name}: array<vec4<u32>>;`,
        `fn ${name}_store_word(w: u32, bits: u32) { ${name}[w >> 2u][w & 3u] = bits; }`,
        `fn ${name}_store_word4(q: u32, bits: vec4<u32>) { ${name}[q] = bits; }`,
      ].join('\n');
    }
    return [
      `@group(0) @binding(${index}) var<storage, read_write> ${name}: array<u32>;`,
      `fn ${name}_store_word(w: u32, bits: u32) { ${name}[w] = bits; }`,
    ].join('\n');
  }
  if (spec.vec4 && elementsPerWord(dtype) !== 1) {
    throw new InvalidConfigError(`binding ${name}: vec4 access needs a 32-bit dtype (or access 'words'), got ${dtype}`);
  }
  if (usesNativeF16(spec, options)) {
    const lines = [
      `@group(0) @binding(${index}) var<storage, ${mode}> ${name}: array<f16>;`,
      `fn ${name}_load(e: u32) -> f32 { return f32(${name}[e]); }`,
      `fn ${name}_raw(e: u32) -> u32 { return bitcast<u32>(vec2<f16>(${name}[e], 0.0h)) & 0xffffu; }`,
    ];
    if (access === 'write') {
      lines.push(
        `fn ${name}_store_raw(e: u32, bits: u32) { ${name}[e] = bitcast<vec2<f16>>(bits & 0xffffu).x; }`,
        `fn ${name}_store(e: u32, v: f32) { ${name}_store_raw(e, f32_to_f16_bits(v)); }`,
      );
    }
    return lines.join('\n');
  }
  const perWord = elementsPerWord(dtype);
  if (perWord === 1) {
    const element = spec.vec4 ? `vec4<${ct}>` : ct;
    const at = spec.vec4 ? `${name}[e >> 2u][e & 3u]` : `${name}[e]`;
    const lines = [
      `@group(0) @binding(${index}) var<storage, ${mode}> ${name}: array<${element}>;`,
      `fn ${name}_load(e: u32) -> ${ct} { return ${at}; }`,
      `fn ${name}_raw(e: u32) -> u32 { return ${ct === 'u32' ? at : `bitcast<u32>(${at})`}; }`,
    ];
    if (spec.vec4) lines.push(`fn ${name}_load4(i: u32) -> vec4<${ct}> { return ${name}[i]; }`);
    if (access === 'write') {
      lines.push(
        `fn ${name}_store(e: u32, v: ${ct}) { ${at} = v; }`,
        `fn ${name}_store_raw(e: u32, bits: u32) { ${at} = ${ct === 'u32' ? 'bits' : `bitcast<${ct}>(bits)`}; }`,
      );
    }
    return lines.join('\n');
  }
  const shift = SHIFT_BY_WIDTH[perWord];
  const width = 32 / perWord;
  const mask = width === 16 ? '0xffffu' : '0xffu';
  const position = `((e & ${perWord - 1}u) * ${width}u)`;
  if (access === 'read') {
    return [
      `@group(0) @binding(${index}) var<storage, read> ${name}: array<u32>;`,
      `fn ${name}_raw(e: u32) -> u32 { return (${name}[e >> ${shift}u] >> ${position}) & ${mask}; }`,
      `fn ${name}_load(e: u32) -> ${ct} { return ${decodeExpr(dtype, `${name}_raw(e)`)}; }`,
    ].join('\n');
  }
  // Each element is written by one invocation; clearing then setting its bits with two atomics
  // commutes with the other invocations' updates of the same word (disjoint bits).
  return [
    `@group(0) @binding(${index}) var<storage, read_write> ${name}: array<atomic<u32>>;`,
    `fn ${name}_raw(e: u32) -> u32 { return (atomicLoad(&${name}[e >> ${shift}u]) >> ${position}) & ${mask}; }`,
    `fn ${name}_load(e: u32) -> ${ct} { return ${decodeExpr(dtype, `${name}_raw(e)`)}; }`,
    `fn ${name}_store_raw(e: u32, bits: u32) {`,
    `  let w = e >> ${shift}u;`,
    `  let p = ${position};`,
    `  atomicAnd(&${name}[w], ~(${mask} << p));`,
    `  atomicOr(&${name}[w], (bits & ${mask}) << p);`,
    `}`,
    `fn ${name}_store(e: u32, v: ${ct}) { ${name}_store_raw(e, ${encodeExpr(dtype, 'v')}); }`,
  ].join('\n');
}
