import { bytesPerElement, reshape, type Tensor } from '@kvkit/tensor-core';
import { arg, type CudaBackend } from '@kvkit/tensor-core/cuda';
import type { SplitKAttrs } from '../cpu/split-k-decode.js';
import { unfoldBatch } from '../gpu/unfold-batch.js';
import { statisticsOnly, withKeyStatistics } from '../gpu/with-statistics.js';
import type { KernelAttrs, KernelResult, KeyStatistics } from '../ops/attention-types.js';
import { autoPartition, partitionGranule, withAutoPartition } from './auto-partition.js';
import { forcedCudaPass, mmaDecodeLaunch, mmaDecodeServes, mmaPrefillLaunch, mmaPrefillServes } from './mma-decode-plan.js';
import { decodeAttentionModule, maskArgs, type PartialLaunch, splitKDecode } from './split-k.js';
import { keyStatisticsCuda } from './statistics.js';

/** Split-K decode attention over dense K/V [kvHeads, n, ·] (decode-attention.cu; partitions sized to fill the GPU when the caller gave none), with per-key statistics from a second pass when asked for. */
export function decodeAttentionCuda(
  backend: CudaBackend,
  inputs: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?],
  given: SplitKAttrs,
): KernelResult {
  const [q, k, , qPos, kPos, logWeights] = inputs;
  const attrs = withAutoPartition(backend, given, { n: k.shape[1], kvRows: k.shape[0], rowsPerKvRow: (q.shape[0] / k.shape[0]) * q.shape[1] });
  return withKeyStatistics(attrs, (a) => denseSplitK(backend, inputs, a), (lse) => denseStatistics(backend, [q, k, qPos, kPos, logWeights], attrs, lse));
}

/** `attentionStatistics` on CUDA: the split-K decode with lse (V := K, its output unused), then the statistics pass. */
export function attentionStatisticsCuda(backend: CudaBackend, inputs: readonly [Tensor, Tensor, Tensor, Tensor, Tensor?], attrs: KernelAttrs): KeyStatistics {
  const [q, k, qPos, kPos, logWeights] = inputs;
  return statisticsOnly(
    attrs,
    (a) => denseSplitK(backend, [q, k, k, qPos, kPos, logWeights], a),
    (lse) => denseStatistics(backend, inputs, attrs, lse),
  );
}

function denseSplitK(backend: CudaBackend, [q, k, v, qPos, kPos, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?], attrs: SplitKAttrs): KernelResult {
  const [qHeads, m, d] = q.shape;
  const [kvHeads, n] = k.shape;
  const dv = v.shape[2];
  return splitKDecode(backend, q, { kvHeads, n, dv, partition: attrs.partitionSize, valueBytes: bytesPerElement(k.dtype) }, attrs, (launch, staging) => {
    const [qs, ks, vs, qp, kp] = [q, k, v, qPos, kPos].map((t) => staging.rowMajor(t));
    const lw = logWeights && staging.rowMajor(logWeights);
    const { acc, stat } = launch;
    const { kernel, config } = partialKernel(backend, 'decode', launch, { q, k, kAddress: backend.address(ks), vAddress: backend.address(vs), rowsPerKvRow: (qHeads / kvHeads) * m, d, dv });
    backend.launch(decodeAttentionModule, kernel, config, [
      arg.ptr(backend.address(acc)), arg.ptr(backend.address(stat)),
      arg.ptr(backend.address(qs)), arg.ptr(backend.address(ks)), arg.ptr(backend.address(vs)),
      arg.ptr(backend.address(qp)), arg.ptr(backend.address(kp)), arg.ptr(lw ? backend.address(lw) : 0),
      arg.i32(qHeads), arg.i32(kvHeads), arg.i32(m), arg.i32(n), arg.i32(d), arg.i32(dv), arg.i32(attrs.partitionSize),
      ...maskArgs(attrs),
    ]);
  });
}

/**
 * Pass 1's kernel and its launch: kv_<source>_mma_prefill_partial_<q>_<k> (tensor cores, blocks of
 * 64 rows sharing each K/V tile) for prefill-sized row counts (mmaPrefillServes),
 * kv_<source>_mma_partial_<q>_<k> (tensor cores, 16-row blocks) wherever the tensor-core pass serves
 * the K/V on this device (mmaDecodeServes), else kv_<source>_partial_<q>_<k> (16-byte loads).
 * KVKIT_CUDA_DECODE forces a pass so a GPU run can time all three: `vec` the 16-byte pass, `mma16`
 * the 16-row tensor-core pass (where it serves).
 */
