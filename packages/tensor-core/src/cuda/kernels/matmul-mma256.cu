// Large-tile tensor-core GEMM for big f16/bf16 products: C[b] = A[b] · B[b], the same arguments,
// operand layouts and batch broadcasting as kv_gemm_mma_* in matmul.cu (which serves the shapes
// too small to fill the GPU with these tiles).
//
// kv_gemm_mma256_<f16|bf16>_<A><B>: 128 (m) × 256 (n) × 32 (k) block tiles, 8 warps in a
// 2 (m) × 4 (n) grid of 64×64 outputs each (4 A + 4 B ldmatrix.x4 per 32 mma.m16n8k16, twice the
// mma per fragment load of the 64×32 warp tiles), fragments double-buffered across k-steps (the
// next k-step's ldmatrix issue before this one's mma), a 4-stage cp.async pipeline in XOR-swizzled
// shared memory (no padding: 4 × 24 KiB = 96 KiB, which also fits 99 KiB consumer parts), one block
// per SM (8 warps, ≤ 255 registers), C staged through shared memory and written in 16-byte rows,
// blocks rasterized in groups of MW_GROUP_M tile rows so that concurrent blocks share A and B
// panels in L2. A is 'k' (k contiguous) or 'm' (m contiguous); B is 'k' or 'n'.
#include "kvkit/prelude.cuh"
#include "kvkit/async-copy.cuh"
#include "kvkit/mma.cuh"
#include "kvkit/vec16.cuh"

#define MW_BM 128
#define MW_BN 256
#define MW_BK 32
#define MW_STAGES 4
#define MW_KSTEPS (MW_BK / 16)
#define MW_STAGE_HALVES ((MW_BM + MW_BN) * MW_BK)
#define MW_C_STRIDE (MW_BN + 8)  // halves per staged C row: +16 bytes keeps the fragment writes conflict-free
#define MW_GROUP_M 8

// Shared tiles hold 16-byte chunks (8 halves). ldmatrix reads 8 rows of one chunk column, so each
// row XORs its chunk index with a few row bits to spread those 8 rows over all 8 bank groups:
// * k-major tiles ([row][32 halves], 4 chunks, 2 rows per 128 bytes): chunk ^ ((row / 2) % 4);
// * m/n-major tiles ([k][width], 16 or 32 chunks per row): chunk ^ (k % 8).
// The cp.async writes (consecutive threads, consecutive chunks of 128 bytes) stay conflict-free.
__device__ __forceinline__ int mw_kmajor(int row, int chunk) { return row * MW_BK + ((chunk ^ ((row >> 1) & 3)) << 3); }
template <int WIDTH>
__device__ __forceinline__ int mw_mnmajor(int k, int chunk) { return k * WIDTH + ((chunk ^ (k & 7)) << 3); }

// Shared address `halves` 16-bit elements past `base` (a 32-bit window offset on the GPU, a pointer
// on the emulator): fragment and copy addresses computed once as offsets instead of per access.
__device__ __forceinline__ kv_u32 mw_at(kv_u32 base, int halves) { return base + halves * 2; }
__device__ __forceinline__ const void* mw_at(const void* base, int halves) { return static_cast<const kv_u16*>(base) + halves; }

// One thread's share of copying an operand's ROWS × 32 slice (A: ROWS = BM along m; B: ROWS = BN
// along n) into a stage, k-tile after k-tile: K_MAJOR when the operand is k-contiguous (sOuter
// between its rows, tile [row][k]), else outer-contiguous (sK between its rows, tile [k][outer]).
// The thread's chunks lie ROW_STEP shared rows apart, a multiple of 8, so they all share the
// swizzle of its first. Chunks outside the matrix are zero-filled (their source is not read).
template <int ROWS, bool K_MAJOR>
struct MwOperandLoader {
  static constexpr int CHUNKS_PER_ROW = K_MAJOR ? MW_BK / 8 : ROWS / 8;
  static constexpr int CHUNKS = ROWS * MW_BK / 8 / 256;
  static constexpr int ROW_STEP = 256 / CHUNKS_PER_ROW;
  static constexpr int SMEM_STEP = ROW_STEP * (K_MAJOR ? MW_BK : ROWS);
  static_assert(ROW_STEP % 8 == 0, "a thread's chunks must share the swizzle of its first");
  const kv_u16* src;  // the thread's first chunk in the next k-tile
  kv_i64 chunkStride, tileStride;
  int smemOffset;     // of the first chunk in the operand tile, in halves
  int kNext, kSize;   // k of the first chunk in the next k-tile; K
  unsigned outerOk;   // bit r: chunk r's rows (m or n) lie inside the matrix

