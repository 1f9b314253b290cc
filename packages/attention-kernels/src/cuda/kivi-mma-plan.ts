import type { DType } from '@kvkit/tensor-core';
import { type KiviVecShape, kiviVecPlan } from './kivi-vec-plan.js';

// Mirrors kivi-mma-pass.cuh / mma-decode-tile.cuh (KIVI_MMA_TILE, KIVI_MMA_STEP, MMA_DEC_ROWS, MMA_DEC_PAD, DEC_WARPS, KIVI_MMA_ARRAYS).
const TILE = 128;
const STEP = 16;
const ROWS = 16;
const PAD = 8;
const WARPS = 4;
/** KIVI_MMA_ARRAYS: the arrays a ring stage holds. */
const COPIES = 7;
/** The same bound as the 16-byte pass: past it too few blocks share an SM (and consumer GPUs could not launch it). */
const MAX_SHARED_BYTES = 96 * 1024;

/** What decides whether a KIVI cache takes the tensor-core pass (kivi-mma-pass.cuh). */
export interface KiviMmaShape extends KiviVecShape {
  /** Keys per split-K partition: the pass starts partitions on whole 16-key steps. */
  partitionSize: number;
  /** Bytes of a scale or minimum (f16 2, f32 4). */
  scaleBytes: number;
  /** The pass multiplies f16 operands: f32 queries, which ask for f32 arithmetic, keep the 16-byte pass. */
  queryDtype: DType;
}

const round16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/** The dynamic shared memory of the tensor-core KIVI pass with `stages` ring stages: kivi_mma_layout's total. */
export function kiviMmaSharedBytes(d: number, bits: number, groupSize: number, valueGroupSize: number, scaleBytes: number, stages: number): number {
  const perWord = 32 / bits;
  const tileGroups = TILE / groupSize;
  const valueGroups = d / valueGroupSize;
  const fixed =
    round16(ROWS * (d + PAD) * 4) + // query tile (f32)
    ROWS * d * 2 + // query A fragments (f16)
    2 * tileGroups * d * 2 + // key scales, minimums as f16 (f32 scales)
    2 * valueGroups * TILE * 2 + // value scales and minimums as f16 [token][group] (f32 scales)
    (COPIES + 1) * 16; // the copies table (KiviMmaCopy: where each array's tiles come from and land; then a flag)
  const stage =
    tileGroups * d * (groupSize / perWord) * 4 + // key codes
    2 * round16(tileGroups * d * scaleBytes) + // key scales, minimums
    TILE * (d / perWord) * 4 + // value codes
    2 * round16(TILE * valueGroups * scaleBytes) + // value scales, minimums
    TILE * 4; // key positions
  const scratch = WARPS * ROWS * (3 + d + PAD) * 4; // mma_write_partials, aliasing the rest at the end
  return Math.max(fixed + stages * stage, scratch);
}

/**
 * The tensor-core pass's shared memory and ring stages for this cache, or undefined when the other
 * passes must serve it: f32 queries, bits other than 2 and 4, head dims other than 64 and 128, key groups that
 * are not a multiple of 16 dividing the 128-key tile, value groups that are not a multiple of 16,
 * partitions that do not start on 16-key steps, shapes the 16-byte pass (which serves the blocks
 * that reach the residual window) does not serve, or more than 96 KiB even with 2 stages.
 */
export function kiviMmaPlan(shape: KiviMmaShape): { sharedBytes: number; stages: number } | undefined {
  const { headDim: d, bits, groupSize, valueGroupSize } = shape;
  const served =
    (shape.queryDtype === 'f16' || shape.queryDtype === 'bf16') &&
    (bits === 2 || bits === 4) &&
    (d === 64 || d === 128) &&
    groupSize % STEP === 0 &&
    TILE % groupSize === 0 &&
    valueGroupSize % STEP === 0 &&
    d % valueGroupSize === 0 &&
    shape.partitionSize % STEP === 0;
  const vec = served ? kiviVecPlan(shape) : undefined;
  if (!vec) return undefined;
  for (const stages of [3, 2]) {
    const sharedBytes = Math.max(vec.sharedBytes, kiviMmaSharedBytes(d, bits, groupSize, valueGroupSize, shape.scaleBytes, stages));
    if (sharedBytes <= MAX_SHARED_BYTES) return { sharedBytes, stages };
  }
  return undefined;
}
