import { type AttendOptions, type AttendResult, type KVCacheLayer, type Tensor, validateAttend } from '@kvkit/tensor-core';
import { pagedAttention } from '../ops/paged-attention.js';
import type { BlockTableView } from './block-table.js';

/** `KVCacheLayer.attend` of a layer whose tokens live in a block table (paged and prefix-shared layers). */
export function attendThroughTable(layer: Pick<KVCacheLayer, 'headDim' | 'kvHeads' | 'layerIndex'>, table: BlockTableView, q: Tensor, options: AttendOptions): AttendResult {
  validateAttend(layer, q, options);
  const { positions, ...rest } = options;
  const r = pagedAttention(q, table, { ...rest, queryPositions: positions });
  return { output: r.output, ...(r.statistics ? { statistics: r.statistics } : {}), ...(r.lse ? { lse: r.lse } : {}) };
}
