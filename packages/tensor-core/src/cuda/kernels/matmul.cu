// Batched matrix product C[b] = A[b] · B[b] with arbitrary element strides for A (m, k) and B (k, n)
// — transposes and strided views need no copy — and broadcast batch offsets from KvLayouts.
//
// * kv_gemm_simt_<dtype>: every float dtype; 128×128 tiles, 8×8 outputs per thread from shared
//   memory (double-buffered), f32 FMA accumulation (true f32, no TF32).
// * kv_gemm_mma_<f16|bf16>_<A><B>: tensor cores (mma.sync m16n8k16, f32 accumulation), 128×128×32
//   tiles, a 3-stage cp.async pipeline, ldmatrix fragment loads; two blocks per SM (128 registers
//   per thread without spills, 2 × 60 KiB shared memory). A is 'k' (k contiguous) or 'm'
//   (m contiguous); B is 'k' or 'n'. The launcher picks it when the contiguous dimensions are
//   multiples of 8 and every row starts 16-byte aligned, else the SIMT kernel — except for products
//   large enough for the 128×256 tiles of kv_gemm_mma256_* (matmul-mma256.cu).
#include "kvkit/prelude.cuh"
#include "kvkit/async-copy.cuh"
#include "kvkit/mma.cuh"

// ---- SIMT ----------------------------------------------------------------------------------------

#define SG_BM 128
#define SG_BN 128
#define SG_BK 8
#define SG_PAD 4

// Four floats loaded from shared memory in one 16-byte access.
struct alignas(16) Float4 {
  float x, y, z, w;
};

