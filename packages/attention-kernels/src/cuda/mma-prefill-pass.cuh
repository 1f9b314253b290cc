// Split-K pass 1 on tensor cores for prefill: blocks of MMA_PRE_ROWS (64) query rows of one KV row
// that share every K/V tile, for f16/bf16 K/V rows of dense, ragged and paged sources (DecKeyWalk),
// with the partials of the 16-row pass (mma-decode-pass.cuh) for pass 2.
//
// The 16-row pass reads each K/V tile once per 16 rows (~16 FLOPs per byte); here warp w owns rows
// 16w … 16w + 15 of the block (for m ≥ 64 consecutive queries of one query head, StandardRows) and
// all 4 warps compute on the same tile, so a tile read serves 64 rows (FlashAttention-2's shape).
// The block streams the keys in tiles of MMA_PRE_KEYS through a ring of MMA_PRE_STAGES stages filled
// by cp.async (one commit group per tile; cp_async_wait + __syncthreads per tile, which also frees
// the stage the next copies reuse). A warp's tile:
//   S = Q_w·Kᵀ: 8 n-tiles × d/16 k-steps of mma.m16n8k16 (A: the warp's query rows, in registers;
//     B: ldmatrix from the K tile [key][channel]);
//   masks (skipped on a tile every row of the warp sees whole, without soft-cap or log weights),
//   online softmax (the outputs rescaled only when a row's max grows), probabilities → A
//   fragments (mma-decode-tile.cuh);
//   O += P·V: 4 k-steps × dv/8 n-tiles, B by ldmatrix.trans from the V tile [key][channel].
// Causal / window: the block first finds the keys any of its rows may see (one pass over the
// partition's positions), streams only [first, end) of them, and a warp skips a tile none of its
// rows sees. Warps own distinct rows, so each writes its partials directly (no merge).
// Shared memory at d = dv = 128: 3 stages × 34.5 KiB (K, V [64][136] halves, positions, log
// weights) + paged row tables 1.5 KiB = 105 KiB, 2 blocks per SM; the query tile [64][d + pad]
// borrows the last stage before the loop fills it.
#pragma once
#include "mma-decode-tile.cuh"

#define MMA_PRE_WARPS 4
#define MMA_PRE_ROWS (MMA_PRE_WARPS * MMA_DEC_ROWS)
#define MMA_PRE_KEYS 64
#define MMA_PRE_STAGES 3
// Score n-tiles (8 keys) and P·V k-steps (16 keys) of a tile.
#define MMA_PRE_NTILES (MMA_PRE_KEYS / 8)
#define MMA_PRE_PSTEPS (MMA_PRE_KEYS / 16)
// Position loads a thread keeps in flight while the block looks for the keys its rows may see.
#define MMA_PRE_SCAN_LOADS 16

// Bytes of one stage and of the whole pass (mma-decode-plan.ts sizes launches with the same rule):
// the stages, a row table per stage (paged sources) and a small scratch for block reductions.
__device__ __forceinline__ int mma_pre_tables_offset(int d, int dv) { return MMA_PRE_STAGES * mma_kv_stage_bytes(MMA_PRE_KEYS, d, dv); }
__device__ __forceinline__ int mma_pre_scratch_offset(int d, int dv) { return mma_pre_tables_offset(d, dv) + MMA_PRE_STAGES * MMA_PRE_KEYS * 8; }

// Stage b of the ring: an MmaKvStage of 64 keys.
template <class TK>
__device__ __forceinline__ MmaKvStage<TK> mma_pre_stage(int b, int d, int dv) {
  KV_DYNAMIC_SHARED(kv_decode_smem);
  return mma_kv_stage_at<TK>(kv_decode_smem + b * mma_kv_stage_bytes(MMA_PRE_KEYS, d, dv), MMA_PRE_KEYS, d, dv);
}
// Rows (into K/V) of tile t's keys for a paged source, in table t % MMA_PRE_STAGES: looked up one
// tile ahead of their copies, so those never wait for the page table.
__device__ __forceinline__ kv_i64* mma_pre_row_table(int t, int d, int dv) {
  KV_DYNAMIC_SHARED(kv_decode_smem);
  return reinterpret_cast<kv_i64*>(kv_decode_smem + mma_pre_tables_offset(d, dv)) + (t % MMA_PRE_STAGES) * MMA_PRE_KEYS;
}

