// gather / scatter along one axis of row-major tensors seen as [outer, length, inner]. Indices are
// i32 or u32; an out-of-range index is reported through the check flag (the backend throws
// IndexOutOfRangeError at the next read) and never touches memory outside the tensor.
#include "kvkit/prelude.cuh"

#define CHECK_GATHER 1
#define CHECK_SCATTER 2

__device__ __forceinline__ kv_i64 read_index(const kv_i32* indices, kv_i64 i, int unsignedIndices) {
  return unsignedIndices ? (kv_i64)(kv_u32)indices[i] : (kv_i64)indices[i];
}

// out[o, i, j] = x[o, indices[i], j]
template <class W>
__device__ void gather(W* out, const W* x, const kv_i32* indices, int unsignedIndices, kv_i64 outer, kv_i64 length, kv_i64 count, kv_i64 inner,
                       kv_u32* flag) {
  KV_GRID_LOOP(e, outer * count * inner) {
    const kv_i64 j = e % inner;
    const kv_i64 i = (e / inner) % count;
    const kv_i64 o = e / (inner * count);
    const kv_i64 idx = read_index(indices, i, unsignedIndices);
    if (idx < 0 || idx >= length) {
      kv_report_error(flag, CHECK_GATHER, idx, i, length);
      out[e] = W(0);
    } else {
      out[e] = x[(o * length + idx) * inner + j];
    }
  }
}

// Replace mode, step 1: winner[t] = the last position i whose index is t (a repeated index keeps
// the last update, as on the CPU). `winner` starts at −1.
extern "C" __global__ void kv_scatter_winners(kv_i32* winner, const kv_i32* indices, int unsignedIndices, kv_i64 count, kv_i64 length, kv_u32* flag) {
  KV_GRID_LOOP(i, count) {
    const kv_i64 idx = read_index(indices, i, unsignedIndices);
    if (idx < 0 || idx >= length) kv_report_error(flag, CHECK_SCATTER, idx, i, length);
    else atomicMax(winner + idx, (kv_i32)i);
  }
}

// Replace mode, step 2: out[o, t, j] = updates[o, i, j] for the winning i of each t.
template <class W>
__device__ void scatter_replace(W* out, const W* updates, const kv_i32* indices, int unsignedIndices, const kv_i32* winner, kv_i64 outer,
                                kv_i64 length, kv_i64 count, kv_i64 inner) {
  KV_GRID_LOOP(e, outer * count * inner) {
    const kv_i64 j = e % inner;
    const kv_i64 i = (e / inner) % count;
    const kv_i64 o = e / (inner * count);
    const kv_i64 idx = read_index(indices, i, unsignedIndices);
    if (idx >= 0 && idx < length && winner[idx] == (kv_i32)i) out[(o * length + idx) * inner + j] = updates[e];
  }
}

// Add mode: out[o, indices[i], j] += updates[o, i, j], accumulated atomically in A (f32, i32 or
// u32; 16-bit floats and bytes accumulate in an f32 / i32 copy and are converted back once).
template <class A, class U>
__device__ void scatter_add(A* out, const U* updates, const kv_i32* indices, int unsignedIndices, kv_i64 outer, kv_i64 length, kv_i64 count,
                            kv_i64 inner, kv_u32* flag) {
  KV_GRID_LOOP(e, outer * count * inner) {
    const kv_i64 j = e % inner;
    const kv_i64 i = (e / inner) % count;
    const kv_i64 o = e / (inner * count);
    const kv_i64 idx = read_index(indices, i, unsignedIndices);
    if (idx < 0 || idx >= length) kv_report_error(flag, CHECK_SCATTER, idx, i, length);
    else atomicAdd(out + (o * length + idx) * inner + j, (A)KvType<U>::load(updates[e]));
  }
}

// Integer → byte with wrap-around (the CPU's Int8Array/Uint8Array assignment), after i32 accumulation.
extern "C" __global__ void kv_wrap_i32_to_b1(kv_u8* out, const kv_i32* x, kv_i64 n) {
  KV_GRID_LOOP(i, n) out[i] = (kv_u8)(x[i] & 0xff);
}

#define KV_INDEXING_WIDTH(bn, W)                                                                                            \
  extern "C" __global__ void kv_gather_##bn(W* out, const W* x, const kv_i32* indices, int unsignedIndices, kv_i64 outer,   \
                                            kv_i64 length, kv_i64 count, kv_i64 inner, kv_u32* flag) {                      \
    gather(out, x, indices, unsignedIndices, outer, length, count, inner, flag);                                            \
  }                                                                                                                         \
  extern "C" __global__ void kv_scatter_replace_##bn(W* out, const W* updates, const kv_i32* indices, int unsignedIndices,  \
                                                     const kv_i32* winner, kv_i64 outer, kv_i64 length, kv_i64 count,       \
                                                     kv_i64 inner) {                                                        \
    scatter_replace(out, updates, indices, unsignedIndices, winner, outer, length, count, inner);                           \
  }
KV_INDEXING_WIDTH(b1, kv_u8)
KV_INDEXING_WIDTH(b2, kv_u16)
KV_INDEXING_WIDTH(b4, kv_u32)

#define KV_SCATTER_ADD(an, A, un, U)                                                                                        \
  extern "C" __global__ void kv_scatter_add_##an##_##un(A* out, const U* updates, const kv_i32* indices, int unsignedIndices, \
                                                        kv_i64 outer, kv_i64 length, kv_i64 count, kv_i64 inner, kv_u32* flag) { \
    scatter_add(out, updates, indices, unsignedIndices, outer, length, count, inner, flag);                                 \
  }
KV_SCATTER_ADD(f32, float, f32, float)
KV_SCATTER_ADD(f32, float, f16, kv_f16)
KV_SCATTER_ADD(f32, float, bf16, kv_bf16)
KV_SCATTER_ADD(i32, kv_i32, i32, kv_i32)
KV_SCATTER_ADD(u32, kv_u32, u32, kv_u32)
KV_SCATTER_ADD(i32, kv_i32, i8, kv_i8)
KV_SCATTER_ADD(i32, kv_i32, u8, kv_u8)
