// Reference scaled-dot-product attention for one sequence with grouped-query heads (the CPU
// backend's `attention`): q [H, m, d], k [Hkv, n, d], v [Hkv, n, dv] → [H, m, dv], causal /
// sliding-window masks on explicit positions, logit soft-capping, a query that sees no key
// outputs zeros, and optional per-key statistics (Σ and max over queries of p, per query head).
//
// One block per (head, query); each of its 4 warps streams a quarter of the keys with an online
// softmax (lanes split the head dimension), then the warps merge. Statistics take a second pass
// that recomputes each score with the final max and normalizer.
#include "kvkit/prelude.cuh"

#define ATT_WARPS 4

__device__ __forceinline__ bool key_visible(kv_i32 qPos, kv_i32 kPos, int causal, int window) {
  if (causal && kPos > qPos) return false;
  if (window > 0 && (kv_i64)qPos - (kv_i64)kPos >= window) return false;
  return true;
}

template <class TQ, class TK>
__device__ __forceinline__ float score(const float* q, const TK* kRow, int d, float scale, float softcap) {
  const int lane = threadIdx.x & 31;
  float s = 0.0f;
  for (int c = lane; c < d; c += 32) s += q[c] * KvType<TK>::load(kRow[c]);
  s = kv_warp_sum(s) * scale;
  if (softcap > 0.0f) s = softcap * tanhf(s / softcap);
  return s;
}

template <class TQ, class TK>
__device__ void attention(TQ* out, float* keySum, float* keyMax, float* lse, const TQ* Q, const TK* K, const TK* V, const kv_i32* qPos, const kv_i32* kPos,
                          int H, int Hkv, int m, int n, int d, int dv, float scale, int causal, int window, float softcap) {
  KV_DYNAMIC_SHARED(kv_attention_smem);
  float* q = reinterpret_cast<float*>(kv_attention_smem);  // [d]
  float* acc = q + d;                                       // [ATT_WARPS][dv]
  float* warpMax = acc + ATT_WARPS * dv;                    // [ATT_WARPS]
  float* warpSum = warpMax + ATT_WARPS;                     // [ATT_WARPS]
  int* warpNaN = reinterpret_cast<int*>(warpSum + ATT_WARPS);

  const int h = blockIdx.y, i = blockIdx.x;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int kvh = h / (H / Hkv);
  const TK* kBase = K + (kv_i64)kvh * n * d;
  const TK* vBase = V + (kv_i64)kvh * n * dv;
  const kv_i32 qp = qPos[i];

  for (int c = threadIdx.x; c < d; c += blockDim.x) q[c] = KvType<TQ>::load(Q[((kv_i64)h * m + i) * d + c]);
  float* myAcc = acc + warp * dv;
  for (int c = lane; c < dv; c += 32) myAcc[c] = 0.0f;
  __syncthreads();

  float runMax = -KV_INF, runSum = 0.0f;
  int sawNaN = 0;
  for (int j = warp; j < n; j += ATT_WARPS) {
    if (!key_visible(qp, kPos[j], causal, window)) continue;
    const float s = score<TQ, TK>(q, kBase + (kv_i64)j * d, d, scale, softcap);
    if (kv_isnan(s)) {
      sawNaN = 1;
      continue;
    }
    if (s > runMax) {
      const float rescale = expf(runMax - s);  // 0 when runMax = −∞
      for (int c = lane; c < dv; c += 32) myAcc[c] *= rescale;
      runSum *= rescale;
      runMax = s;
    }
    const float p = expf(s - runMax);
    runSum += p;
    if (p != 0.0f) {
      const TK* vRow = vBase + (kv_i64)j * dv;
      for (int c = lane; c < dv; c += 32) myAcc[c] += p * KvType<TK>::load(vRow[c]);
    }
  }
  if (lane == 0) {
    warpMax[warp] = runMax;
    warpSum[warp] = runSum;
    warpNaN[warp] = sawNaN;
  }
  __syncthreads();

  float total = 0.0f, globalMax = -KV_INF;
  int anyNaN = 0;
  for (int w = 0; w < ATT_WARPS; w++) {
    globalMax = warpMax[w] > globalMax ? warpMax[w] : globalMax;
    anyNaN |= warpNaN[w];
  }
  for (int w = 0; w < ATT_WARPS; w++) total += warpSum[w] * expf(warpMax[w] - globalMax);
  // The row's log-sum-exp where asked: −∞ for a row that sees no key, NaN where a score was.
  if (lse && threadIdx.x == 0) lse[(kv_i64)h * m + i] = anyNaN ? KV_NAN : globalMax == -KV_INF ? -KV_INF : globalMax + logf(total);
  TQ* o = out + ((kv_i64)h * m + i) * dv;
  for (int c = threadIdx.x; c < dv; c += blockDim.x) {
    float value;
    if (anyNaN) value = KV_NAN;
    else if (globalMax == -KV_INF) value = 0.0f;  // no visible key: zeros, never NaN
    else {
      value = 0.0f;
      for (int w = 0; w < ATT_WARPS; w++) value += acc[w * dv + c] * expf(warpMax[w] - globalMax);
      value /= total;
    }
    o[c] = KvType<TQ>::store(value);
  }

  if (keySum && globalMax != -KV_INF) {
    for (int j = warp; j < n; j += ATT_WARPS) {
      if (!key_visible(qp, kPos[j], causal, window)) continue;
      const float s = score<TQ, TK>(q, kBase + (kv_i64)j * d, d, scale, softcap);
      const float p = anyNaN ? KV_NAN : expf(s - globalMax) / total;
      if (lane == 0 && p != 0.0f) {
        atomicAdd(keySum + (kv_i64)h * n + j, p);
        // p ≥ 0, so comparing the bit patterns as integers orders them like floats. A NaN p
        // leaves the max as it was (like the CPU's `p > max` test).
        if (!kv_isnan(p)) atomicMax(reinterpret_cast<int*>(keyMax + (kv_i64)h * n + j), __float_as_int(p));
      }
    }
  }
}

#define KV_ATTENTION(qn, TQ, kn, TK)                                                                                              \
  extern "C" __global__ void __launch_bounds__(ATT_WARPS * 32) kv_attention_##qn##_##kn(                                        \
      TQ* out, float* keySum, float* keyMax, float* lse, const TQ* Q, const TK* K, const TK* V, const kv_i32* qPos, const kv_i32* kPos, \
      int H, int Hkv, int m, int n, int d, int dv, float scale, int causal, int window, float softcap) {                         \
    attention<TQ, TK>(out, keySum, keyMax, lse, Q, K, V, qPos, kPos, H, Hkv, m, n, d, dv, scale, causal, window, softcap);     \
  }
#define KV_ATTENTION_KV(qn, TQ) KV_ATTENTION(qn, TQ, f32, float) KV_ATTENTION(qn, TQ, f16, kv_f16) KV_ATTENTION(qn, TQ, bf16, kv_bf16)
KV_FOR_FLOAT_DTYPES(KV_ATTENTION_KV)