// Warp-wide min / max by xor-shuffles (every lane gets the result).
__device__ __forceinline__ int mma_warp_min(int v) {
#pragma unroll
  for (int k = 1; k < 32; k <<= 1) v = min(v, __shfl_xor_sync(0xffffffffu, v, k));
  return v;
}
__device__ __forceinline__ int mma_warp_max(int v) {
#pragma unroll
  for (int k = 1; k < 32; k <<= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, k));
  return v;
}

// Block-wide min of lo and max of hi through `scratch` (2 · warps ints, not reused before the next
// barrier); every thread gets both.
__device__ __forceinline__ void mma_block_min_max(int& lo, int& hi, int* scratch) {
  const int warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  lo = mma_warp_min(lo);
  hi = mma_warp_max(hi);
  if ((threadIdx.x & 31) == 0) {
    scratch[warp] = lo;
    scratch[warps + warp] = hi;
  }
  __syncthreads();
  for (int w = 0; w < warps; w++) {
    lo = min(lo, scratch[w]);
    hi = max(hi, scratch[warps + w]);
  }
}

// The query positions [lo, hi] of some rows: whether a key at kp may be seen by one of them
// (conservative: causal against the last, window against the first), or is seen by all of them.
__device__ __forceinline__ bool mma_pre_may_see(kv_i32 kp, kv_i32 lo, kv_i32 hi, int causal, int window) {
  return (!causal || kp <= hi) && (window <= 0 || (kv_i64)lo - kp < window);
}
__device__ __forceinline__ bool mma_pre_sees_all(kv_i32 kp, kv_i32 lo, kv_i32 hi, int causal, int window) {
  return (!causal || kp <= lo) && (window <= 0 || (kv_i64)hi - kp < window);
}

// The keys [first, end) of the partition [j0, j1) that rows at positions [lo, hi] may see (first ==
// end: none): one pass over their positions, MMA_PRE_SCAN_LOADS loads in flight per thread (a
// causal prompt's block reads all n positions: few round trips, L2 hits). Block-uniform.
__device__ __forceinline__ void mma_pre_visible_keys(const DecKeyWalk& walk, int j0, int j1, kv_i32 lo, kv_i32 hi, int causal, int window, int* scratch, int& first,
                                                     int& end) {
  int a = j1, b = j0 - 1;
  for (int j = j0 + threadIdx.x; j < j1; j += MMA_PRE_SCAN_LOADS * blockDim.x) {
    kv_i32 kp[MMA_PRE_SCAN_LOADS];
#pragma unroll
    for (int u = 0; u < MMA_PRE_SCAN_LOADS; u++) {
      const int ju = j + u * blockDim.x;
      kp[u] = ju < j1 ? walk.position(ju, walk.row(ju)) : 0;
    }
#pragma unroll
    for (int u = 0; u < MMA_PRE_SCAN_LOADS; u++) {
      const int ju = j + u * blockDim.x;
      if (ju < j1 && mma_pre_may_see(kp[u], lo, hi, causal, window)) {
        a = min(a, ju);
        b = max(b, ju);
      }
    }
  }
  mma_block_min_max(a, b, scratch);
  first = a <= b ? a : j0;
  end = a <= b ? b + 1 : j0;
}

// Fills tile t's row table with the rows of its keys (paged sources only; 0 past `end`).
__device__ __forceinline__ void mma_pre_look_up_rows(const DecKeyWalk& walk, int first, int end, int t, int tiles, int d, int dv) {
  if (!walk.pages || t >= tiles || threadIdx.x >= MMA_PRE_KEYS) return;
  const int key = first + t * MMA_PRE_KEYS + threadIdx.x;
  mma_pre_row_table(t, d, dv)[threadIdx.x] = key < end ? walk.row(key) : 0;
}

