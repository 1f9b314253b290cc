// The radial profiles f(s), s = ‖x − y‖², by the codes of kernels/device-profile.ts, in the precision
// of T: radial-product.cu evaluates them in float, nystroem-normal.cu in double. The math is named
// per type so each precision calls its own functions on every compiler (NVRTC, nvcc, the emulator).
#pragma once

__device__ __forceinline__ float km_exp(float v) { return expf(v); }
__device__ __forceinline__ double km_exp(double v) { return exp(v); }
__device__ __forceinline__ float km_sqrt(float v) { return sqrtf(v); }
__device__ __forceinline__ double km_sqrt(double v) { return sqrt(v); }
__device__ __forceinline__ float km_pow(float v, float p) { return powf(v, p); }
__device__ __forceinline__ double km_pow(double v, double p) { return pow(v, p); }

template <typename T>
__device__ __forceinline__ T km_profile(int code, T s, T a, T b) {
  switch (code) {
    case 0: return km_exp(-a * s);
    case 1: return km_pow(a + s, -b);
    case 2: return km_exp(-a * km_sqrt(s));
    case 3: { const T z = a * km_sqrt(s); return (T(1) + z) * km_exp(-z); }
    default: { const T z = a * km_sqrt(s); return (T(1) + z + z * z * (T(1) / T(3))) * km_exp(-z); }
  }
}
