// Dense-and-sparse outlier split and merge of kv-quant (src/kernels/outliers.ts) on CUDA, bit-exact
// with the CPU kernel: the row mean, the distances |x − center| and the inliers' mean in double, in
// the CPU's order; outliers picked by outlierIndices' order (farther first, NaN above +inf, ties by index).
#include "kvkit/prelude.cuh"
#include "kvquant/float-kind.cuh"

// Whether entry a (distance da) ranks before entry b (distance db).
__device__ __forceinline__ bool outlier_before(double da, kv_i64 a, double db, kv_i64 b) {
  const bool na = da != da, nb = db != db;
  if (na != nb) return na;
  if (na || da == db) return a < b;
  return da > db;
}

__device__ __forceinline__ kv_i64 outlier_index(const void* indices, kv_i64 o, int indexBytes) {
  return indexBytes == 1 ? (kv_i64)((const kv_u8*)indices)[o] : (kv_i64)((const kv_i32*)indices)[o];
}

// One thread per row: outliers (ascending channel) to indices/values, the inliers to `inliers`, the
// outliers' places there filled with the inliers' mean.
extern "C" __global__ void kv_split_outliers(void* indices, int indexBytes, void* values, int valuesF16, float* inliers, const void* sel, int selKind,
                                             const void* src, int srcKind, kv_i64 rows, kv_i64 d, kv_i64 count, int mean) {
  KV_GRID_LOOP(r, rows) {
    const kv_i64 base = r * d;
    double center = 0.0;
    if (mean) {
      for (kv_i64 i = 0; i < d; i++) center += (double)kv_load_float(sel, base + i, selKind);
      center /= (double)d;
    }
    kv_i64 picked = 0;
    double inlierSum = 0.0;
    for (kv_i64 i = 0; i < d; i++) {
      const float xi = kv_load_float(sel, base + i, selKind);
      const double di = fabs((double)xi - center);
      kv_i64 rank = 0;
      for (kv_i64 j = 0; j < d && rank < count; j++) {
        if (j != i && outlier_before(fabs((double)kv_load_float(sel, base + j, selKind) - center), j, di, i)) rank++;
      }
      if (rank < count) {
        const kv_i64 o = r * count + picked++;
        if (indexBytes == 1) ((kv_u8*)indices)[o] = (kv_u8)i;
        else ((kv_i32*)indices)[o] = (kv_i32)i;
        const float v = kv_load_float(src, base + i, srcKind);
        if (valuesF16) ((kv_u16*)values)[o] = kv_float_to_f16(v);
        else ((float*)values)[o] = v;
      } else {
        inlierSum += (double)xi;
        inliers[base + i] = xi;
      }
    }
    const float fill = (float)(inlierSum / (double)(d - count));
    for (kv_i64 j = 0; j < count; j++) inliers[base + outlier_index(indices, r * count + j, indexBytes)] = fill;
  }
}

// One thread per value: the dense value, or the last outlier whose index is this channel (an index
// outside [0, d) matches none).
extern "C" __global__ void kv_merge_outliers(float* out, const void* dense, int denseKind, const void* indices, int indexBytes, const void* values,
                                             int valuesKind, kv_i64 rows, kv_i64 d, kv_i64 count) {
  KV_GRID_LOOP(e, rows * d) {
    const kv_i64 r = e / d;
    const kv_i64 i = e - r * d;
    float v = kv_load_float(dense, e, denseKind);
    for (kv_i64 j = 0; j < count; j++) {
      if (outlier_index(indices, r * count + j, indexBytes) == i) v = kv_load_float(values, r * count + j, valuesKind);
    }
    out[e] = v;
  }
}
