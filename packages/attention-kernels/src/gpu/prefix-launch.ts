import type { DType, Tensor } from '@kvkit/tensor-core';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';

export type PrefixAttrs = KernelAttrs & { maxUsers: number; slots: number; ownPagesPerSlot: number; maxLength: number };

/** Keys a block of a split launch reads at most (the split-K decode's default partition). */
export const PREFIX_PARTITION = 512;

/**
 * What both GPU backends' two-phase (ChunkAttention) launches start from. Every query row
 * (request b, query head h, query i) has `slots` partial states: slot t < ownStart[b] holds its
 * attention over the t-th run of shared chunks on its request's path (a request's shared chunks
 * are the first ones of its path, and a run has the same index on every path through it), written
 * by phase 1; the following slots hold groups of `ownPagesPerSlot` of its own chunks, and those past
 * its path an empty state, written by phase 2. The split-K merge then reduces the slots of each
 * row by log-sum-exp.
 */
export interface PrefixPlan {
  batch: number;
  qHeads: number;
  m: number;
  kvHeads: number;
  group: number;
  dv: number;
  pageSize: number;
  /** Output rows: batch · qHeads · m. */
  rows: number;
  slots: number;
  /** Runs of shared chunks (phase 1 reads each once per KV head). */
  runs: number;
  /** Own keys per phase-2 partition (ownPagesPerSlot pages). */
  ownPartition: number;
  /**
   * Key partitions a split launch cuts each slot into (1 when a slot spans at most
   * PREFIX_PARTITION keys): a slot holds at most `ownPartition` keys — own groups by definition,
   * runs because src/ops/prefix-attention.ts cuts them at ownPagesPerSlot chunks too — so with
   * chunks longer than PREFIX_PARTITION a run is read by `pieces` blocks, not one. Piece p of slot
   * t is partial state p·slots + t of its row; a kernel cuts the slot's actual keys into `pieces`
   * equal spans, so the split stays correct whatever a run's length.
   */
  pieces: number;
  /** Partial states per query row of a split launch: pieces · slots. */
  pieceSlots: number;
  /** Blocks of query rows per run and KV head (the users' rows, `rowsPerBlock` at a time). */
  sharedRowChunks: number;
  /** Blocks of query rows per request and KV head. */
  ownRowChunks: number;
  /** [batch, qHeads, m, dv] in q's dtype; f32 lse [batch, qHeads, m] when asked for. */
  output: Tensor;
  lse: Tensor | undefined;
  result(): KernelResult;
}

export function prefixLaunch(backend: { empty(shape: readonly number[], dtype: DType): Tensor }, inputs: readonly Tensor[], attrs: PrefixAttrs, rowsPerBlock: number): PrefixPlan {
  const [q, poolKeys, poolValues, , , , , , , ownTable, , , runSlots] = inputs;
  const [batch, qHeads, m] = q.shape;
  const kvHeads = ownTable.shape[1];
  const group = qHeads / kvHeads;
  const dv = poolValues.shape[2];
  const output = backend.empty([batch, qHeads, m, dv], q.dtype);
  const lse = attrs.lse ? backend.empty([batch, qHeads, m], 'f32') : undefined;
  const ownPartition = attrs.ownPagesPerSlot * poolKeys.shape[1];
  const pieces = Math.max(1, Math.ceil(ownPartition / PREFIX_PARTITION));
  return {
    batch,
    qHeads,
    m,
    kvHeads,
    group,
    dv,
    pageSize: poolKeys.shape[1],
    rows: batch * qHeads * m,
    slots: attrs.slots,
    runs: runSlots.shape[0],
    ownPartition,
    pieces,
    pieceSlots: pieces * attrs.slots,
    sharedRowChunks: Math.ceil((attrs.maxUsers * group * m) / rowsPerBlock),
    ownRowChunks: Math.ceil((group * m) / rowsPerBlock),
    output,
    lse,
    result: () => (lse ? { output, lse } : { output }),
  };
}
