import { InvalidConfigError, type Tensor } from '@kvkit/tensor-core';
import type { TensorBindingSpec } from '@kvkit/tensor-core/webgpu';

/**
 * Float rows (keys or values: a token's channels, contiguous) read as 16-byte words. The tensor is
 * bound as `array<vec4<u32>>` whatever its float dtype, so one load brings 8 f16/bf16 channels or 4
 * f32 ones; the generated WGSL decodes them in registers:
 *
 * - `NAME_elem(e) -> f32`: element e of the buffer (any alignment; what per-key statistics read);
 * - `NAME_oct(row, o) -> mat2x4<f32>`: channels 8o … 8o+7 of the row starting at element `row`
 *   (zeros past the row's `dim` channels). When every row starts on a 16-byte boundary and holds a
 *   multiple of 8 channels ("aligned"), that is one 16-byte load for f16/bf16 and two for f32;
 *   otherwise eight element reads.
 */
export function wordRowsBinding(name: string): TensorBindingSpec {
  return { name, dtype: 'u32', access: 'read', vec4: true };
}

const ELEMENTS_PER_WORD4: Partial<Record<Tensor['dtype'], number>> = { f32: 4, f16: 8, bf16: 8 };

/**
 * Whether the rows of `t` (channels along its last axis) can be read 16 bytes at a time: a float
 * dtype, unit channel stride, a multiple of 8 channels, and the offset and every outer stride on a
 * 16-byte boundary (so every row starts on one).
 */
export function rowsAligned(t: Tensor): boolean {
  const perWord4 = ELEMENTS_PER_WORD4[t.dtype];
  if (perWord4 === undefined) return false;
  const last = t.rank - 1;
  if (t.shape[last] % 8 !== 0 || (t.shape[last] > 1 && t.strides[last] !== 1)) return false;
  return t.offset % perWord4 === 0 && t.strides.slice(0, last).every((s) => s % perWord4 === 0);
}

/** WGSL expression decoding element `e` of the words `name` holding `dtype`. */
function elementExpr(name: string, dtype: Tensor['dtype']): string {
  switch (dtype) {
    case 'f32':
      return `bitcast<f32>(${name}[e >> 2u][e & 3u])`;
    case 'f16':
      return `unpack2x16float(${name}[e >> 3u][(e >> 1u) & 3u])[e & 1u]`;
    case 'bf16':
      return `bitcast<f32>(select(${name}[e >> 3u][(e >> 1u) & 3u] << 16u, ${name}[e >> 3u][(e >> 1u) & 3u] & 0xffff0000u, (e & 1u) == 1u))`;
    default:
      throw new InvalidConfigError(`attention rows must be f32, f16 or bf16, got ${dtype}`);
  }
}

/** WGSL body returning the 8 channels of one aligned 16-byte-word read (row: an element index). */
function alignedOctBody(name: string, dtype: Tensor['dtype']): string {
  switch (dtype) {
    case 'f32':
      return `let i = (row >> 2u) + 2u * o;
  return mat2x4<f32>(bitcast<vec4<f32>>(${name}[i]), bitcast<vec4<f32>>(${name}[i + 1u]));`;
    case 'f16':
      return `let w = ${name}[(row >> 3u) + o];
  return mat2x4<f32>(vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)), vec4<f32>(unpack2x16float(w.z), unpack2x16float(w.w)));`;
    default: {
      // bf16: the low half of each word is the even channel; a bf16 is the top half of an f32.
      const lo = 'w << vec4<u32>(16u)';
      const hi = 'w & vec4<u32>(0xffff0000u)';
      return `let w = ${name}[(row >> 3u) + o];
  let lo = ${lo};
  let hi = ${hi};
  return mat2x4<f32>(bitcast<vec4<f32>>(vec4<u32>(lo.x, hi.x, lo.y, hi.y)), bitcast<vec4<f32>>(vec4<u32>(lo.z, hi.z, lo.w, hi.w)));`;
    }
  }
}

/**
 * WGSL statements (inside a function with a parameter `o`) building `x`, channels 8o … 8o+7 read
 * one by one by `read(c)` (zeros past `dim`), then returning it.
 */
export function octByElements(read: (c: string) => string, dim: string): string {
  return `var x = mat2x4<f32>();
  for (var i = 0u; i < 8u; i = i + 1u) {
    let c = 8u * o + i;
    if (c < ${dim}) { x[i / 4u][i % 4u] = ${read('c')}; }
  }
  return x;`;
}

/**
 * `NAME_elem` and `NAME_oct` for the words bound as `name` (see `wordRowsBinding`) holding `dtype`
 * rows of `dim` channels (a WGSL expression, e.g. `u_d()`); `aligned` from `rowsAligned`.
 */
export function wordRowReader(name: string, dtype: Tensor['dtype'], dim: string, aligned: boolean): string {
  const elem = `fn ${name}_elem(e: u32) -> f32 { return ${elementExpr(name, dtype)}; }`;
  const oct = aligned ? alignedOctBody(name, dtype) : octByElements((c) => `${name}_elem(row + ${c})`, dim);
  return `${elem}
fn ${name}_oct(row: u32, o: u32) -> mat2x4<f32> {
  ${oct}
}`;
}

/**
 * The split-K body's reads of one operand (`prefix` key or value) from word rows bound as `name`:
 * `PREFIX_row(kvh, j)` is the element where token j of KV row kvh starts (`row`, a WGSL
 * expression in kvh and j), `PREFIX_oct(kvh, row, o)` its channels 8o … 8o+7 and
 * `PREFIX_at(kvh, j, c)` one channel (for the statistics pass).
 */
export function wordRowSource(prefix: 'key' | 'value', name: string, dtype: Tensor['dtype'], dim: string, aligned: boolean, row: string): string {
  return `${wordRowReader(name, dtype, dim, aligned)}
fn ${prefix}_row(kvh: u32, j: u32) -> u32 { return ${row}; }
fn ${prefix}_oct(kvh: u32, row: u32, o: u32) -> mat2x4<f32> { return ${name}_oct(row, o); }
fn ${prefix}_at(kvh: u32, j: u32, c: u32) -> f32 { return ${name}_elem(${prefix}_row(kvh, j) + c); }`;
}