template <class T>
__device__ __forceinline__ void gemm_simt(T* __restrict__ C, const T* __restrict__ A, const T* __restrict__ B, int M, int N, int K, kv_i64 sAm,
                                          kv_i64 sAk, kv_i64 sBk, kv_i64 sBn, const KvLayout& batchA, const KvLayout& batchB, kv_i64 batches) {
  __shared__ __attribute__((aligned(16))) float As[2][SG_BK][SG_BM + SG_PAD];
  __shared__ __attribute__((aligned(16))) float Bs[2][SG_BK][SG_BN + SG_PAD];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int mBase = blockIdx.y * SG_BM, nBase = blockIdx.x * SG_BN;
  const bool aRowMajor = sAk == 1;  // k contiguous: neighbouring threads read along k
  const bool bRowMajor = sBn == 1;  // n contiguous: neighbouring threads read along n

  for (kv_i64 z = blockIdx.z; z < batches; z += gridDim.z) {
    const T* a = A + kv_offset(batchA, z);
    const T* b = B + kv_offset(batchB, z);
    float acc[8][8];
#pragma unroll
    for (int i = 0; i < 8; i++)
#pragma unroll
      for (int j = 0; j < 8; j++) acc[i][j] = 0.0f;

    float ra[4], rb[4];
    auto loadTile = [&](int kBase) {
#pragma unroll
      for (int r = 0; r < 4; r++) {
        const int e = tid + r * 256;
        const int i = aRowMajor ? e / SG_BK : e % SG_BM;
        const int p = aRowMajor ? e % SG_BK : e / SG_BM;
        const int gm = mBase + i, gk = kBase + p;
        ra[r] = (gm < M && gk < K) ? KvType<T>::load(a[gm * sAm + gk * sAk]) : 0.0f;
        const int j = bRowMajor ? e % SG_BN : e / SG_BK;
        const int q = bRowMajor ? e / SG_BN : e % SG_BK;
        const int gn = nBase + j, gq = kBase + q;
        rb[r] = (gn < N && gq < K) ? KvType<T>::load(b[gq * sBk + gn * sBn]) : 0.0f;
      }
    };
    auto storeTile = [&](int buf) {
#pragma unroll
      for (int r = 0; r < 4; r++) {
        const int e = tid + r * 256;
        As[buf][aRowMajor ? e % SG_BK : e / SG_BM][aRowMajor ? e / SG_BK : e % SG_BM] = ra[r];
        Bs[buf][bRowMajor ? e / SG_BN : e % SG_BK][bRowMajor ? e % SG_BN : e / SG_BK] = rb[r];
      }
    };

    const int numK = (K + SG_BK - 1) / SG_BK;
    loadTile(0);
    storeTile(0);
    __syncthreads();
    for (int kt = 0; kt < numK; kt++) {
      const int cur = kt & 1;
      if (kt + 1 < numK) loadTile((kt + 1) * SG_BK);
#pragma unroll
      for (int p = 0; p < SG_BK; p++) {
        float av[8], bv[8];
        const Float4 a0 = *reinterpret_cast<const Float4*>(&As[cur][p][ty * 4]);
        const Float4 a1 = *reinterpret_cast<const Float4*>(&As[cur][p][64 + ty * 4]);
        const Float4 b0 = *reinterpret_cast<const Float4*>(&Bs[cur][p][tx * 4]);
        const Float4 b1 = *reinterpret_cast<const Float4*>(&Bs[cur][p][64 + tx * 4]);
        av[0] = a0.x, av[1] = a0.y, av[2] = a0.z, av[3] = a0.w, av[4] = a1.x, av[5] = a1.y, av[6] = a1.z, av[7] = a1.w;
        bv[0] = b0.x, bv[1] = b0.y, bv[2] = b0.z, bv[3] = b0.w, bv[4] = b1.x, bv[5] = b1.y, bv[6] = b1.z, bv[7] = b1.w;
#pragma unroll
        for (int i = 0; i < 8; i++)
#pragma unroll
          for (int j = 0; j < 8; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
      if (kt + 1 < numK) storeTile(cur ^ 1);
      __syncthreads();
    }

    T* c = C + z * (kv_i64)M * N;
#pragma unroll
    for (int i = 0; i < 8; i++) {
      const int gm = mBase + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
      if (gm >= M) continue;
#pragma unroll
      for (int j = 0; j < 8; j++) {
        const int gn = nBase + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
        if (gn < N) c[(kv_i64)gm * N + gn] = KvType<T>::store(acc[i][j]);
      }
    }
  }
}

#define KV_GEMM_SIMT(sn, T)                                                                                                   \
  extern "C" __global__ void __launch_bounds__(256) kv_gemm_simt_##sn(T* C, const T* A, const T* B, int M, int N, int K,      \
                                                                      kv_i64 sAm, kv_i64 sAk, kv_i64 sBk, kv_i64 sBn,         \
                                                                      KvLayout batchA, KvLayout batchB, kv_i64 batches) {     \
    gemm_simt(C, A, B, M, N, K, sAm, sAk, sBk, sBn, batchA, batchB, batches);                                                 \
  }
KV_FOR_FLOAT_DTYPES(KV_GEMM_SIMT)

// ---- tensor cores --------------------------------------------------------------------------------

#define MM_BM 128
#define MM_BN 128
#define MM_BK 32
#define MM_STAGES 3
#define MM_PAD 8
// Halves per operand tile per stage: max of k-major 128×(32+8) and mn-major 32×(128+8).
#define MM_TILE 5120

// A_K: A is k-contiguous (tile stored [m][k]) else m-contiguous ([k][m]); B_K: B is k-contiguous
// ([n][k]) else n-contiguous ([k][n]). 8 warps in a 2 (m) × 4 (n) grid, 64×32 outputs per warp.
template <class T, bool BF16, bool A_K, bool B_K>
__device__ __forceinline__ void gemm_mma(T* __restrict__ C, const kv_u16* __restrict__ A, const kv_u16* __restrict__ B, int M, int N, int K,
                                         kv_i64 sAm, kv_i64 sAk, kv_i64 sBk, kv_i64 sBn, const KvLayout& batchA, const KvLayout& batchB,
                                         kv_i64 batches) {
  KV_DYNAMIC_SHARED(kv_dynamic_smem);
  kv_u16* smem = reinterpret_cast<kv_u16*>(kv_dynamic_smem);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
  const int mBase = blockIdx.y * MM_BM, nBase = blockIdx.x * MM_BN;
  const int numK = (K + MM_BK - 1) / MM_BK;

  for (kv_i64 z = blockIdx.z; z < batches; z += gridDim.z) {
    const kv_u16* a = A + kv_offset(batchA, z);
    const kv_u16* b = B + kv_offset(batchB, z);

    auto loadStage = [&](int stage, int kt) {
      kv_u16* as = smem + stage * 2 * MM_TILE;
      kv_u16* bs = as + MM_TILE;
      const int kBase = kt * MM_BK;
#pragma unroll
      for (int r = 0; r < 2; r++) {
        const int c = tid + r * 256;  // 512 chunks of 8 halves per operand tile
        if constexpr (A_K) {
          const int row = c >> 2, kc = (c & 3) * 8;
          const int gm = mBase + row, gk = kBase + kc;
          const bool ok = gm < M && gk < K;
          cp_async16(smem_address(as + row * (MM_BK + MM_PAD) + kc), ok ? a + gm * sAm + gk : a, ok);
        } else {
          const int row = c >> 4, mc = (c & 15) * 8;
          const int gk = kBase + row, gm = mBase + mc;
          const bool ok = gm < M && gk < K;
          cp_async16(smem_address(as + row * (MM_BM + MM_PAD) + mc), ok ? a + gk * sAk + gm : a, ok);
        }
        if constexpr (B_K) {
          const int row = c >> 2, kc = (c & 3) * 8;
          const int gn = nBase + row, gk = kBase + kc;
          const bool ok = gn < N && gk < K;
          cp_async16(smem_address(bs + row * (MM_BK + MM_PAD) + kc), ok ? b + gn * sBn + gk : b, ok);
        } else {
          const int row = c >> 4, nc = (c & 15) * 8;
          const int gk = kBase + row, gn = nBase + nc;
          const bool ok = gn < N && gk < K;
          cp_async16(smem_address(bs + row * (MM_BN + MM_PAD) + nc), ok ? b + gk * sBk + gn : b, ok);
        }
      }
    };

    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int j = 0; j < 4; j++)
#pragma unroll
        for (int q = 0; q < 4; q++) acc[i][j][q] = 0.0f;

#pragma unroll
    for (int s = 0; s < MM_STAGES - 1; s++) {
      if (s < numK) loadStage(s, s);
      cp_async_commit();
    }

    for (int kt = 0; kt < numK; kt++) {
      cp_async_wait<MM_STAGES - 2>();
      __syncthreads();
      const int next = kt + MM_STAGES - 1;
      if (next < numK) loadStage(next % MM_STAGES, next);
      cp_async_commit();

      const kv_u16* as = smem + (kt % MM_STAGES) * 2 * MM_TILE;
      const kv_u16* bs = as + MM_TILE;
#pragma unroll
      for (int kk = 0; kk < MM_BK; kk += 16) {
        kv_u32 af[4][4], bf[4][2];
        const int j = lane >> 3, r = lane & 7;
#pragma unroll
        for (int mt = 0; mt < 4; mt++) {
          if constexpr (A_K) {
            const int row = wm + mt * 16 + (lane & 15), col = kk + (lane >> 4) * 8;
            ldmatrix_x4(af[mt], smem_address(as + row * (MM_BK + MM_PAD) + col));
          } else {
            const int k = kk + (j >> 1) * 8 + r, m = wm + mt * 16 + (j & 1) * 8;
            ldmatrix_x4_trans(af[mt], smem_address(as + k * (MM_BM + MM_PAD) + m));
          }
        }
#pragma unroll
        for (int np = 0; np < 2; np++) {
          kv_u32 regs[4];
          if constexpr (B_K) {
            const int n = wn + np * 16 + (j >> 1) * 8 + r, k = kk + (j & 1) * 8;
            ldmatrix_x4(regs, smem_address(bs + n * (MM_BK + MM_PAD) + k));
          } else {
            const int k = kk + (j & 1) * 8 + r, n = wn + np * 16 + (j >> 1) * 8;
            ldmatrix_x4_trans(regs, smem_address(bs + k * (MM_BN + MM_PAD) + n));
          }
          bf[np * 2][0] = regs[0];
          bf[np * 2][1] = regs[1];
          bf[np * 2 + 1][0] = regs[2];
          bf[np * 2 + 1][1] = regs[3];
        }
#pragma unroll
        for (int mt = 0; mt < 4; mt++)
#pragma unroll
          for (int nt = 0; nt < 4; nt++) mma_16816<BF16>(acc[mt][nt], af[mt], bf[nt]);
      }
    }
    cp_async_wait<0>();
    __syncthreads();  // the next batch entry reuses the stages

    T* c = C + z * (kv_i64)M * N;
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int mt = 0; mt < 4; mt++) {
#pragma unroll
      for (int nt = 0; nt < 4; nt++) {
#pragma unroll
        for (int q = 0; q < 4; q++) {
          const int gm = mBase + wm + mt * 16 + g + (q >> 1) * 8;
          const int gn = nBase + wn + nt * 8 + t * 2 + (q & 1);
          if (gm < M && gn < N) c[(kv_i64)gm * N + gn] = KvType<T>::store(acc[mt][nt][q]);
        }
      }
    }
  }
}

#define KV_GEMM_MMA(sn, T, BF16, an, A_K, bn, B_K)                                                                          \
  extern "C" __global__ void __launch_bounds__(256, 2) kv_gemm_mma_##sn##_##an##bn(                                            \
      T* C, const kv_u16* A, const kv_u16* B, int M, int N, int K, kv_i64 sAm, kv_i64 sAk, kv_i64 sBk, kv_i64 sBn,           \
      KvLayout batchA, KvLayout batchB, kv_i64 batches) {                                                                   \
    gemm_mma<T, BF16, A_K, B_K>(C, A, B, M, N, K, sAm, sAk, sBk, sBn, batchA, batchB, batches);                            \
  }
#define KV_GEMM_MMA_LAYOUTS(sn, T, BF16)     \
  KV_GEMM_MMA(sn, T, BF16, k, true, k, true)  \
  KV_GEMM_MMA(sn, T, BF16, k, true, n, false) \
  KV_GEMM_MMA(sn, T, BF16, m, false, k, true) \
  KV_GEMM_MMA(sn, T, BF16, m, false, n, false)
KV_GEMM_MMA_LAYOUTS(f16, kv_f16, false)
KV_GEMM_MMA_LAYOUTS(bf16, kv_bf16, true)
