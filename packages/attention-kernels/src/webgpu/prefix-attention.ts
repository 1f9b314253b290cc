import { concat, reshape, type Tensor } from '@kvkit/tensor-core';
import type { WebGpuBackend } from '@kvkit/tensor-core/webgpu';
import { prefixLaunch, type PrefixAttrs } from '../gpu/prefix-launch.js';
import { withKeyStatistics } from '../gpu/with-statistics.js';
import type { KernelResult } from '../ops/attention-types.js';
import { pagedKeys, pagedStatisticsWebGpu } from './decode-attention.js';
import { dispatchPartials, mergePartialsWebGpu, partialRows, type SourcePass } from './split-k.js';
import { rowsAligned, wordRowSource, wordRowsBinding } from './word-rows.js';

/**
 * ChunkAttention's two-phase decode in WGSL, on the split-K kernel with two row mappings writing
 * one set of partial states, then the split-K merge (see `prefixLaunch` for the slot layout).
 * Every slot is cut into `plan.pieces` key partitions (one when chunks are at most
 * PREFIX_PARTITION tokens: runs are then ≤ 512 keys already), piece p of slot t being partial state
 * p·slots + t. Phase 1 (chunk-first): one workgroup per (piece, run of shared chunks, KV head,
 * block of ≤ 8 of its users' query rows), so a chunk's page is read once for every request that
 * shares it, not once per request, and a long run by several workgroups. Phase 2
 * (sequence-first): the paged pass over each request's own chunks, in pieces too. The merge folds
 * each row's pieces (its shared runs', then its own) by log-sum-exp.
 * Statistics, when asked for, take the paged kernel's statistics pass over each request's whole
 * path (inputs 14 and 15: a block table of the path) from the rows' merged lse.
 */
export function prefixSharedAttentionWebGpu(backend: WebGpuBackend, inputs: readonly Tensor[], attrs: PrefixAttrs): KernelResult {
  return withKeyStatistics(attrs, (a) => twoPhase(backend, inputs, a), (lse) => {
    const [q, poolKeys, , poolPositions, qPos] = inputs;
    const [pathTable, pathLengths] = inputs.slice(14);
    const [batch, qHeads, m, d] = q.shape;
    const folded = reshape(q, [batch * qHeads, m, d]);
    const paged = pagedKeys(poolKeys, poolPositions, pathTable, pathLengths, qPos);
    try {
      return pagedStatisticsWebGpu(backend, folded, lse, paged.keys, batch, pathTable.shape[1], attrs);
    } finally {
      paged.dispose();
      folded.dispose();
    }
  });
}

