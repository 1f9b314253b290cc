import { cast, type Tensor } from '@kvkit/tensor-core';
import { arg, type CudaBackend, defineCudaModule } from '@kvkit/tensor-core/cuda';
import { withKeyStatistics } from '../gpu/with-statistics.js';
import type { KernelResult, KiviKernelAttrs } from '../ops/attention-types.js';
import { withAutoPartition } from './auto-partition.js';
import source from './kivi-decode.cu';
import mmaPassHeader from './kivi-mma-pass.cuh';
import { kiviMmaPlan } from './kivi-mma-plan.js';
import vecPassHeader from './kivi-vec-pass.cuh';
import { kiviVecPlan } from './kivi-vec-plan.js';
import mmaTileHeader from './mma-decode-tile.cuh';
import { forcedCudaPass, mmaDecodeLaunch } from './mma-decode-plan.js';
import { maskArgs, SPLIT_K_HEADERS, splitKDecode, type Staging } from './split-k.js';
import { keyStatisticsCuda } from './statistics.js';

/** The fused KIVI decode's pass 1 (its merge is split-k.ts's). */
export const kiviDecodeModule = defineCudaModule({
  name: 'kvkit-attention-kivi',
  source,
  headers: { ...SPLIT_K_HEADERS, 'kivi-vec-pass.cuh': vecPassHeader, 'mma-decode-tile.cuh': mmaTileHeader, 'kivi-mma-pass.cuh': mmaPassHeader },
});

/** The query dtypes of kv_kivi_decode_vec_partial, by their code (KIVI_QUERY_* in kivi-vec-pass.cuh). */
const VEC_QUERY_DTYPES = ['f32', 'f16', 'bf16'];

/** The dtype a group of tensors is read in: theirs when they agree, else f32 (they are cast). */
function commonDtype(tensors: readonly Tensor[]): 'f16' | 'f32' {
  return tensors.every((t) => t.dtype === 'f16') ? 'f16' : 'f32';
}

/**
 * Fused KIVI decode: pass 1 dequantizes keys (per channel, per token group) and values (per token,
 * per channel group) from the packed codes as it reads them; the residual is read as is. Inputs as
 * the `kiviDecodeAttention` kernel signature lists them. Per-key
 * statistics, when asked for, take a second pass over the keys from the rows' lse.
 */
export function kiviDecodeAttentionCuda(backend: CudaBackend, inputs: readonly Tensor[], given: KiviKernelAttrs): KernelResult {
  const [q, keyCodes, keyScale, keyMin, valueCodes, valueScale, valueMin, residualKeys, residualValues, kPos, qPos] = inputs;
  const [qHeads, m, d] = q.shape;
  const kvHeads = keyCodes.shape[0];
  const n = given.length;
  const attrs = withAutoPartition(backend, given, { n, kvRows: kvHeads, rowsPerKvRow: (qHeads / kvHeads) * m, groupSize: given.groupSize });
  const scaleType = commonDtype([keyScale, keyMin, valueScale, valueMin]);
  const residualType = commonDtype([residualKeys, residualValues]);
  const as = (staging: Staging, t: Tensor, dtype: 'f16' | 'f32') => staging.rowMajor(t.dtype === dtype ? t : staging.keep(cast(t, dtype)));
  const attention = (a: KiviKernelAttrs) => splitKDecode(backend, q, { kvHeads, n, dv: d, partition: a.partitionSize, valueBytes: 0 }, a, (launch, staging) => {
    const floats = [keyScale, keyMin, valueScale, valueMin].map((t) => as(staging, t, scaleType));
    const residual = [residualKeys, residualValues].map((t) => as(staging, t, residualType));
    const [qs, kc, vc, qp, kp] = [q, keyCodes, valueCodes, qPos, kPos].map((t) => staging.rowMajor(t));
    const { acc, stat, ...partial } = launch;
    const shape = { headDim: d, bits: attrs.bits, groupSize: attrs.groupSize, valueGroupSize: attrs.valueGroupSize, residualAddresses: residual.map((t) => backend.address(t)) };
    const mma = forcedCudaPass() !== 'vec' ? kiviMmaPlan({ ...shape, partitionSize: a.partitionSize, scaleBytes: scaleType === 'f16' ? 2 : 4, queryDtype: q.dtype }) : undefined;
    const vec = mma ? undefined : kiviVecPlan(shape);
    const config = mma ? { ...mmaDecodeLaunch(partial, { rowsPerKvRow: (qHeads / kvHeads) * m, d, dv: d }), sharedBytes: mma.sharedBytes } : partial;
    if (vec) config.sharedBytes = Math.max(config.sharedBytes, vec.sharedBytes);
    const kernel = mma ? 'kv_kivi_decode_mma_partial' : vec ? 'kv_kivi_decode_vec_partial' : `kv_kivi_decode_partial_${q.dtype}_${scaleType}_${residualType}`;
    backend.launch(kiviDecodeModule, kernel, config, [
      arg.ptr(backend.address(acc)), arg.ptr(backend.address(stat)), arg.ptr(backend.address(qs)),
      arg.ptr(backend.address(kc)), arg.ptr(backend.address(floats[0])), arg.ptr(backend.address(floats[1])),
      arg.ptr(backend.address(vc)), arg.ptr(backend.address(floats[2])), arg.ptr(backend.address(floats[3])),
      arg.ptr(backend.address(residual[0])), arg.ptr(backend.address(residual[1])),
      arg.ptr(backend.address(qp)), arg.ptr(backend.address(kp)),
      arg.i32(qHeads), arg.i32(kvHeads), arg.i32(m), arg.i32(n), arg.i32(d), arg.i32(attrs.partitionSize),
      ...maskArgs(attrs),
      arg.i32(attrs.bits), arg.i32(attrs.groupSize), arg.i32(attrs.valueGroupSize),
      arg.i32(attrs.keyGroups * attrs.groupSize), arg.i32(attrs.valueTokens),
      arg.i32(keyCodes.shape[1]), arg.i32(valueCodes.shape[1]), arg.i32(residualKeys.shape[1]), arg.i32(residualValues.shape[1]),
      ...(mma || vec ? [arg.i32(VEC_QUERY_DTYPES.indexOf(q.dtype)), arg.bool(scaleType === 'f16'), arg.bool(residualType === 'f16')] : []),
      ...(mma ? [arg.i32(mma.stages)] : []),
    ]);
  });
  return withKeyStatistics(attrs, attention, (lse) =>
    keyStatisticsCuda(backend, q, lse, {
      kernel: `kv_kivi_key_statistics_${q.dtype}_${scaleType}_${residualType}`,
      rows: qHeads,
      width: n,
      group: qHeads / kvHeads,
      headShape: [qHeads],
      kvShape: [kvHeads],
      source: (staging) => [
        ...[keyCodes, as(staging, keyScale, scaleType), as(staging, keyMin, scaleType), as(staging, residualKeys, residualType), qPos, kPos].map((t) => arg.ptr(backend.address(staging.rowMajor(t)))),
        arg.i32(attrs.bits), arg.i32(attrs.groupSize), arg.i32(attrs.keyGroups * attrs.groupSize), arg.i32(keyCodes.shape[1]), arg.i32(residualKeys.shape[1]),
      ],
    }, attrs),
  );
}
