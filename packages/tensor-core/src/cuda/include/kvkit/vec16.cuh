// kvkit CUDA 16-byte vectors: 16 bytes of a row of floats as one register vector, and the E
// elements of dtype T it holds as f32 (E = 4 for f32, 8 for f16/bf16, the first element in the low
// half of each word). What kernels that read rows 16 bytes at a time (the row-resident softmax and
// norms, attention's split-K decode) share. Every module gets this header as "kvkit/vec16.cuh".
#pragma once
#include "kvkit/prelude.cuh"

struct alignas(16) KvVec16 {
  kv_u32 w[4];
};

template <class T>
struct KvVec16Lanes;
template <>
struct KvVec16Lanes<float> {
  static constexpr int E = 4;
  static __device__ __forceinline__ void unpack(const KvVec16& b, float* out) {
#pragma unroll
    for (int j = 0; j < 4; j++) out[j] = __uint_as_float(b.w[j]);
  }
  static __device__ __forceinline__ KvVec16 pack(const float* in) {
    KvVec16 b;
#pragma unroll
    for (int j = 0; j < 4; j++) b.w[j] = __float_as_uint(in[j]);
    return b;
  }
};
template <class T16>
struct KvVec16Lanes16 {
  static constexpr int E = 8;
  static __device__ __forceinline__ void unpack(const KvVec16& b, float* out) {
#pragma unroll
    for (int j = 0; j < 4; j++) {
      out[2 * j] = KvType<T16>::load(T16{(kv_u16)(b.w[j] & 0xffffu)});
      out[2 * j + 1] = KvType<T16>::load(T16{(kv_u16)(b.w[j] >> 16)});
    }
  }
  static __device__ __forceinline__ KvVec16 pack(const float* in) {
    KvVec16 b;
#pragma unroll
    for (int j = 0; j < 4; j++) b.w[j] = (kv_u32)KvType<T16>::store(in[2 * j]).bits | ((kv_u32)KvType<T16>::store(in[2 * j + 1]).bits << 16);
    return b;
  }
};
template <>
struct KvVec16Lanes<kv_f16> : KvVec16Lanes16<kv_f16> {};
template <>
struct KvVec16Lanes<kv_bf16> : KvVec16Lanes16<kv_bf16> {};