function twoPhase(backend: WebGpuBackend, inputs: readonly Tensor[], attrs: PrefixAttrs): KernelResult {
  const where = 'prefixSharedAttention';
  const [q, poolKeys, poolValues, poolPositions, qPos, chunkPages, chunkCounts, usersIndptr, users, ownTable, ownLengths, runStarts, runSlots, ownStart] = inputs;
  const plan = prefixLaunch(backend, inputs, attrs, partialRows(q, poolValues.shape[2], where));
  const { batch, qHeads, m, kvHeads, group, dv, rows } = plan;
  if (rows === 0 || dv === 0) return plan.result();
  const made: Tensor[] = [];
  const keep = (t: Tensor): Tensor => made[made.push(t) - 1];
  const flat = (t: Tensor) => keep(reshape(t, [t.size]));
  const folded = keep(reshape(q, [batch * qHeads, m, q.shape[3]]));
  const pool = [poolKeys, poolValues, poolPositions].map((t) => (t.isContiguous() ? t : keep(reshape(t, t.shape))));
  const partials = keep(backend.empty([plan.pieceSlots * rows * (dv + 2)], 'f32'));
  try {
    const common = {
      withLogWeights: false,
      bindings: [
        wordRowsBinding('pk'),
        wordRowsBinding('pv'),
        { name: 'ppos', dtype: 'i32' as const, access: 'read' as const },
        { name: 'tables', dtype: 'i32' as const, access: 'read' as const },
      ],
      uniforms: ['pk_offset', 'pv_offset', 'ppos_offset', 'page_size', 'kv_per_request', 'heads_per_request', 'slots', 'pieces', ...META_FIELDS].map((name) => ({ name, type: 'u32' as const })),
    };
    const poolValuesOf = { pk_offset: pool[0].offset, pv_offset: pool[1].offset, ppos_offset: pool[2].offset, page_size: plan.pageSize, kv_per_request: kvHeads, heads_per_request: qHeads, slots: plan.slots, pieces: plan.pieces };
    const grid = { heads: batch * qHeads, m, group, n: plan.pageSize, dv, partition: plan.ownPartition, partSlots: plan.pieceSlots * rows };
    const [keysAligned, valuesAligned] = [rowsAligned(pool[0]), rowsAligned(pool[1])];
    // Token j of KV row kvh is pool row slot_of(kvh, j) (the phase's page walk) for keys and values.
    const poolRows =
      wordRowSource('key', 'pk', pool[0].dtype, 'u_d()', keysAligned, 'u_pk_offset() + slot_of(kvh, j) * u_d()') +
      wordRowSource('value', 'pv', pool[1].dtype, 'u_dv()', valuesAligned, 'u_pv_offset() + slot_of(kvh, j) * u_dv()');
    // Small i32 tables joined into one binding: the pass already binds q, the pool and the partials.
    const phase = (name: string, code: string, rows: string, tables: Tensor[]): SourcePass => {
      const parts = tables.map(flat);
      return {
        ...common,
        key: `prefix-${name}:${pool[0].dtype}:${keysAligned ? 'a' : 'u'}:${pool[1].dtype}:${valuesAligned ? 'a' : 'u'}`,
        code: POOL_READS + code + poolRows,
        buffers: [...pool, keep(concat(parts, 0))],
        values: { ...poolValuesOf, ...metaOffsets(parts), max_own: ownTable.shape[2] },
        rows,
      };
    };
    if (plan.runs > 0) {
      const pass = phase('shared', SHARED_PHASE, SHARED_ROWS, [chunkPages, chunkCounts, usersIndptr, users, runStarts, runSlots, qPos]);
      dispatchPartials(backend, folded, partials, { ...grid, kvRows: plan.runs * kvHeads, parts: plan.pieces, chunks: plan.sharedRowChunks, rowsPerKvRow: attrs.maxUsers * group * m }, attrs, where, pass);
    }
    const pass = phase('own', OWN_PHASE, OWN_ROWS, [ownTable, ownLengths, ownStart, qPos]);
    dispatchPartials(backend, folded, partials, { ...grid, kvRows: batch * kvHeads, parts: plan.pieceSlots, chunks: plan.ownRowChunks, rowsPerKvRow: group * m }, attrs, where, pass);
    mergePartialsWebGpu(backend, partials, { rows, parts: plan.pieceSlots, dv }, plan.output, plan.lse);
  } finally {
    for (const t of made) t.dispose();
  }
  return plan.result();
}

/** Where each table starts in the joined i32 buffer (`tables`), as uniforms a0 … a6. */
const META_FIELDS = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'max_own'];
function metaOffsets(parts: readonly Tensor[]): Record<string, number> {
  const values: Record<string, number> = { a4: 0, a5: 0, a6: 0 };
  let at = 0;
  parts.forEach((t, i) => {
    values[`a${i}`] = at;
    at += t.size;
  });
  return values;
}

/** Pool slots (pages are whole rows of a head; pool rows are row-major from their offsets) and the tables. */
const POOL_READS = `
fn page_slot(page: u32, j: u32) -> u32 { return page * u_page_size() + j; }
fn kpos_at(kvh: u32, j: u32) -> i32 { return ppos_load(u_ppos_offset() + slot_of(kvh, j)); }
fn tbl(table: u32, i: u32) -> u32 { return u32(tables_load(table + i)); }
/** Query row (request b, query head h, query i) of the folded q [B·H, m, d]. */
fn q_of(b: u32, h: u32, i: u32) -> u32 { return u_q_offset() + (b * u_heads_per_request() + h) * u_q_strides(0u) + i * u_q_strides(1u); }
fn slot_row(b: u32, h: u32, i: u32) -> u32 { return (b * u_heads_per_request() + h) * u_m() + i; }
/** Where the partial state of piece p of slot t goes for query row \`row\` (a slot_row). */
fn piece_state(p: u32, t: u32, row: u32) -> u32 { return (p * u_slots() + t) * u_heads() * u_m() + row; }
/** Keys [x, y) of piece p of a slot's keys [0, span): u_pieces() spans of whole tiles (WG keys). */
fn piece_keys(span: u32, p: u32) -> vec2<u32> {
  let len = (((span + WG - 1u) / WG + u_pieces() - 1u) / u_pieces()) * WG;
  return vec2<u32>(min(span, p * len), min(span, (p + 1u) * len));
}`;