export function partialKernel(
  backend: CudaBackend,
  source: 'decode' | 'paged_decode' | 'ragged_decode',
  launch: PartialLaunch,
  s: { q: Tensor; k: Tensor; kAddress: number; vAddress: number; rowsPerKvRow: number; d: number; dv: number },
): { kernel: string; config: Pick<PartialLaunch, 'grid' | 'block' | 'sharedBytes'> } {
  const { grid, block, sharedBytes } = launch;
  const config = { grid, block, sharedBytes };
  const forced = forcedCudaPass();
  const maxSharedBytes = backend.device.maxSharedMemoryPerBlockOptin;
  const mma = forced !== 'vec' && mmaDecodeServes({ keyDtype: s.k.dtype, d: s.d, dv: s.dv, addresses: [s.kAddress, s.vAddress], maxSharedBytes });
  const dtypes = `${s.q.dtype}_${s.k.dtype}`;
  if (!mma) return { kernel: `kv_${source}_partial_${dtypes}`, config };
  if (forced !== 'mma16' && mmaPrefillServes({ ...s, maxSharedBytes })) return { kernel: `kv_${source}_mma_prefill_partial_${dtypes}`, config: mmaPrefillLaunch(config, s) };
  return { kernel: `kv_${source}_mma_partial_${dtypes}`, config: mmaDecodeLaunch(config, s) };
}

function denseStatistics(backend: CudaBackend, [q, k, qPos, kPos, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor?], attrs: KernelAttrs, lse: Tensor): KeyStatistics {
  const [qHeads] = q.shape;
  const [kvHeads, n] = k.shape;
  return keyStatisticsCuda(backend, q, lse, {
    kernel: `kv_key_statistics_${q.dtype}_${k.dtype}`,
    rows: qHeads,
    width: n,
    group: qHeads / kvHeads,
    headShape: [qHeads],
    kvShape: [kvHeads],
    source: (staging) => [k, qPos, kPos].map((t) => arg.ptr(backend.address(staging.rowMajor(t)))).concat(arg.ptr(logWeights ? backend.address(staging.rowMajor(logWeights)) : 0)),
  }, attrs);
}

/**
 * Decode (or chunked prefill) through block tables: the batch folds into the heads (KV row
 * b·kvHeads + head walks its own pages, ragged lengths), so it is the same split-K launch over
 * maxLength tokens; partitions past a row's length are empty. Output [B, qHeads, m, dv]; statistics
 * [B, qHeads, maxLength].
 */
export function pagedAttentionCuda(backend: CudaBackend, inputs: readonly Tensor[], attrs: KernelAttrs & { maxLength: number }): KernelResult {
  const [q, poolKeys, poolValues, poolPositions, table, lengths, qPos] = inputs;
  const [batch, qHeads, m, d] = q.shape;
  const [, pageSize] = poolKeys.shape;
  const dv = poolValues.shape[2];
  const [, kvHeads, maxPages] = table.shape;
  const folded = reshape(q, [batch * qHeads, m, d]);
  try {
    // Whole pages, as many as fill one wave of blocks (auto-partition.ts; the runtime's cache takes this path).
    const partition = autoPartition(backend.device.multiprocessors, { n: attrs.maxLength, kvRows: batch * kvHeads, rowsPerKvRow: (qHeads / kvHeads) * m, granule: partitionGranule(pageSize) });
    const attention = (a: KernelAttrs) => splitKDecode(backend, folded, { kvHeads: batch * kvHeads, n: attrs.maxLength, dv, partition, valueBytes: bytesPerElement(poolKeys.dtype) }, a, (launch, staging) => {
      const [qs, ks, vs, pos, tab, len, qp] = [folded, poolKeys, poolValues, poolPositions, table, lengths, qPos].map((t) => staging.rowMajor(t));
      const { acc, stat } = launch;
      const { kernel, config } = partialKernel(backend, 'paged_decode', launch, { q, k: poolKeys, kAddress: backend.address(ks), vAddress: backend.address(vs), rowsPerKvRow: (qHeads / kvHeads) * m, d, dv });
      backend.launch(decodeAttentionModule, kernel, config, [
        arg.ptr(backend.address(acc)), arg.ptr(backend.address(stat)), arg.ptr(backend.address(qs)),
        arg.ptr(backend.address(ks)), arg.ptr(backend.address(vs)), arg.ptr(backend.address(pos)),
        arg.ptr(backend.address(tab)), arg.ptr(backend.address(len)), arg.ptr(backend.address(qp)),
        arg.i32(batch * qHeads), arg.i32(batch * kvHeads), arg.i32(m), arg.i32(d), arg.i32(dv), arg.i32(partition),
        ...maskArgs(attrs),
        arg.i32(pageSize), arg.i32(maxPages), arg.i32(kvHeads),
      ]);
    });
    const r = withKeyStatistics(attrs, attention, (lse) => pagedStatisticsCuda(backend, folded, lse, [poolKeys, poolPositions, table, lengths, qPos], attrs));
    return { ...unfoldBatch(r, batch, qHeads), ...(r.statistics ? { statistics: r.statistics } : {}) };
  } finally {
    folded.dispose();
  }
}

