// The launch geometry of the CUDA single-pass row kernels (softmax, RMSNorm): which rows they take,
// how many threads per row, 16-byte or element loads. The kernels themselves are checked on the
// emulator (packages/cuda-runtime/test/softmax-norm-emulator.test.ts).
import { describe, expect, it } from 'vitest';
import { ROW_MAX_LANES, rowResidentLaunch } from '../src/cuda/kernels/row-resident.js';

const ALIGNED = [0x1000, 0x20000];

describe('rowResidentLaunch', () => {
  it('rows of 4096 f32: 256 threads of 4 vectors (16 elements) each, a block per row', () => {
    expect(rowResidentLaunch('f32', 4096, 65536, ALIGNED)).toEqual({ variant: 'v4', lanes: 256, block: 256, grid: 65536 });
  });

  it('short rows get a warp each, several rows per block', () => {
    for (const n of [1, 3, 31, 32, 33, 127, 128]) {
      const launch = rowResidentLaunch('f32', n, 100, ALIGNED)!;
      expect(launch.lanes).toBe(32);
      expect(launch.block).toBe(256);
      expect(launch.grid).toBe(Math.ceil(100 / 8));
    }
  });

  it('takes rows up to 8192 f32 and 16384 f16/bf16 elements, leaves longer ones to the multi-pass kernels', () => {
    expect(rowResidentLaunch('f32', 8192, 2, ALIGNED)).toMatchObject({ variant: 'v4', lanes: ROW_MAX_LANES, block: ROW_MAX_LANES });
    expect(rowResidentLaunch('f32', 8193, 2, ALIGNED)).toBeUndefined();
    for (const dtype of ['f16', 'bf16'] as const) {
      expect(rowResidentLaunch(dtype, 16384, 2, ALIGNED)).toMatchObject({ variant: 'v4', lanes: ROW_MAX_LANES });
      expect(rowResidentLaunch(dtype, 16385, 2, ALIGNED)).toBeUndefined();
    }
  });

  it('element loads when a row start is not 16-byte aligned', () => {
    expect(rowResidentLaunch('f32', 4097, 3, ALIGNED)?.variant).toMatch(/^s/);
    expect(rowResidentLaunch('f32', 4096, 3, [0x1004, 0x2000])?.variant).toMatch(/^s/);
    expect(rowResidentLaunch('f16', 4100, 3, ALIGNED)?.variant).toMatch(/^s/); // 4100 f16 = 512.5 vectors
    expect(rowResidentLaunch('f16', 4104, 3, ALIGNED)?.variant).toMatch(/^v/);
  });

  it('every row length it takes fits its threads, in power-of-two rows of 32..512 threads', () => {
    const wrong: string[] = [];
    for (const [dtype, perVector, longest] of [['f32', 4, 8192], ['f16', 8, 16384]] as const) {
      for (let n = 1; n <= longest; n++) {
        const { variant, lanes, block } = rowResidentLaunch(dtype, n, 7, ALIGNED)!;
        const fits = lanes * Number(variant.slice(1)) * perVector >= n;
        const shaped = Number.isInteger(Math.log2(lanes)) && lanes >= 32 && lanes <= ROW_MAX_LANES && block % lanes === 0;
        if (!fits || !shaped) wrong.push(`${dtype} n=${n}: ${variant}, ${lanes} lanes, block ${block}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