// Copies `keys` rows of `width` elements of a tile (the rest zero) into [64][width + pad]: 16-byte
// chunks, consecutive threads on consecutive chunks of a row.
template <class TK>
__device__ __forceinline__ void mma_pre_copy_rows(TK* tile, const TK* src, const DecKeyWalk& walk, const kv_i64* rowTable, int base, int keys, int width) {
  const int chunks = width / 8, perPass = blockDim.x / chunks, c = threadIdx.x % chunks;
  for (int kk = threadIdx.x / chunks; kk < MMA_PRE_KEYS; kk += perPass) {
    const bool valid = kk < keys;
    const kv_i64 row = !valid ? 0 : walk.pages ? rowTable[kk] : walk.rowBase + base + kk;
    cp_async16(smem_address(tile + kk * (width + MMA_DEC_PAD) + c * 8), src + row * width + c * 8, valid);
  }
}

// Tile t's copies (K, V, positions, log weights of keys first + 64t …) into stage t % STAGES; one
// commit group per tile, empty past the last, so cp_async_wait counts tiles.
template <class TK>
__device__ __forceinline__ void mma_pre_issue(const TK* K, const TK* V, const DecKeyWalk& walk, int first, int end, int t, int tiles, int d, int dv) {
  if (t < tiles) {
    const MmaKvStage<TK> S = mma_pre_stage<TK>(t % MMA_PRE_STAGES, d, dv);
    const kv_i64* rowTable = mma_pre_row_table(t, d, dv);
    const int base = first + t * MMA_PRE_KEYS, keys = min(MMA_PRE_KEYS, end - base);
    if (threadIdx.x < MMA_PRE_KEYS) {
      const int kk = threadIdx.x;
      const bool valid = kk < keys;
      const kv_i64 row = !valid ? 0 : walk.pages ? rowTable[kk] : walk.rowBase + base + kk;
      cp_async4(smem_address(S.positions + kk), walk.positions + (walk.positionByRow ? row : walk.posBase + base + kk), valid);
      if (walk.logW) cp_async4(smem_address(S.logWeights + kk), walk.logW + row, valid);
    }
    mma_pre_copy_rows(S.keys, K, walk, rowTable, base, keys, d);
    mma_pre_copy_rows(S.values, V, walk, rowTable, base, keys, dv);
  }
  cp_async_commit();
}

// One warp's rows: positions and partial slots of the lane's rows g and g + 8, whether they exist,
// and the positions [lo, hi] the warp's live rows span (any: the warp has a row).
struct MmaPreWarpRows {
  kv_i32 position[2];
  kv_i64 slot[2];
  bool live[2];
  kv_i32 lo, hi;
  bool any;
};

