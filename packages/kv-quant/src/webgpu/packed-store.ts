import type { UniformField } from '@kvkit/tensor-core/webgpu';

/**
 * An output bound as `atomic` u32 words whose element width — 8, 16 or 32 bits — is the uniform
 * `NAME_width`, so one pipeline writes u8 or i32 indices, f16 or f32 values. A sub-word element
 * is cleared, then set, with two atomics: they commute with other threads' updates of the same
 * word (disjoint bits), and the buffer need not start zeroed. Generates `NAME_put(e, bits)` and
 * `NAME_get(e)` (element e's bits, zero-extended).
 */
export function packedStore(name: string): { code: string; uniform: UniformField } {
  return {
    uniform: { name: `${name}_width`, type: 'u32' },
    code: `fn ${name}_put(e: u32, bits: u32) {
  let width = u_${name}_width();
  if (width == 32u) {
    atomicStore(&${name}[e], bits);
    return;
  }
  let per = 32u / width;
  let mask = (1u << width) - 1u;
  let p = (e % per) * width;
  atomicAnd(&${name}[e / per], ~(mask << p));
  atomicOr(&${name}[e / per], (bits & mask) << p);
}
fn ${name}_get(e: u32) -> u32 {
  let width = u_${name}_width();
  if (width == 32u) { return atomicLoad(&${name}[e]); }
  let per = 32u / width;
  return (atomicLoad(&${name}[e / per]) >> ((e % per) * width)) & ((1u << width) - 1u);
}`,
  };
}

/** Bits per element of a dtype written through `packedStore`. */
export function storeWidth(dtype: 'u8' | 'f16' | 'f32' | 'i32'): number {
  return dtype === 'u8' ? 8 : dtype === 'f16' ? 16 : 32;
}
