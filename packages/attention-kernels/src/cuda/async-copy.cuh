// 16-byte copies from global to shared memory that do not wait for the data (cp.async, sm_80+):
// a block issues a whole tile, computes on something else, then waits once. On the CPU emulator of
// @kvkit/cuda-runtime (KVKIT_EMULATOR) a copy is a plain memcpy, as tensor-core's matmul.cu does.
// (matmul.cu keeps its own copy of these wrappers: tensor-core has no shared header for them yet.)
#pragma once
#include "kvkit/prelude.cuh"

#ifdef KVKIT_EMULATOR
__device__ __forceinline__ void dec_async_copy16(void* dst, const void* src) { memcpy(dst, src, 16); }
__device__ __forceinline__ void dec_async_commit() {}
__device__ __forceinline__ void dec_async_wait_all() {}
#else
__device__ __forceinline__ void dec_async_copy16(void* dst, const void* src) {
  kv_u32 address;
  asm volatile("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(address) : "l"(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(address), "l"(src) : "memory");
}
__device__ __forceinline__ void dec_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
// This thread's copies have landed; a barrier after it makes every thread's visible to the block.
__device__ __forceinline__ void dec_async_wait_all() { asm volatile("cp.async.wait_group 0;" ::: "memory"); }
#endif