// The pass after the visible keys, the first tiles' copies and the query tile. Not inlined and templated on the key dtype
// only, so two copies serve every query dtype and source.
template <class TK>
__device__ __noinline__ void mma_prefill_body(const TK* K, const TK* V, float* partAcc, float* partStat, const DecKeyWalk walk, const MmaPreWarpRows rows,
                                              int first, int end, int d, int dv, int causal, int window, float softcap) {
  constexpr bool BF16 = MmaOperand<TK>::BF16;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int tiles = (end - first + MMA_PRE_KEYS - 1) / MMA_PRE_KEYS;

  __syncthreads();  // the query tile is complete
  kv_u32 qa[MMA_DEC_KSTEPS][4];
  mma_query_fragments<MMA_DEC_KSTEPS>(mma_pre_stage<TK>(MMA_PRE_STAGES - 1, d, dv).keys + warp * MMA_DEC_ROWS * (d + MMA_DEC_PAD), d, qa);

  MmaRowState st;
  mma_state_init(st);
  float o[MMA_DEC_VTILES][4];
#pragma unroll
  for (int dt = 0; dt < MMA_DEC_VTILES; dt++) o[dt][0] = o[dt][1] = o[dt][2] = o[dt][3] = 0.0f;
  // Masks can be skipped only where every row of the warp is live and nothing but positions masks.
  const bool plainScores = !__any_sync(0xffffffffu, !rows.live[1]) && softcap <= 0.0f && !walk.logW;  // row g + 8 live: row g too

  // ldmatrix row addresses as in mma-decode-pass.cuh: K as B of two n-tiles (16 keys), V transposed.
  const int kOffset = ((lane & 7) + (lane >> 4) * 8) * (d + MMA_DEC_PAD) + ((lane >> 3) & 1) * 8;
  const int vOffset = ((lane & 7) + ((lane >> 3) & 1) * 8) * (dv + MMA_DEC_PAD) + (lane >> 4) * 8;

  for (int t = 0; t < tiles; t++) {
    cp_async_wait<MMA_PRE_STAGES - 2>();
    // Tile t's copies, by every thread, have landed; every warp is done with tile t − 1, whose stage
    // the copies below refill (and the query tile, the first time).
    __syncthreads();
    mma_pre_look_up_rows(walk, first, end, t + MMA_PRE_STAGES, tiles, d, dv);
    mma_pre_issue(K, V, walk, first, end, t + MMA_PRE_STAGES - 1, tiles, d, dv);
    if (!rows.any) continue;

    const MmaKvStage<TK> S = mma_pre_stage<TK>(t % MMA_PRE_STAGES, d, dv);
    const int keys = min(MMA_PRE_KEYS, end - first - t * MMA_PRE_KEYS);
    // Which keys of the tile the warp's rows may see / all see (2 keys a lane).
    bool may = false, all = true;
#pragma unroll
    for (int h = 0; h < 2; h++) {
      const int kk = lane + 32 * h;
      const kv_i32 kp = S.positions[kk];
      may |= kk < keys && mma_pre_may_see(kp, rows.lo, rows.hi, causal, window);
      all &= kk < keys && mma_pre_sees_all(kp, rows.lo, rows.hi, causal, window);
    }
    if (!__any_sync(0xffffffffu, may)) continue;  // warp-uniform
    const bool masks = !plainScores || __any_sync(0xffffffffu, !all);

    float s[MMA_PRE_NTILES][4];
#pragma unroll
    for (int nt = 0; nt < MMA_PRE_NTILES; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < MMA_DEC_KSTEPS; ks++) {
      if (ks >= d / 16) break;
      kv_u32 b[MMA_PRE_PSTEPS][4];  // the k-step's channels of the tile's 4 key groups of 16
#pragma unroll
      for (int p = 0; p < MMA_PRE_PSTEPS; p++) ldmatrix_x4(b[p], smem_address(S.keys + kOffset + p * 16 * (d + MMA_DEC_PAD) + ks * 16));
#pragma unroll
      for (int p = 0; p < MMA_PRE_PSTEPS; p++) {
        mma_16816<BF16>(s[2 * p], qa[ks], b[p]);
        mma_16816<BF16>(s[2 * p + 1], qa[ks], b[p] + 2);
      }
    }
    if (masks) mma_mask_scores<MMA_PRE_NTILES>(s, S.positions, walk.logW ? S.logWeights : nullptr, keys, rows.position, rows.live, causal, window, softcap);
    float rescale[2];
    mma_softmax_probabilities(s, st, rescale);
    // Once the rows' maxima settle (most tiles of a long prompt), the 64 multiplies of the output
    // tiles are skipped; the vote costs 5 shuffles.
    if (__any_sync(0xffffffffu, rescale[0] != 1.0f || rescale[1] != 1.0f)) mma_rescale_outputs(o, rescale);
    kv_u32 pa[MMA_PRE_PSTEPS][4];
    mma_probability_fragments<BF16, MMA_PRE_PSTEPS>(s, pa);
#pragma unroll
    for (int k = 0; k < MMA_PRE_PSTEPS; k++) {
      if (k * 16 >= keys) break;  // zero probabilities (keys past the tile's end)
      kv_u32 bv[MMA_DEC_VTILES / 2][4];
#pragma unroll
      for (int p = 0; p < MMA_DEC_VTILES / 2; p++)
        if (p < dv / 16) ldmatrix_x4_trans(bv[p], smem_address(S.values + vOffset + k * 16 * (dv + MMA_DEC_PAD) + p * 16));
#pragma unroll
      for (int p = 0; p < MMA_DEC_VTILES / 2; p++) {
        if (p >= dv / 16) break;
        mma_16816<BF16>(o[2 * p], pa[k], bv[p]);
        mma_16816<BF16>(o[2 * p + 1], pa[k], bv[p] + 2);
      }
    }
  }
  cp_async_wait<0>();  // only empty groups remain
  mma_write_warp_partials<MMA_DEC_VTILES>(o, st, rows.slot, rows.live, dv, partAcc, partStat);
}