  __device__ __forceinline__ MwOperandLoader(const kv_u16* base, int outerBase, int outerSize, int K, kv_i64 sOuter, kv_i64 sK, int tid) : kSize(K) {
    const int row = tid / CHUNKS_PER_ROW, col = tid % CHUNKS_PER_ROW;
    outerOk = 0;
    if constexpr (K_MAJOR) {
      src = base + (kv_i64)(outerBase + row) * sOuter + col * 8;
      chunkStride = ROW_STEP * sOuter;
      tileStride = MW_BK;
      smemOffset = mw_kmajor(row, col);
      kNext = col * 8;
#pragma unroll
      for (int r = 0; r < CHUNKS; r++) outerOk |= (unsigned)(outerBase + row + r * ROW_STEP < outerSize) << r;
    } else {
      src = base + (kv_i64)row * sK + outerBase + col * 8;
      chunkStride = ROW_STEP * sK;
      tileStride = MW_BK * sK;
      smemOffset = mw_mnmajor<ROWS>(row, col);
      kNext = row;
      if (outerBase + col * 8 < outerSize) outerOk = (1u << CHUNKS) - 1;
    }
  }

  __device__ __forceinline__ void load(SmemAddress tile) {
#pragma unroll
    for (int r = 0; r < CHUNKS; r++) {
      const bool ok = ((outerOk >> r) & 1) && kNext + (K_MAJOR ? 0 : r * ROW_STEP) < kSize;
      cp_async16(mw_at(tile, smemOffset + r * SMEM_STEP), src + r * chunkStride, ok);
    }
    src += tileStride;
    kNext += MW_BK;
  }
};

// The warp's fragments of k-step ks: A for its 4 m-tiles of 16, B for its 8 n-tiles of 8.
template <bool A_K, bool B_K>
__device__ __forceinline__ void mw_load_fragments(kv_u32 (&af)[4][4], kv_u32 (&bf)[8][2], SmemAddress as, SmemAddress bs, int ks, int wm, int wn,
                                                  int lane) {
  const int j = lane >> 3, r = lane & 7;
#pragma unroll
  for (int mt = 0; mt < 4; mt++) {
    if constexpr (A_K) {
      const int row = wm + mt * 16 + (lane & 15), chunk = ks * 2 + (lane >> 4);
      ldmatrix_x4(af[mt], mw_at(as, mw_kmajor(row, chunk)));
    } else {
      const int k = ks * 16 + (j >> 1) * 8 + r, chunk = (wm + mt * 16) / 8 + (j & 1);
      ldmatrix_x4_trans(af[mt], mw_at(as, mw_mnmajor<MW_BM>(k, chunk)));
    }
  }
#pragma unroll
  for (int np = 0; np < 4; np++) {
    kv_u32 regs[4];
    if constexpr (B_K) {
      const int n = wn + np * 16 + (j >> 1) * 8 + r, chunk = ks * 2 + (j & 1);
      ldmatrix_x4(regs, mw_at(bs, mw_kmajor(n, chunk)));
    } else {
      const int k = ks * 16 + (j & 1) * 8 + r, chunk = (wn + np * 16) / 8 + (j >> 1);
      ldmatrix_x4_trans(regs, mw_at(bs, mw_mnmajor<MW_BN>(k, chunk)));
    }
    bf[np * 2][0] = regs[0];
    bf[np * 2][1] = regs[1];
    bf[np * 2 + 1][0] = regs[2];
    bf[np * 2 + 1][1] = regs[3];
  }
}

