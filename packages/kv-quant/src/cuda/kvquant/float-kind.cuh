#pragma once
#include "kvkit/prelude.cuh"
// Element i of a float array of kind 0 (f32), 1 (f16) or 2 (bf16), widened to f32 exactly.
__device__ __forceinline__ float kv_load_float(const void* p, kv_i64 i, int kind) {
  if (kind == 0) return ((const float*)p)[i];
  const kv_u16 b = ((const kv_u16*)p)[i];
  return kind == 1 ? kv_f16_to_float(b) : kv_bf16_to_float(b);
}