/**
 * Per-key statistics through block tables from the rows' lse, for q folded to [B·qHeads, m, d]:
 * the keys of KV row b·kvHeads + head are the pool slots its table row lists (table
 * [B, kvHeads, maxPages], lengths [B, kvHeads], query positions [B, m]). Statistics
 * [B, qHeads, maxLength], queryCount [B, kvHeads, maxLength].
 */
export function pagedStatisticsCuda(
  backend: CudaBackend,
  folded: Tensor,
  lse: Tensor,
  [poolKeys, poolPositions, table, lengths, qPos]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor],
  attrs: KernelAttrs & { maxLength: number },
): KeyStatistics {
  const [batch, kvHeads, maxPages] = table.shape;
  const qHeads = folded.shape[0] / batch;
  return keyStatisticsCuda(backend, folded, lse, {
    kernel: `kv_paged_key_statistics_${folded.dtype}_${poolKeys.dtype}`,
    rows: batch * qHeads,
    width: attrs.maxLength,
    group: qHeads / kvHeads,
    headShape: [batch, qHeads],
    kvShape: [batch, kvHeads],
    source: (staging) => [
      ...[poolKeys, poolPositions, table, lengths, qPos].map((t) => arg.ptr(backend.address(staging.rowMajor(t)))),
      arg.i32(poolKeys.shape[1]), arg.i32(maxPages), arg.i32(kvHeads),
    ],
  }, attrs);
}

/**
 * Split-K decode for a batch of requests with ragged K/V packed along the tokens (kvIndptr [B+1]):
 * the batch folds into the KV rows as for paged caches. The longest request is not known on the
 * host (the offsets live on the device), so the partitions cover all `total` tokens; those past a
 * request's end are empty blocks. Output [B, qHeads, m, dv]; statistics [qHeads, total] in packed order.
 */
export function batchedDecodeAttentionCuda(
  backend: CudaBackend,
  [q, k, v, qPos, kPos, indptr, logWeights]: readonly [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor?],
  attrs: SplitKAttrs,
): KernelResult {
  const [batch, qHeads, m, d] = q.shape;
  const [kvHeads, total] = k.shape;
  const dv = v.shape[2];
  const folded = reshape(q, [batch * qHeads, m, d]);
  try {
    const attention = (a: SplitKAttrs) => splitKDecode(backend, folded, { kvHeads: batch * kvHeads, n: total, dv, partition: a.partitionSize, valueBytes: bytesPerElement(k.dtype) }, a, (launch, staging) => {
      const [qs, ks, vs, qp, kp, ip] = [folded, k, v, qPos, kPos, indptr].map((t) => staging.rowMajor(t));
      const lw = logWeights && staging.rowMajor(logWeights);
      const { acc, stat } = launch;
      const { kernel, config } = partialKernel(backend, 'ragged_decode', launch, { q, k, kAddress: backend.address(ks), vAddress: backend.address(vs), rowsPerKvRow: (qHeads / kvHeads) * m, d, dv });
      backend.launch(decodeAttentionModule, kernel, config, [
        arg.ptr(backend.address(acc)), arg.ptr(backend.address(stat)), arg.ptr(backend.address(qs)),
        arg.ptr(backend.address(ks)), arg.ptr(backend.address(vs)), arg.ptr(backend.address(qp)), arg.ptr(backend.address(kp)),
        arg.ptr(backend.address(ip)), arg.ptr(lw ? backend.address(lw) : 0),
        arg.i32(batch * qHeads), arg.i32(batch * kvHeads), arg.i32(m), arg.i32(d), arg.i32(dv), arg.i32(attrs.partitionSize),
        ...maskArgs(attrs),
        arg.i32(total), arg.i32(kvHeads),
      ]);
    });
    const r = withKeyStatistics(attrs, attention, (lse) =>
      keyStatisticsCuda(backend, folded, lse, {
        kernel: `kv_ragged_key_statistics_${q.dtype}_${k.dtype}`,
        rows: qHeads,
        width: total,
        group: qHeads / kvHeads,
        headShape: [qHeads],
        kvShape: [kvHeads],
        source: (staging) => [
          ...[k, qPos, kPos, indptr].map((t) => arg.ptr(backend.address(staging.rowMajor(t)))),
          arg.ptr(logWeights ? backend.address(staging.rowMajor(logWeights)) : 0),
          arg.i32(total), arg.i32(batch), arg.i32(qHeads), arg.i32(kvHeads),
        ],
      }, attrs),
    );
    return { ...unfoldBatch(r, batch, qHeads), ...(r.statistics ? { statistics: r.statistics } : {}) };
  } finally {
    folded.dispose();
  }
}