// Converts the block's accumulators to T in shared memory (the pipeline's stages, now idle), then
// writes them out a 16-byte chunk of a row per thread: coalesced rows instead of 2-byte scatters.
template <class T, bool BF16>
__device__ __forceinline__ void mw_store_tile(T* __restrict__ c, const float (&acc)[4][8][4], kv_u16* staged, int mBase, int nBase, int M, int N,
                                              int wm, int wn, int tid) {
  const int lane = tid & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int mt = 0; mt < 4; mt++)
#pragma unroll
    for (int nt = 0; nt < 8; nt++)
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int row = wm + mt * 16 + g + h * 8, col = wn + nt * 8 + t * 2;
        *reinterpret_cast<kv_u32*>(staged + row * MW_C_STRIDE + col) = mma_pack2<BF16>(acc[mt][nt][2 * h], acc[mt][nt][2 * h + 1]);
      }
  __syncthreads();
  const bool rowsAligned = N % 8 == 0;  // every row of C starts 16-byte aligned
#pragma unroll 4
  for (int i = 0; i < MW_BM * MW_BN / 8 / 256; i++) {
    const int chunk = tid + i * 256;
    const int row = chunk / (MW_BN / 8), col = (chunk % (MW_BN / 8)) * 8;
    const int gm = mBase + row, gn = nBase + col;
    if (gm >= M || gn >= N) continue;
    const kv_u16* s = staged + row * MW_C_STRIDE + col;
    T* dst = c + (kv_i64)gm * N + gn;
    if (rowsAligned) {
      *reinterpret_cast<KvVec16*>(dst) = *reinterpret_cast<const KvVec16*>(s);
    } else {
      for (int e = 0; e < 8 && gn + e < N; e++) dst[e] = T{s[e]};
    }
  }
}

