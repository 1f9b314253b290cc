import { InvalidConfigError } from '@kvkit/tensor-core';
import { arg } from '@kvkit/tensor-core/cuda';
import { describe, expect, it } from 'vitest';
import { packArgs } from '../src/index.js';

describe('packArgs', () => {
  it('places each argument at its natural alignment, as the kernel ABI reads it', () => {
    const struct = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
    const packed = packArgs([arg.i32(-5), arg.ptr(0x7f0012345600), arg.f32(1.5), arg.struct(struct, 8), arg.u32(4000000000), arg.f64(-0.25), arg.i64(-3)]);
    // i32@0, ptr@8 (8-aligned), f32@16, struct@24 (8-aligned), u32@36, f64@40, i64@48
    expect([...packed.offsets]).toEqual([0, 8, 16, 24, 36, 40, 48]);
    const view = new DataView(packed.bytes.buffer);
    expect(view.getInt32(0, true)).toBe(-5);
    expect(view.getBigUint64(8, true)).toBe(0x7f0012345600n);
    expect(view.getFloat32(16, true)).toBe(1.5);
    expect([...packed.bytes.subarray(24, 36)]).toEqual([...struct]);
    expect(view.getUint32(36, true)).toBe(4000000000);
    expect(view.getFloat64(40, true)).toBe(-0.25);
    expect(view.getBigInt64(48, true)).toBe(-3n);
    expect(packed.bytes.byteLength % 16).toBe(0);
  });

  it('writes 64-bit values exactly up to 2^53 and negative ones in two’s complement', () => {
    for (const value of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -(2 ** 32), -(2 ** 53 - 1)]) {
      const view = new DataView(packArgs([arg.i64(value)]).bytes.buffer);
      expect(view.getBigInt64(0, true)).toBe(BigInt(value));
    }
  });

  it('rejects values the parameter type cannot hold', () => {
    expect(() => packArgs([arg.i32(2 ** 31)])).toThrow(InvalidConfigError);
    expect(() => packArgs([arg.u32(-1)])).toThrow(/u32/);
    expect(() => packArgs([arg.i32(1.5)])).toThrow(/integer/);
    expect(() => packArgs([arg.ptr(-8)])).toThrow(InvalidConfigError);
    expect(() => packArgs([arg.i64(2 ** 60)])).toThrow(/integer in/);
    expect(() => packArgs([arg.struct(new Uint8Array(4), 3)])).toThrow(/alignment/);
  });

  it('handles no arguments', () => {
    const packed = packArgs([]);
    expect(packed.offsets.length).toBe(0);
  });
});
