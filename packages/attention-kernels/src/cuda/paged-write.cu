// In-place writes into a paged KV pool (keys [pages·P, d], values [pages·P, dv], positions
// [pages·P], all row-major; a slot is page · P + offset).
//
// kv_paged_write_*: token row i goes to slot slots[i] (slots are distinct within one call, as the
// pool hands them out); one grid-stride loop over every element written.
// kv_paged_move_*: slot from[i] is copied to slot to[i] for i in order, each copy seeing the earlier
// ones (compaction moves tokens down within a head), so one block walks the list with a barrier
// after every copy; its threads split the channels.
#include "kvkit/prelude.cuh"

template <class T>
__device__ void paged_write(T* keys, T* values, kv_i32* positions, const T* k, const T* v, const kv_i32* pos, const kv_i32* slots, kv_i64 rows,
                            int d, int dv) {
  const kv_i64 width = (kv_i64)d + dv + 1;
  KV_GRID_LOOP(e, rows * width) {
    const kv_i64 i = e / width, c = e % width;
    const kv_i64 slot = slots[i];
    if (c < d) keys[slot * d + c] = k[i * d + c];
    else if (c < d + dv) values[slot * dv + (c - d)] = v[i * dv + (c - d)];
    else positions[slot] = pos[i];
  }
}

template <class T>
__device__ void paged_move(T* keys, T* values, kv_i32* positions, const kv_i32* from, const kv_i32* to, int count, int d, int dv) {
  for (int i = 0; i < count; i++) {
    const kv_i64 a = from[i], b = to[i];
    for (int c = threadIdx.x; c < d; c += blockDim.x) keys[b * d + c] = keys[a * d + c];
    for (int c = threadIdx.x; c < dv; c += blockDim.x) values[b * dv + c] = values[a * dv + c];
    if (threadIdx.x == 0) positions[b] = positions[a];
    __syncthreads();  // the next copy may read what this one wrote
  }
}

#define KV_PAGED_WRITE(sn, T)                                                                                                         \
  extern "C" __global__ void kv_paged_write_##sn(T* keys, T* values, kv_i32* positions, const T* k, const T* v, const kv_i32* pos,     \
                                                 const kv_i32* slots, kv_i64 rows, int d, int dv) {                                  \
    paged_write<T>(keys, values, positions, k, v, pos, slots, rows, d, dv);                                                           \
  }                                                                                                                                   \
  extern "C" __global__ void kv_paged_move_##sn(T* keys, T* values, kv_i32* positions, const kv_i32* from, const kv_i32* to, int count, \
                                                int d, int dv) {                                                                     \
    paged_move<T>(keys, values, positions, from, to, count, d, dv);                                                                   \
  }
KV_FOR_FLOAT_DTYPES(KV_PAGED_WRITE)
