// kvkit CUDA tensor-core fragments (sm_80+): ldmatrix loads from shared memory and the
// m16n8k16 f16/bf16 product with f32 accumulation, plus packing two floats into the 32-bit
// register pair those instructions take. Every module gets this header as "kvkit/mma.cuh".
//
// Fragment layout of mma.m16n8k16 (lane = 4·g + t, g = lane / 4, t = lane % 4), as PTX documents:
//   A (16×16, row-major) a[0..3]: (row g, cols 2t..2t+1), (row g+8, cols 2t..), (row g, cols 2t+8..),
//     (row g+8, cols 2t+8..), each register two halves, the lower column in the low 16 bits;
//   B (16×8, "col": stored n-major, i.e. [n][k]) b[0..1]: (k 2t..2t+1, col g), (k 2t+8.., col g);
//   C/D (16×8, f32) c[0..3]: (row g, cols 2t, 2t+1), (row g+8, cols 2t, 2t+1).
// So the C fragments of two adjacent n-tiles are, packed to halves, the A fragment of one k-step:
// what attention uses to feed probabilities straight into the product with V.
// On the CPU emulator of @kvkit/cuda-runtime (KVKIT_EMULATOR) the same operations run by these
// documented semantics.
#pragma once
#include "kvkit/prelude.cuh"
#include "kvkit/async-copy.cuh"

#ifdef KVKIT_EMULATOR
// ldmatrix.m8n8.x4(.trans): lane 8j + r gives the address of row r of matrix j; register j of lane
// l receives elements (l / 4, 2·(l % 4) ..) of matrix j (transposed with .trans).
__device__ __forceinline__ void ldmatrix_x4(kv_u32* r, SmemAddress address) { kvemu::ldmatrix_x4(r, address, false); }
__device__ __forceinline__ void ldmatrix_x4_trans(kv_u32* r, SmemAddress address) { kvemu::ldmatrix_x4(r, address, true); }
template <bool BF16>
__device__ __forceinline__ void mma_16816(float* c, const kv_u32* a, const kv_u32* b) { kvemu::mma_m16n8k16(c, a, b, BF16); }
#else
__device__ __forceinline__ void ldmatrix_x4(kv_u32* r, SmemAddress address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
}
__device__ __forceinline__ void ldmatrix_x4_trans(kv_u32* r, SmemAddress address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(address));
}
// c (16×8 f32) += a (16×16) · b (16×8), f16 or bf16 operands.
template <bool BF16>
__device__ __forceinline__ void mma_16816(float* c, const kv_u32* a, const kv_u32* b) {
  if constexpr (BF16) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  } else {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
  }
}
#endif

// Two floats as one f16x2 / bf16x2 register (lo in the low half), rounded to nearest even.
template <bool BF16>
__device__ __forceinline__ kv_u32 mma_pack2(float lo, float hi) {
  const kv_u16 l = BF16 ? kv_float_to_bf16(lo) : kv_float_to_f16(lo);
  const kv_u16 h = BF16 ? kv_float_to_bf16(hi) : kv_float_to_f16(hi);
  return (kv_u32)l | ((kv_u32)h << 16);
}
