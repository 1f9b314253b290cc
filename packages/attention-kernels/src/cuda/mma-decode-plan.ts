import type { DType } from '@kvkit/tensor-core';

// Mirrors mma-decode-tile.cuh / mma-decode-pass.cuh (MMA_DEC_ROWS, MMA_DEC_WARPS, MMA_DEC_STAGES,
// MMA_DEC_STEP, MMA_DEC_PAD) and mma-prefill-pass.cuh (MMA_PRE_ROWS, MMA_PRE_KEYS, MMA_PRE_STAGES).
/** Query rows per block of a tensor-core decode pass (the mma M dimension). */
export const MMA_ROWS = 16;
const WARPS = 4;
const STAGES = 3;
const STEP_KEYS = 16;
const PAD = 8;
/** Query rows per block of the tensor-core prefill pass (4 warps of 16 rows sharing each K/V tile). */
export const MMA_PREFILL_ROWS = 64;
const PREFILL_KEYS = 64;
const PREFILL_STAGES = 3;
/** Head dims (key and value) the tensor-core pass serves (mma_dec_serves_dim). */
const HEAD_DIMS = [16, 32, 64, 128];

/** Bytes of a stage of `keys` keys: K and V rows [keys][dim + pad] of 16-bit elements, positions and log weights. */
function stageBytes(keys: number, d: number, dv: number): number {
  return 2 * keys * (d + PAD + dv + PAD) + 2 * keys * 4;
}

/** Dynamic shared memory of the tensor-core pass: every warp's stages of 16 keys (they also hold the query tile and the warps' merge). */
export function mmaDecodeSharedBytes(d: number, dv: number): number {
  return WARPS * STAGES * stageBytes(STEP_KEYS, d, dv);
}

/**
 * Dynamic shared memory of the tensor-core prefill pass: its ring of 64-key stages (K, V, positions,
 * log weights; the first also holds the query tile), a row table per stage and 64 bytes of scratch.
 */
export function mmaPrefillSharedBytes(d: number, dv: number): number {
  return PREFILL_STAGES * (stageBytes(PREFILL_KEYS, d, dv) + PREFILL_KEYS * 8) + 64;
}

/**
 * Whether pass 1 takes the prefill pass (blocks of 64 rows) rather than the 16-row one, given that
 * the tensor-core pass serves the K/V: from 64 rows per KV row on, where every warp of a block has
 * a full 16-row fragment to compute on each tile it shares. Below, a 64-row block would leave warps
 * idle on the same barriers, and the 16-row pass's 4 independent key streams per block keep more
 * bytes in flight for the few rows of a decode.
 */
export function mmaPrefillServes(shape: { rowsPerKvRow: number; d: number; dv: number; maxSharedBytes: number }): boolean {
  return shape.rowsPerKvRow >= MMA_PREFILL_ROWS && mmaPrefillSharedBytes(shape.d, shape.dv) <= shape.maxSharedBytes;
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
export function mmaDecodeLaunch<L extends PassLaunch>(launch: L, { rowsPerKvRow, d, dv }: { rowsPerKvRow: number; d: number; dv: number }): L {
  return regroupRows(launch, rowsPerKvRow, MMA_ROWS, mmaDecodeSharedBytes(d, dv));
}

/** The same for the prefill pass: blocks of MMA_PREFILL_ROWS rows (grid z = ⌈rows per KV row / 64⌉) and its ring as shared memory. */
export function mmaPrefillLaunch<L extends PassLaunch>(launch: L, { rowsPerKvRow, d, dv }: { rowsPerKvRow: number; d: number; dv: number }): L {
  return regroupRows(launch, rowsPerKvRow, MMA_PREFILL_ROWS, mmaPrefillSharedBytes(d, dv));
}

type PassLaunch = { grid: [number, number, number]; block: number; sharedBytes: number };

/** A pass-1 launch with blocks of `rowsPerBlock` query rows (grid z), MMA_DEC_WARPS warps and `sharedBytes`. */
function regroupRows<L extends PassLaunch>(launch: L, rowsPerKvRow: number, rowsPerBlock: number, sharedBytes: number): L {
  const [parts, kvRows] = launch.grid;
  return { ...launch, grid: [parts, kvRows, Math.ceil(rowsPerKvRow / rowsPerBlock)], block: WARPS * 32, sharedBytes };
}

/**
 * The pass `KVKIT_CUDA_DECODE` forces, read at each launch so a GPU run can time them side by side:
 * 'vec' the 16-byte CUDA-core passes, 'mma16' the 16-row tensor-core pass (where it serves).
 */
export function forcedCudaPass(): 'vec' | 'mma16' | undefined {
  const forced = typeof process === 'undefined' ? undefined : process.env.KVKIT_CUDA_DECODE;
  return forced === 'vec' || forced === 'mma16' ? forced : undefined;
}
