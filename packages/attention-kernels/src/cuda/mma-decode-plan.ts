import type { DType } from '@kvkit/tensor-core';

// Mirrors mma-decode-tile.cuh / mma-decode-pass.cuh (MMA_DEC_ROWS, MMA_DEC_WARPS, MMA_DEC_STAGES,
// MMA_DEC_STEP, MMA_DEC_PAD).
/** Query rows per block of a tensor-core decode pass (the mma M dimension). */
export const MMA_ROWS = 16;
const WARPS = 4;
const STAGES = 3;
const STEP_KEYS = 16;
const PAD = 8;
/** Head dims (key and value) the tensor-core pass serves (mma_dec_serves_dim). */
const HEAD_DIMS = [16, 32, 64, 128];

/** Bytes of one warp's stage: K and V rows [16][dim + pad] of 16-bit elements, positions and log weights. */
function stageBytes(d: number, dv: number): number {
  return 2 * STEP_KEYS * (d + PAD + dv + PAD) + 2 * STEP_KEYS * 4;
}

/** Dynamic shared memory of the tensor-core pass: every warp's stages (they also hold the query tile and the warps' merge). */
export function mmaDecodeSharedBytes(d: number, dv: number): number {
  return WARPS * STAGES * stageBytes(d, dv);
}

/**
 * Whether the tensor-core pass 1 (mma-decode-pass.cuh) serves K/V of this dtype and these head dims
 * at these device addresses on a device allowing `maxSharedBytes` per block: f16/bf16, d and dv among
 * 16, 32, 64, 128, both 16-byte aligned, and its shared memory within the limit (head dim 128 needs
 * 103.5 KiB: data-center GPUs allow 163–227 KiB, consumer ones 99 KiB and keep the 16-byte pass).
 */
export function mmaDecodeServes(shape: { keyDtype: DType; d: number; dv: number; addresses: readonly number[]; maxSharedBytes: number }): boolean {
  const { keyDtype, d, dv } = shape;
  return (
    (keyDtype === 'f16' || keyDtype === 'bf16') &&
    HEAD_DIMS.includes(d) &&
    HEAD_DIMS.includes(dv) &&
    shape.addresses.every((a) => a % 16 === 0) &&
    mmaDecodeSharedBytes(d, dv) <= shape.maxSharedBytes
  );
}

/**
 * splitKDecode's pass-1 launch (blocks of 8 query rows for the 16-byte pass) turned into the
 * tensor-core pass's: blocks of MMA_ROWS rows (grid z = ⌈rows per KV row / 16⌉), MMA_DEC_WARPS
 * warps, and the warps' stages as dynamic shared memory (they also hold the query tile and, at the
 * end, the warps' merge).
 */
export function mmaDecodeLaunch<L extends { grid: [number, number, number]; block: number; sharedBytes: number }>(
  launch: L,
  { rowsPerKvRow, d, dv }: { rowsPerKvRow: number; d: number; dv: number },
): L {
  const [parts, kvRows] = launch.grid;
  return { ...launch, grid: [parts, kvRows, Math.ceil(rowsPerKvRow / MMA_ROWS)], block: WARPS * 32, sharedBytes: mmaDecodeSharedBytes(d, dv) };
}
