import { bytesPerElement, reshape, type Tensor } from '@kvkit/tensor-core';
import { arg, type CudaBackend, defineCudaModule } from '@kvkit/tensor-core/cuda';
import { prefixLaunch, type PrefixAttrs } from '../gpu/prefix-launch.js';
import { withKeyStatistics } from '../gpu/with-statistics.js';
import type { KernelResult } from '../ops/attention-types.js';
import { pagedStatisticsCuda } from './decode-attention.js';
import source from './prefix-decode.cu';
import { maskArgs, mergePartialsCuda, PARTIAL_ROWS, partialBlock, SPLIT_K_HEADERS, Staging } from './split-k.js';

/** The prefix-shared decode's two pass-1 kernels (shared runs, own chunks). */
export const prefixDecodeModule = defineCudaModule({ name: 'kvkit-attention-prefix', source, headers: SPLIT_K_HEADERS });

/**
 * ChunkAttention's two-phase decode on CUDA (prefix-decode.cu, kv_prefix_*_partial): the split-K
 * pass with two row mappings writing one set of partial states, then the split-K merge (slot layout:
 * `prefixLaunch`). Phase 1 (chunk-first) runs one block per (run of shared chunks, KV head, ≤ 8 of
 * its users' query rows), so a shared page is read once for all the requests that share it; phase 2
 * (sequence-first) walks each request's own pages. Statistics, when asked for, take the paged
 * kernel's statistics pass over each request's whole path (inputs 14 and 15: a block table of the
 * path) from the rows' merged lse.
 */
export function prefixSharedAttentionCuda(backend: CudaBackend, inputs: readonly Tensor[], attrs: PrefixAttrs): KernelResult {
  return withKeyStatistics(attrs, (a) => twoPhase(backend, inputs, a), (lse) => {
    const [q, poolKeys, , poolPositions, qPos] = inputs;
    const [pathTable, pathLengths] = inputs.slice(14);
    const [batch, qHeads, m, d] = q.shape;
    const folded = reshape(q, [batch * qHeads, m, d]);
    try {
      return pagedStatisticsCuda(backend, folded, lse, [poolKeys, poolPositions, pathTable, pathLengths, qPos], attrs);
    } finally {
      folded.dispose();
    }
  });
}

function twoPhase(backend: CudaBackend, inputs: readonly Tensor[], attrs: PrefixAttrs): KernelResult {
  const plan = prefixLaunch(backend, inputs, attrs, PARTIAL_ROWS);
  const { batch, qHeads, m, kvHeads, dv, rows, slots } = plan;
  if (rows === 0 || dv === 0) return plan.result();
  const staging = new Staging(backend);
  try {
    const [q, keys, values, positions, qPos, chunkPages, chunkCounts, usersIndptr, users, ownTable, ownLengths, runStarts, runSlots, ownStart] = inputs.map((t) => staging.rowMajor(t));
    const d = q.shape[3];
    const acc = staging.keep(backend.empty([slots, rows, dv], 'f32'));
    const stat = staging.keep(backend.empty([slots, rows, 2], 'f32'));
    const ptr = (t: Tensor) => arg.ptr(backend.address(t));
    const head = [ptr(acc), ptr(stat), ptr(q), ptr(keys), ptr(values), ptr(positions)];
    const suffix = `${q.dtype}_${keys.dtype}`;
    if (plan.runs > 0) {
      backend.launch(prefixDecodeModule, `kv_prefix_shared_partial_${suffix}`, { grid: [1, plan.runs * kvHeads, plan.sharedRowChunks], ...partialBlock(d, dv, bytesPerElement(keys.dtype)) }, [
        ...head, ptr(chunkPages), ptr(chunkCounts), ptr(usersIndptr), ptr(users), ptr(runStarts), ptr(runSlots), ptr(qPos),
        arg.i32(batch), arg.i32(qHeads), arg.i32(kvHeads), arg.i32(m), arg.i32(d), arg.i32(dv), arg.i32(plan.pageSize),
        ...maskArgs(attrs),
      ]);
    }
    backend.launch(prefixDecodeModule, `kv_prefix_own_partial_${suffix}`, { grid: [slots, batch * kvHeads, plan.ownRowChunks], ...partialBlock(d, dv, bytesPerElement(keys.dtype)) }, [
      ...head, ptr(ownTable), ptr(ownLengths), ptr(ownStart), ptr(qPos),
      arg.i32(batch), arg.i32(qHeads), arg.i32(kvHeads), arg.i32(m), arg.i32(d), arg.i32(dv), arg.i32(plan.pageSize), arg.i32(ownTable.shape[2]), arg.i32(plan.ownPartition),
      ...maskArgs(attrs),
    ]);
    mergePartialsCuda(backend, { acc, stat, parts: slots }, plan.output, plan.lse);
  } finally {
    staging.dispose();
  }
  return plan.result();
}
