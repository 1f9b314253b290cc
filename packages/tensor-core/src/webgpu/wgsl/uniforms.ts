import { InvalidConfigError } from '../../errors.js';
import type { WgslScalar } from './dtypes.js';

/**
 * A kernel's scalar parameters (sizes, strides, offsets, attributes) in one uniform buffer, so one
 * pipeline serves every shape. Fields are 32-bit; arrays (shapes, strides) have a fixed length per
 * pipeline (the rank). WGSL gets accessor functions: `u_NAME()` for scalars, `u_NAME(i)` for arrays.
 */
export interface UniformField {
  name: string;
  type: WgslScalar;
  /** Array length; absent for a scalar. */
  length?: number;
}

export type UniformValues = Record<string, number | readonly number[]>;

interface PlacedField extends UniformField {
  word: number;
}

const RANGE: Record<WgslScalar, [number, number]> = { u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff], f32: [-Infinity, Infinity] };

export class UniformLayout {
  private readonly fields: PlacedField[] = [];
  /** 32-bit words the fields take (at least 4: a uniform buffer binding is never empty). */
  readonly words: number;

  constructor(fields: readonly UniformField[]) {
    let word = 0;
    const seen = new Set<string>();
    for (const field of fields) {
      if (seen.has(field.name)) throw new InvalidConfigError(`uniform field "${field.name}" is declared twice`);
      seen.add(field.name);
      this.fields.push({ ...field, word });
      word += field.length ?? 1;
    }
    this.words = Math.max(4, Math.ceil(word / 4) * 4);
  }

  /** The uniform declaration at `binding` and its accessors. */
  wgsl(binding: number): string {
    const lines = [
      `struct Uniforms { w: array<vec4<u32>, ${this.words / 4}> }`,
      `@group(0) @binding(${binding}) var<uniform> uniforms: Uniforms;`,
      `fn uniform_word(k: u32) -> u32 { return uniforms.w[k >> 2u][k & 3u]; }`,
    ];
    for (const f of this.fields) {
      const read = (k: string) => (f.type === 'u32' ? `uniform_word(${k})` : `bitcast<${f.type}>(uniform_word(${k}))`);
      if (f.length === undefined) lines.push(`fn u_${f.name}() -> ${f.type} { return ${read(`${f.word}u`)}; }`);
      else lines.push(`fn u_${f.name}(i: u32) -> ${f.type} { return ${read(`${f.word}u + i`)}; }`);
    }
    return lines.join('\n');
  }

  /** Writes `values` into `target` (32-bit words starting at word `at`). Every field needs a value. */
  pack(values: UniformValues, target: ArrayBuffer, at: number): void {
    const u32 = new Uint32Array(target);
    const i32 = new Int32Array(target);
    const f32 = new Float32Array(target);
    for (const f of this.fields) {
      const value = values[f.name];
      const list = typeof value === 'number' ? [value] : value;
      if (list === undefined || list.length !== (f.length ?? 1)) {
        throw new InvalidConfigError(`uniform "${f.name}" needs ${f.length ?? 1} value(s), got ${list === undefined ? 'none' : list.length}`);
      }
      const [min, max] = RANGE[f.type];
      for (let i = 0; i < list.length; i++) {
        const v = list[i];
        const k = at + f.word + i;
        if (f.type === 'f32') {
          f32[k] = v;
          continue;
        }
        if (!Number.isInteger(v) || v < min || v > max) {
          throw new InvalidConfigError(`uniform "${f.name}" must be a ${f.type}, got ${v}`, { field: f.name, value: v });
        }
        if (f.type === 'u32') u32[k] = v;
        else i32[k] = v;
      }
    }
  }
}