template <class T, bool BF16, bool A_K, bool B_K>
__device__ __forceinline__ void gemm_mma256(T* __restrict__ C, const kv_u16* __restrict__ A, const kv_u16* __restrict__ B, int M, int N, int K,
                                            kv_i64 sAm, kv_i64 sAk, kv_i64 sBk, kv_i64 sBn, const KvLayout& batchA, const KvLayout& batchB,
                                            kv_i64 batches) {
  KV_DYNAMIC_SHARED(kv_dynamic_smem);
  kv_u16* smem = reinterpret_cast<kv_u16*>(kv_dynamic_smem);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = (warp >> 2) * 64, wn = (warp & 3) * 64;
  const int numK = (K + MW_BK - 1) / MW_BK;

  // Rasterization: blockIdx.x walks down MW_GROUP_M tile rows before moving one tile column right.
  const int tilesM = (M + MW_BM - 1) / MW_BM, tilesN = (N + MW_BN - 1) / MW_BN;
  const int perGroup = MW_GROUP_M * tilesN, group = blockIdx.x / perGroup, firstM = group * MW_GROUP_M;
  const int groupRows = min(tilesM - firstM, MW_GROUP_M), inGroup = blockIdx.x % perGroup;
  const int mBase = (firstM + inGroup % groupRows) * MW_BM, nBase = (inGroup / groupRows) * MW_BN;

  const SmemAddress stages = smem_address(smem);
  auto stageA = [&](int kt) { return mw_at(stages, (kt % MW_STAGES) * MW_STAGE_HALVES); };
  auto stageB = [&](int kt) { return mw_at(stages, (kt % MW_STAGES) * MW_STAGE_HALVES + MW_BM * MW_BK); };

  for (kv_i64 z = blockIdx.z; z < batches; z += gridDim.z) {
    MwOperandLoader<MW_BM, A_K> loadA(A + kv_offset(batchA, z), mBase, M, K, sAm, sAk, tid);
    MwOperandLoader<MW_BN, B_K> loadB(B + kv_offset(batchB, z), nBase, N, K, sBn, sBk, tid);
    auto loadStage = [&](int kt) {  // k-tiles load in order, each into stage kt % MW_STAGES
      loadA.load(stageA(kt));
      loadB.load(stageB(kt));
    };

    float acc[4][8][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int j = 0; j < 8; j++)
#pragma unroll
        for (int q = 0; q < 4; q++) acc[i][j][q] = 0.0f;

#pragma unroll
    for (int s = 0; s < MW_STAGES - 1; s++) {
      if (s < numK) loadStage(s);
      cp_async_commit();
    }
    cp_async_wait<MW_STAGES - 2>();
    __syncthreads();

    kv_u32 af[2][4][4], bf[2][8][2];
    mw_load_fragments<A_K, B_K>(af[0], bf[0], stageA(0), stageB(0), 0, wm, wn, lane);
    for (int kt = 0; kt < numK; kt++) {
#pragma unroll
      for (int ks = 0; ks < MW_KSTEPS; ks++) {
        const int nextBuf = (ks + 1) & 1;
        if (ks < MW_KSTEPS - 1) {
          mw_load_fragments<A_K, B_K>(af[nextBuf], bf[nextBuf], stageA(kt), stageB(kt), ks + 1, wm, wn, lane);
        } else {
          // Tile kt + 1 must have landed, and every warp be done reading tile kt - 1 (its stage is
          // refilled below in the next iteration), before the next tile's first fragments load.
          cp_async_wait<MW_STAGES - 2>();
          __syncthreads();
          if (kt + 1 < numK) mw_load_fragments<A_K, B_K>(af[nextBuf], bf[nextBuf], stageA(kt + 1), stageB(kt + 1), 0, wm, wn, lane);
        }
        if (ks == 0) {
          const int next = kt + MW_STAGES - 1;  // refills the stage of tile kt - 1
          if (next < numK) loadStage(next);
          cp_async_commit();
        }
        const int buf = ks & 1;
#pragma unroll
        for (int mt = 0; mt < 4; mt++)
#pragma unroll
          for (int nt = 0; nt < 8; nt++) mma_16816<BF16>(acc[mt][nt], af[buf][mt], bf[buf][nt]);
      }
    }
    cp_async_wait<0>();
    __syncthreads();  // the stages become the C staging tile

    mw_store_tile<T, BF16>(C + z * (kv_i64)M * N, acc, smem, mBase, nBase, M, N, wm, wn, tid);
    __syncthreads();  // the next batch entry refills the stages
  }
}

#define KV_GEMM_MMA256(sn, T, BF16, an, A_K, bn, B_K)                                                                       \
  extern "C" __global__ void __launch_bounds__(256, 1) kv_gemm_mma256_##sn##_##an##bn(                                       \
      T* C, const kv_u16* A, const kv_u16* B, int M, int N, int K, kv_i64 sAm, kv_i64 sAk, kv_i64 sBk, kv_i64 sBn,           \
      KvLayout batchA, KvLayout batchB, kv_i64 batches) {                                                                   \
    gemm_mma256<T, BF16, A_K, B_K>(C, A, B, M, N, K, sAm, sAk, sBk, sBn, batchA, batchB, batches);                         \
  }
#define KV_GEMM_MMA256_LAYOUTS(sn, T, BF16)     \
  KV_GEMM_MMA256(sn, T, BF16, k, true, k, true)  \
  KV_GEMM_MMA256(sn, T, BF16, k, true, n, false) \
  KV_GEMM_MMA256(sn, T, BF16, m, false, k, true) \
  KV_GEMM_MMA256(sn, T, BF16, m, false, n, false)
KV_GEMM_MMA256_LAYOUTS(f16, kv_f16, false)
KV_GEMM_MMA256_LAYOUTS(bf16, kv_bf16, true)
