// Rotary position embedding on row-major x [..., n, d]: the first 2·half channels rotate in pairs
// ('half' layout: i with i + half; 'interleaved': 2i with 2i + 1), the rest pass through. The
// angle is position · invFreq[i] rounded to f32, as Hugging Face computes it.
#include "kvkit/prelude.cuh"

template <class T>
__device__ void rope(T* out, const T* x, const kv_i32* positions, int unsignedPositions, const float* invFreq, kv_i64 rows, kv_i64 n, kv_i64 d,
                     kv_i64 half, int interleaved) {
  KV_GRID_LOOP(e, rows * d) {
    const kv_i64 row = e / d;
    const kv_i64 j = e - row * d;
    const kv_i64 base = row * d;
    if (j >= 2 * half) {
      out[e] = x[e];
      continue;
    }
    kv_i64 i, partner;
    bool first;
    if (interleaved) {
      i = j >> 1;
      first = (j & 1) == 0;
      partner = first ? j + 1 : j - 1;
    } else {
      first = j < half;
      i = first ? j : j - half;
      partner = first ? j + half : j - half;
    }
    const kv_i32 raw = positions[row % n];
    const float pos = unsignedPositions ? (float)(kv_u32)raw : (float)raw;
    const float angle = __fmul_rn(pos, invFreq[i]);
    float s, c;
    sincosf(angle, &s, &c);
    const float xj = KvType<T>::load(x[e]);
    const float xp = KvType<T>::load(x[base + partner]);
    out[e] = KvType<T>::store(first ? xj * c - xp * s : xj * c + xp * s);
  }
}

#define KV_ROPE(sn, T)                                                                                                    \
  extern "C" __global__ void kv_rope_##sn(T* out, const T* x, const kv_i32* positions, int unsignedPositions,             \
                                          const float* invFreq, kv_i64 rows, kv_i64 n, kv_i64 d, kv_i64 half, int interleaved) { \
    rope(out, x, positions, unsignedPositions, invFreq, rows, n, d, half, interleaved);                                   \
  }
KV_FOR_FLOAT_DTYPES(KV_ROPE)
