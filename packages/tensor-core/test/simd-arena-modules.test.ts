// An arena binding several of a package's modules beside the dense kernels: one memory, so a
// kernel of one module reads what another's wrote there (attention-kernels stages KIVI tiles with
// one module for the row kernel of another); a kept arena per list of modules.
import { describe, expect, it } from 'vitest';
import attentionF32Wasm from '../src/cpu/kernels/attention-f32.wat';
import gemmF32Wasm from '../src/cpu/kernels/gemm-f32.wat';
import { keptModuleArena, SimdArena } from '../src/simd/index.js';

interface Kernels {
  rowDots(q: number, k: number, d: number, from: number, to: number, out: number): void;
  gemvNTf32(a: number, b: number, c: number, n: number, k: number): void;
}

const BOTH = [gemmF32Wasm, attentionF32Wasm];

describe('SimdArena with a list of modules', () => {
  it('binds every module’s kernels to the one memory', () => {
    const arena = SimdArena.create<Kernels>([256], BOTH);
    expect(arena).not.toBeNull();
    const { kernels } = arena!;
    const base = arena!.arrays[0].byteOffset;
    const f32 = new Float32Array(arena!.arrays[0].buffer, base, 512);
    const f64 = new Float64Array(arena!.arrays[0].buffer, base, 256);
    // q at floats 0–7, four key rows of 8 at floats 8–39; the gemv's output at floats 40–43, rowDots' (f64) at f64 24–27.
    for (let i = 0; i < 40; i++) f32[i] = ((i * 7) % 11) - 5;
    kernels.gemvNTf32(base, base + 32, base + 160, 4, 8);
    kernels.rowDots(base, base + 32, 8, 0, 4, base + 192);
    for (let j = 0; j < 4; j++) {
      let dot = 0;
      for (let c = 0; c < 8; c++) dot += f32[c] * f32[8 + 8 * j + c];
      expect(f32[40 + j]).toBe(dot);
      expect(f64[24 + j]).toBe(dot);
    }
    expect(typeof (kernels as unknown as { f16ToF32: unknown }).f16ToF32).toBe('function'); // the dense kernels too
    arena!.dispose();
  });

  it('keeps one arena per list (the list is the key), apart from each module’s own', () => {
    const kept = keptModuleArena<Kernels>(BOTH, 64);
    expect(kept).not.toBeNull();
    expect(keptModuleArena(BOTH, 64)).toBe(kept);
    expect(keptModuleArena(gemmF32Wasm, 64)).not.toBe(kept);
  });
});