/**
 * Phase 1: KV row kvh = r·kvHeads + head is run r of shared chunks (consecutive, full, with the same
 * users) for that head; its rows are (user u, query head g of the group, query i), u·group·m + g·m + i;
 * partition \`part\` is piece \`part\` of the run (\`piece_keys\`), kept in the run's slot.
 * Tables in \`tables\`: a0 chunkPages [S, kvHeads], a1 chunkCounts, a2 usersIndptr, a3 users (per
 * chunk; a run's users are its first chunk's), a4 runStarts [R+1], a5 runSlots, a6 qPos [B, m].
 */
const SHARED_PHASE = `
fn run_of(kvh: u32) -> u32 { return kvh / u_kv_per_request(); }
fn first_chunk(kvh: u32) -> u32 { return tbl(u_a4(), run_of(kvh)); }
fn user_of(kvh: u32, rr: u32) -> u32 { return tbl(u_a3(), tbl(u_a2(), first_chunk(kvh)) + rr / (u_group() * u_m())); }
fn run_page(kvh: u32, j: u32) -> u32 { return tbl(u_a0(), (first_chunk(kvh) + j / u_page_size()) * u_kv_per_request() + kvh % u_kv_per_request()); }
fn slot_of(kvh: u32, j: u32) -> u32 { return page_slot(run_page(kvh, j), j % u_page_size()); }`;
const SHARED_ROWS = `
fn rows_of(kvh: u32) -> u32 { let c = first_chunk(kvh); return (tbl(u_a2(), c + 1u) - tbl(u_a2(), c)) * u_group() * u_m(); }
fn head_of(kvh: u32, rr: u32) -> u32 { return (kvh % u_kv_per_request()) * u_group() + (rr / u_m()) % u_group(); }
fn q_row(kvh: u32, rr: u32) -> u32 { return q_of(user_of(kvh, rr), head_of(kvh, rr), rr % u_m()); }
fn row_qpos(kvh: u32, rr: u32) -> i32 { return tables_load(u_a6() + user_of(kvh, rr) * u_m() + rr % u_m()); }
fn partial_slot(part: u32, kvh: u32, rr: u32) -> u32 {
  return piece_state(part, tbl(u_a5(), run_of(kvh)), slot_row(user_of(kvh, rr), head_of(kvh, rr), rr % u_m()));
}
fn part_active(part: u32, kvh: u32) -> bool { return true; }
fn part_keys(part: u32, kvh: u32) -> vec2<u32> {
  let last = tbl(u_a4(), run_of(kvh) + 1u) - 1u;
  return piece_keys((last - first_chunk(kvh)) * u_page_size() + tbl(u_a1(), last), part);
}`;

/**
 * Phase 2: KV row kvh = b·kvHeads + head walks request b's own pages; partition \`part\` is piece
 * part % pieces of slot t = part / pieces of the row, which holds own tokens
 * [(t − ownStart[b])·partition, +partition) (slots before ownStart are phase 1's: skipped; slots
 * past the request's path hold empty states). Tables: a0 ownTable [B, kvHeads, maxOwn], a1
 * ownLengths [B], a2 ownStart [B], a3 qPos [B, m].
 */
const OWN_PHASE = `
fn request_of(kvh: u32) -> u32 { return kvh / u_kv_per_request(); }
fn own_page(kvh: u32, j: u32) -> u32 { return tbl(u_a0(), kvh * u_max_own() + j / u_page_size()); }
fn slot_of(kvh: u32, j: u32) -> u32 { return page_slot(own_page(kvh, j), j % u_page_size()); }`;
const OWN_ROWS = `
fn rows_of(kvh: u32) -> u32 { return u_group() * u_m(); }
fn head_of(kvh: u32, rr: u32) -> u32 { return (kvh % u_kv_per_request()) * u_group() + rr / u_m(); }
fn q_row(kvh: u32, rr: u32) -> u32 { return q_of(request_of(kvh), head_of(kvh, rr), rr % u_m()); }
fn row_qpos(kvh: u32, rr: u32) -> i32 { return tables_load(u_a3() + request_of(kvh) * u_m() + rr % u_m()); }
fn partial_slot(part: u32, kvh: u32, rr: u32) -> u32 {
  return piece_state(part % u_pieces(), part / u_pieces(), slot_row(request_of(kvh), head_of(kvh, rr), rr % u_m()));
}
fn part_active(part: u32, kvh: u32) -> bool { return part / u_pieces() >= tbl(u_a2(), request_of(kvh)); }
fn part_keys(part: u32, kvh: u32) -> vec2<u32> {
  let len = tbl(u_a1(), request_of(kvh));
  let j0 = min(len, (part / u_pieces() - tbl(u_a2(), request_of(kvh))) * u_partition());
  return j0 + piece_keys(min(len, j0 + u_partition()) - j0, part % u_pieces());
}`;