// The pass: blockIdx.x partition, blockIdx.y KV row, blockIdx.z chunk of 64 rows in reverse (the
// last rows of a causal prefill see the most keys: their blocks start first, the light ones fill
// the tail).
template <class TQ, class TK, class Source, class Rows>
__device__ void mma_prefill_partial(const TK* K, const TK* V, float* partAcc, float* partStat, const TQ* Q, const Source src, const Rows rowMap, int d, int dv,
                                    float scale, int causal, int window, float softcap) {
  KV_DYNAMIC_SHARED(kv_decode_smem);
  const int part = blockIdx.x, kvh = blockIdx.y;
  const int count = rowMap.count(kvh);
  const int r0 = (gridDim.z - 1 - blockIdx.z) * MMA_PRE_ROWS;
  int j0 = 0, j1 = 0;
  if (r0 >= count || !rowMap.keys(src, part, kvh, j0, j1)) return;  // block-uniform, before any barrier
  const DecKeyWalk walk = src.walk(kvh);
  const int lane = threadIdx.x & 31, g = lane >> 2;
  const int warpRow = r0 + (threadIdx.x >> 5) * MMA_DEC_ROWS;

  MmaPreWarpRows rows;
  int lo = 0x7fffffff, hi = -0x7fffffff - 1;  // no live row: an empty span
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const int rr = warpRow + g + 8 * h;
    rows.live[h] = rr < count;
    rows.position[h] = rows.live[h] ? rowMap.queryPosition(src, kvh, rr) : 0;
    rows.slot[h] = rows.live[h] ? rowMap.slot(part, kvh, rr) : 0;
    if (rows.live[h]) {
      lo = min(lo, rows.position[h]);
      hi = max(hi, rows.position[h]);
    }
  }
  rows.lo = mma_warp_min(lo);
  rows.hi = mma_warp_max(hi);
  rows.any = __any_sync(0xffffffffu, rows.live[0]);

  int first = j0, end = max(j0, j1);  // a ragged row may end before the partition starts
  if (causal || window > 0) {
    int* scratch = reinterpret_cast<int*>(kv_decode_smem + mma_pre_scratch_offset(d, dv));
    int blockLo = rows.lo, blockHi = rows.hi;
    mma_block_min_max(blockLo, blockHi, scratch);
    mma_pre_visible_keys(walk, j0, end, blockLo, blockHi, causal, window, scratch + 2 * MMA_PRE_WARPS, first, end);
  }
  // The first tiles' copies go out before the block stages its query rows, so the latencies overlap.
  const int tiles = (end - first + MMA_PRE_KEYS - 1) / MMA_PRE_KEYS;
  for (int t = 0; t < MMA_PRE_STAGES; t++) mma_pre_look_up_rows(walk, first, end, t, tiles, d, dv);
  if (walk.pages) __syncthreads();  // the row tables are complete
  for (int t = 0; t < MMA_PRE_STAGES - 1; t++) mma_pre_issue(K, V, walk, first, end, t, tiles, d, dv);
  mma_stage_query_rows<TQ, TK>(Q, rowMap, kvh, r0, min(MMA_PRE_ROWS, count - r0), MMA_PRE_ROWS, d, scale, mma_pre_stage<TK>(MMA_PRE_STAGES - 1, d, dv).keys);
  mma_prefill_body<TK>(K, V, partAcc, partStat, walk, rows, first, end, d, dv, causal, window, softcap);
}
