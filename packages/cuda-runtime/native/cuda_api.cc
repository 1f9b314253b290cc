#include "cuda_api.h"

#include <dlfcn.h>

#include <cstdlib>
#include <vector>

namespace kvkit {

namespace {

// Resolves `name` (or, when given, its versioned `_v2` spelling first) into `slot`.
template <typename Fn>
bool Resolve(void* lib, Fn& slot, const char* name, const char* versioned, std::string& missing) {
  void* sym = versioned ? dlsym(lib, versioned) : nullptr;
  if (!sym) sym = dlsym(lib, name);
  if (!sym) {
    if (!missing.empty()) missing += ", ";
    missing += versioned ? versioned : name;
    return false;
  }
  slot = reinterpret_cast<Fn>(sym);
  return true;
}

}  // namespace

bool LoadDriver(DriverApi& api, std::string& reason) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* err = dlerror();
    std::string first = err ? err : "libcuda.so.1: not found";
    lib = dlopen("libcuda.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      reason = "no NVIDIA driver: libcuda.so.1 could not be loaded (" + first + ")";
      return false;
    }
  }
  std::string missing;
  bool ok = true;
  ok &= Resolve(lib, api.cuInit, "cuInit", nullptr, missing);
  ok &= Resolve(lib, api.cuDriverGetVersion, "cuDriverGetVersion", nullptr, missing);
  ok &= Resolve(lib, api.cuDeviceGetCount, "cuDeviceGetCount", nullptr, missing);
  ok &= Resolve(lib, api.cuDeviceGet, "cuDeviceGet", nullptr, missing);
  ok &= Resolve(lib, api.cuDeviceGetName, "cuDeviceGetName", nullptr, missing);
  ok &= Resolve(lib, api.cuDeviceGetAttribute, "cuDeviceGetAttribute", nullptr, missing);
  ok &= Resolve(lib, api.cuDeviceTotalMem, "cuDeviceTotalMem", "cuDeviceTotalMem_v2", missing);
  ok &= Resolve(lib, api.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", nullptr, missing);
  ok &= Resolve(lib, api.cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxRelease_v2", missing);
  ok &= Resolve(lib, api.cuCtxSetCurrent, "cuCtxSetCurrent", nullptr, missing);
  ok &= Resolve(lib, api.cuCtxSynchronize, "cuCtxSynchronize", nullptr, missing);
  ok &= Resolve(lib, api.cuMemAlloc, "cuMemAlloc", "cuMemAlloc_v2", missing);
  ok &= Resolve(lib, api.cuMemFree, "cuMemFree", "cuMemFree_v2", missing);
  ok &= Resolve(lib, api.cuMemGetInfo, "cuMemGetInfo", "cuMemGetInfo_v2", missing);
  ok &= Resolve(lib, api.cuMemAllocHost, "cuMemAllocHost", "cuMemAllocHost_v2", missing);
  ok &= Resolve(lib, api.cuMemFreeHost, "cuMemFreeHost", nullptr, missing);
  ok &= Resolve(lib, api.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync", "cuMemcpyHtoDAsync_v2", missing);
  ok &= Resolve(lib, api.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync", "cuMemcpyDtoHAsync_v2", missing);
  ok &= Resolve(lib, api.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync", "cuMemcpyDtoDAsync_v2", missing);
  ok &= Resolve(lib, api.cuMemsetD8Async, "cuMemsetD8Async", nullptr, missing);
  ok &= Resolve(lib, api.cuMemsetD16Async, "cuMemsetD16Async", nullptr, missing);
  ok &= Resolve(lib, api.cuMemsetD32Async, "cuMemsetD32Async", nullptr, missing);
  ok &= Resolve(lib, api.cuModuleLoadData, "cuModuleLoadData", nullptr, missing);
  ok &= Resolve(lib, api.cuModuleUnload, "cuModuleUnload", nullptr, missing);
  ok &= Resolve(lib, api.cuModuleGetFunction, "cuModuleGetFunction", nullptr, missing);
  ok &= Resolve(lib, api.cuFuncGetAttribute, "cuFuncGetAttribute", nullptr, missing);
  ok &= Resolve(lib, api.cuFuncSetAttribute, "cuFuncSetAttribute", nullptr, missing);
  ok &= Resolve(lib, api.cuLaunchKernel, "cuLaunchKernel", nullptr, missing);
  ok &= Resolve(lib, api.cuStreamCreate, "cuStreamCreate", nullptr, missing);
  ok &= Resolve(lib, api.cuStreamDestroy, "cuStreamDestroy", "cuStreamDestroy_v2", missing);
  ok &= Resolve(lib, api.cuStreamSynchronize, "cuStreamSynchronize", nullptr, missing);
  ok &= Resolve(lib, api.cuEventCreate, "cuEventCreate", nullptr, missing);
  ok &= Resolve(lib, api.cuEventRecord, "cuEventRecord", nullptr, missing);
  ok &= Resolve(lib, api.cuEventSynchronize, "cuEventSynchronize", nullptr, missing);
  ok &= Resolve(lib, api.cuEventElapsedTime, "cuEventElapsedTime", nullptr, missing);
  ok &= Resolve(lib, api.cuEventDestroy, "cuEventDestroy", "cuEventDestroy_v2", missing);
  ok &= Resolve(lib, api.cuGetErrorName, "cuGetErrorName", nullptr, missing);
  ok &= Resolve(lib, api.cuGetErrorString, "cuGetErrorString", nullptr, missing);
  if (!ok) {
    reason = "the NVIDIA driver is too old: libcuda.so.1 lacks " + missing;
    return false;
  }
  return true;
}

bool LoadNvrtc(NvrtcApi& api, std::string& reason, std::string& path) {
  std::vector<std::string> candidates;
  for (const char* name : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"}) candidates.emplace_back(name);
  for (const char* env : {"CUDA_HOME", "CUDA_PATH"}) {
    const char* dir = std::getenv(env);
    if (dir && *dir) {
      for (const char* name : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"}) candidates.push_back(std::string(dir) + "/lib64/" + name);
    }
  }
  for (const char* name : {"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"}) candidates.push_back(std::string("/usr/local/cuda/lib64/") + name);

  void* lib = nullptr;
  std::string firstError;
  for (const std::string& candidate : candidates) {
    lib = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      path = candidate;
      break;
    }
    if (firstError.empty()) {
      const char* err = dlerror();
      firstError = err ? err : candidate + ": not found";
    }
  }
  if (!lib) {
    reason = "no NVRTC: libnvrtc.so.13/.12 could not be loaded (" + firstError + ")";
    return false;
  }
  std::string missing;
  bool ok = true;
  ok &= Resolve(lib, api.nvrtcVersion, "nvrtcVersion", nullptr, missing);
  ok &= Resolve(lib, api.nvrtcGetErrorString, "nvrtcGetErrorString", nullptr, missing);
  ok &= Resolve(lib, api.nvrtcCreateProgram, "nvrtcCreateProgram", nullptr, missing);
  ok &= Resolve(lib, api.nvrtcDestroyProgram, "nvrtcDestroyProgram", nullptr, missing);
  ok &= Resolve(lib, api.nvrtcCompileProgram, "nvrtcCompileProgram", nullptr, missing);
  ok &= Resolve(lib, api.nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize", nullptr, missing);
  ok &= Resolve(lib, api.nvrtcGetProgramLog, "nvrtcGetProgramLog", nullptr, missing);
  ok &= Resolve(lib, api.nvrtcGetCUBINSize, "nvrtcGetCUBINSize", nullptr, missing);
  ok &= Resolve(lib, api.nvrtcGetCUBIN, "nvrtcGetCUBIN", nullptr, missing);
  ok &= Resolve(lib, api.nvrtcGetPTXSize, "nvrtcGetPTXSize", nullptr, missing);
  ok &= Resolve(lib, api.nvrtcGetPTX, "nvrtcGetPTX", nullptr, missing);
  if (!ok) {
    reason = "NVRTC at " + path + " lacks " + missing;
    return false;
  }
  return true;
}

}  // namespace kvkit
