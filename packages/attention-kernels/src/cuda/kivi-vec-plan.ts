import { PARTIAL_ROWS } from './split-k.js';

// Mirrors split-k-pass.cuh / kivi-vec-pass.cuh (DEC_WARPS, DEC_KEYS, KIVI_GROUP_PAD).
const WARPS = 4;
const KEYS = 128;
const GROUP_PAD = 4;
/** Past this the block would hold too few warps per SM to hide the loads; the generic loop serves it. */
const MAX_SHARED_BYTES = 96 * 1024;

/** What decides whether a KIVI cache takes the 16-byte pass (kivi-vec-pass.cuh). */
export interface KiviVecShape {
  headDim: number;
  bits: number;
  groupSize: number;
  valueGroupSize: number;
  /** Device addresses of the full-precision residual keys and values (read by 16-byte loads). */
  residualAddresses: readonly number[];
}

const round4 = (words: number): number => Math.ceil(words / 4) * 4;

/** The dynamic shared memory of the 16-byte KIVI pass: the same layout as kivi_shared_layout. */
export function kiviVecSharedBytes(d: number, bits: number, groupSize: number, valueGroupSize: number): number {
  const perWord = 32 / bits;
  const tileGroups = Math.floor(KEYS / groupSize);
  const groupStride = d * Math.ceil(groupSize / perWord) + GROUP_PAD;
  const valueGroups = d / valueGroupSize;
  const valueWords = valueGroups * Math.ceil(valueGroupSize / perWord);
  const words =
    PARTIAL_ROWS * d +
    Math.max(PARTIAL_ROWS * KEYS, WARPS * PARTIAL_ROWS * d) +
    2 * WARPS * PARTIAL_ROWS +
    KEYS +
    round4(tileGroups * groupStride) +
    2 * round4(tileGroups * d) +
    round4(KEYS * valueWords) +
    2 * round4(KEYS * valueGroups);
  return 4 * words;
}

/**
 * The shared memory of the 16-byte KIVI pass for this cache, or undefined when the generic per-key
 * loop must serve it: head dims other than 16–128 (powers of two), key groups that are not whole
 * quads of 4 tokens or longer than a tile of 128, value groups that split a thread's 8 channels,
 * residual buffers not 16-byte aligned, or a layout needing more than 96 KiB.
 */
export function kiviVecPlan(shape: KiviVecShape): { sharedBytes: number } | undefined {
  const { headDim: d, bits, groupSize, valueGroupSize } = shape;
  const served =
    [16, 32, 64, 128].includes(d) &&
    groupSize % 4 === 0 &&
    groupSize <= KEYS &&
    valueGroupSize % 8 === 0 &&
    shape.residualAddresses.every((address) => address % 16 === 0);
  if (!served) return undefined;
  const sharedBytes = kiviVecSharedBytes(d, bits, groupSize, valueGroupSize);
  return sharedBytes <= MAX_SHARED_BYTES ? { sharedBytes } : undefined;
}
