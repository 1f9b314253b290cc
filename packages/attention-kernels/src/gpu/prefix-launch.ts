import type { DType, Tensor } from '@kvkit/tensor-core';
import type { KernelAttrs, KernelResult } from '../ops/attention-types.js';

export type PrefixAttrs = KernelAttrs & { maxUsers: number; slots: number; ownPagesPerSlot: number; maxLength: number };

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
    ownPartition: attrs.ownPagesPerSlot * poolKeys.shape[1],
    sharedRowChunks: Math.ceil((attrs.maxUsers * group * m) / rowsPerBlock),
    ownRowChunks: Math.ceil((group * m) / rowsPerBlock),
    output,
    lse,
    result: () => (lse ? { output, lse } : { output }),
  };
}
