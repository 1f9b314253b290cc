// @kvkit/cuda-runtime native side: a thin Node-API layer over the CUDA driver API and NVRTC.
// Policy (caching allocator, compile cache, argument packing, error types) lives in TypeScript;
// this file only moves bytes and calls the driver. Everything runs on one context (the device's
// primary context) and one non-blocking stream, so work is ordered the way JavaScript issued it.
#include <dlfcn.h>
#include <napi.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cuda_api.h"

namespace kvkit {
namespace {

DriverApi driver{};
NvrtcApi nvrtc{};
bool driverLoaded = false;
bool nvrtcLoaded = false;
std::string driverReason;
std::string nvrtcReason;
std::string nvrtcPath;

CUdevice device = 0;
CUcontext context = nullptr;
CUstream stream = nullptr;
bool opened = false;

// Pinned host buffers for device→host copies, reused by size class (powers of two).
std::map<size_t, std::vector<void*>> pinnedPool;
size_t pinnedPooledBytes = 0;
constexpr size_t kPinnedPoolLimit = size_t(256) << 20;

size_t PinnedClass(size_t bytes) {
  size_t c = 4096;
  while (c < bytes) c <<= 1;
  return c;
}

std::string ErrorName(CUresult code) {
  const char* name = nullptr;
  if (driverLoaded && driver.cuGetErrorName(code, &name) == CUDA_SUCCESS && name) return name;
  return "CUDA_ERROR_" + std::to_string(code);
}

std::string ErrorText(CUresult code) {
  const char* text = nullptr;
  if (driverLoaded && driver.cuGetErrorString(code, &text) == CUDA_SUCCESS && text) return text;
  return "unknown CUDA error";
}

// A JS Error carrying the CUDA status, so TypeScript can map it to a typed kvkit error.
Napi::Error CudaError(Napi::Env env, CUresult code, const std::string& operation) {
  Napi::Error error = Napi::Error::New(env, operation + " failed: " + ErrorName(code) + " (" + std::to_string(code) + "): " + ErrorText(code));
  error.Set("cudaCode", Napi::Number::New(env, code));
  error.Set("cudaName", Napi::String::New(env, ErrorName(code)));
  error.Set("operation", Napi::String::New(env, operation));
  return error;
}

void Check(Napi::Env env, CUresult code, const char* operation) {
  if (code != CUDA_SUCCESS) throw CudaError(env, code, operation);
}

void RequireOpen(Napi::Env env) {
  if (!opened) throw Napi::Error::New(env, "cuda-runtime: no device is open (call open() first)");
}

// Device addresses and handles travel as JS numbers: every address a 64-bit driver hands out today is < 2^53.
uint64_t ToAddress(const Napi::Value& value) {
  double d = value.As<Napi::Number>().DoubleValue();
  return static_cast<uint64_t>(d);
}

Napi::Number FromAddress(Napi::Env env, uint64_t address) {
  return Napi::Number::New(env, static_cast<double>(address));
}

template <typename T>
T ToHandle(const Napi::Value& value) {
  return reinterpret_cast<T>(static_cast<uintptr_t>(value.As<Napi::Number>().DoubleValue()));
}

template <typename T>
Napi::Number FromHandle(Napi::Env env, T handle) {
  return Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(handle)));
}

// ---- loading and device ------------------------------------------------------------------------

// probe() → { driver: { ok, reason, version }, nvrtc: { ok, reason, path, version } }; never throws.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!driverLoaded && driverReason.empty()) {
    driverLoaded = LoadDriver(driver, driverReason);
  }
  if (!nvrtcLoaded && nvrtcReason.empty()) {
    nvrtcLoaded = LoadNvrtc(nvrtc, nvrtcReason, nvrtcPath);
  }
  Napi::Object result = Napi::Object::New(env);
  Napi::Object d = Napi::Object::New(env);
  d.Set("ok", driverLoaded);
  d.Set("reason", driverReason);
  if (driverLoaded) {
    int version = 0;
    if (driver.cuDriverGetVersion(&version) == CUDA_SUCCESS) d.Set("version", version);
  }
  result.Set("driver", d);
  Napi::Object n = Napi::Object::New(env);
  n.Set("ok", nvrtcLoaded);
  n.Set("reason", nvrtcReason);
  n.Set("path", nvrtcPath);
  if (nvrtcLoaded) {
    int major = 0, minor = 0;
    if (nvrtc.nvrtcVersion(&major, &minor) == 0) {
      Napi::Array v = Napi::Array::New(env, 2);
      v.Set(uint32_t(0), major);
      v.Set(uint32_t(1), minor);
      n.Set("version", v);
    }
  }
  result.Set("nvrtc", n);
  return result;
}

int Attribute(int attribute) {
  int value = 0;
  driver.cuDeviceGetAttribute(&value, attribute, device);
  return value;
}

// open(ordinal) → device info. Throws an Error with `stage` ('init' | 'count' | 'device' | 'context').
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!driverLoaded) throw Napi::Error::New(env, driverReason.empty() ? "driver not probed" : driverReason);
  int ordinal = info.Length() > 0 ? info[0].As<Napi::Number>().Int32Value() : 0;
  if (!opened) {
    auto fail = [&](CUresult code, const char* stage, const std::string& what) {
      Napi::Error error = CudaError(env, code, what);
      error.Set("stage", Napi::String::New(env, stage));
      throw error;
    };
    CUresult r = driver.cuInit(0);
    if (r != CUDA_SUCCESS) fail(r, "init", "cuInit");
    int count = 0;
    r = driver.cuDeviceGetCount(&count);
    if (r != CUDA_SUCCESS) fail(r, "count", "cuDeviceGetCount");
    if (ordinal < 0 || ordinal >= count) {
      Napi::Error error = Napi::Error::New(env, "no CUDA device " + std::to_string(ordinal) + " (the driver sees " + std::to_string(count) + ")");
      error.Set("stage", Napi::String::New(env, "device"));
      error.Set("deviceCount", Napi::Number::New(env, count));
      throw error;
    }
    r = driver.cuDeviceGet(&device, ordinal);
    if (r != CUDA_SUCCESS) fail(r, "device", "cuDeviceGet");
    r = driver.cuDevicePrimaryCtxRetain(&context, device);
    if (r != CUDA_SUCCESS) fail(r, "context", "cuDevicePrimaryCtxRetain");
    r = driver.cuCtxSetCurrent(context);
    if (r != CUDA_SUCCESS) fail(r, "context", "cuCtxSetCurrent");
    r = driver.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING);
    if (r != CUDA_SUCCESS) fail(r, "context", "cuStreamCreate");
    opened = true;
  }
  char name[256] = {0};
  driver.cuDeviceGetName(name, sizeof(name) - 1, device);
  size_t total = 0;
  driver.cuDeviceTotalMem(&total, device);
  int version = 0;
  driver.cuDriverGetVersion(&version);
  Napi::Object out = Napi::Object::New(env);
  out.Set("ordinal", ordinal);
  out.Set("name", name);
  out.Set("major", Attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR));
  out.Set("minor", Attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
  out.Set("multiprocessors", Attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT));
  out.Set("totalMemory", static_cast<double>(total));
  out.Set("driverVersion", version);
  out.Set("maxThreadsPerBlock", Attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK));
  out.Set("maxSharedMemoryPerBlock", Attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK));
  out.Set("maxSharedMemoryPerBlockOptin", Attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN));
  out.Set("l2CacheBytes", Attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE));
  out.Set("memoryBusWidth", Attribute(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH));
  out.Set("warpSize", Attribute(CU_DEVICE_ATTRIBUTE_WARP_SIZE));
  return out;
}

void Close(const Napi::CallbackInfo& info) {
  if (!opened) return;
  driver.cuCtxSetCurrent(context);
  driver.cuStreamSynchronize(stream);
  for (auto& entry : pinnedPool) {
    for (void* p : entry.second) driver.cuMemFreeHost(p);
  }
  pinnedPool.clear();
  pinnedPooledBytes = 0;
  driver.cuStreamDestroy(stream);
  driver.cuDevicePrimaryCtxRelease(device);
  stream = nullptr;
  context = nullptr;
  opened = false;
}

// ---- memory ------------------------------------------------------------------------------------

Napi::Value MemAlloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  CUdeviceptr ptr = 0;
  Check(env, driver.cuMemAlloc(&ptr, static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue())), "cuMemAlloc");
  return FromAddress(env, ptr);
}

void MemFree(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Check(env, driver.cuMemFree(ToAddress(info[0])), "cuMemFree");
}

Napi::Value MemGetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  size_t freeBytes = 0, total = 0;
  Check(env, driver.cuMemGetInfo(&freeBytes, &total), "cuMemGetInfo");
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(uint32_t(0), static_cast<double>(freeBytes));
  out.Set(uint32_t(1), static_cast<double>(total));
  return out;
}

// memcpyHtoD(dst, view: ArrayBufferView). The driver stages pageable memory before returning, so the
// view may be reused at once; the copy is ordered on the stream with everything issued before it.
void MemcpyHtoD(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Napi::TypedArray view = info[1].As<Napi::TypedArray>();
  const uint8_t* data = static_cast<const uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  size_t bytes = view.ByteLength();
  if (bytes == 0) return;
  Check(env, driver.cuMemcpyHtoDAsync(ToAddress(info[0]), data, bytes, stream), "cuMemcpyHtoDAsync");
}

void MemcpyDtoD(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  size_t bytes = static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue());
  if (bytes == 0) return;
  Check(env, driver.cuMemcpyDtoDAsync(ToAddress(info[0]), ToAddress(info[1]), bytes, stream), "cuMemcpyDtoDAsync");
}

// memset(dst, value, count, width): width 1, 2 or 4 bytes per element.
void Memset(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  CUdeviceptr dst = ToAddress(info[0]);
  uint32_t value = info[1].As<Napi::Number>().Uint32Value();
  size_t count = static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue());
  int width = info[3].As<Napi::Number>().Int32Value();
  if (count == 0) return;
  if (width == 1) Check(env, driver.cuMemsetD8Async(dst, static_cast<unsigned char>(value), count, stream), "cuMemsetD8Async");
  else if (width == 2) Check(env, driver.cuMemsetD16Async(dst, static_cast<unsigned short>(value), count, stream), "cuMemsetD16Async");
  else if (width == 4) Check(env, driver.cuMemsetD32Async(dst, value, count, stream), "cuMemsetD32Async");
  else throw Napi::Error::New(env, "memset: width must be 1, 2 or 4");
}

// Waits on a background thread (with the context current there), so the event loop stays free.
class WaitWorker : public Napi::AsyncWorker {
 public:
  // Device→host: the copy into pinned memory is enqueued now (in stream order); the worker waits for
  // its event and copies into the JS buffer, which `keep` holds alive meanwhile.
  WaitWorker(Napi::Env env, CUevent event, void* pinned, size_t pinnedClass, void* target, size_t bytes, Napi::Value keep)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), event_(event), pinned_(pinned),
        pinnedClass_(pinnedClass), target_(target), bytes_(bytes) {
    if (!keep.IsUndefined()) keep_ = Napi::Persistent(keep);
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    driver.cuCtxSetCurrent(context);
    status_ = event_ ? driver.cuEventSynchronize(event_) : driver.cuStreamSynchronize(stream);
    if (status_ == CUDA_SUCCESS && pinned_ && bytes_ > 0) std::memcpy(target_, pinned_, bytes_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (event_) driver.cuEventDestroy(event_);
    if (pinned_) {
      if (pinnedPooledBytes + pinnedClass_ <= kPinnedPoolLimit) {
        pinnedPool[pinnedClass_].push_back(pinned_);
        pinnedPooledBytes += pinnedClass_;
      } else {
        driver.cuMemFreeHost(pinned_);
      }
    }
    if (status_ == CUDA_SUCCESS) deferred_.Resolve(env.Undefined());
    else deferred_.Reject(CudaError(env, status_, event_ ? "cuEventSynchronize" : "cuStreamSynchronize").Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  CUevent event_;
  void* pinned_;
  size_t pinnedClass_;
  void* target_;
  size_t bytes_;
  Napi::Reference<Napi::Value> keep_;
  CUresult status_ = CUDA_SUCCESS;
};

// memcpyDtoH(view: ArrayBufferView, src) → Promise<void>, resolved when `view` holds the bytes.
Napi::Value MemcpyDtoH(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  uint8_t* target = static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  size_t bytes = view.ByteLength();
  CUdeviceptr src = ToAddress(info[1]);
  size_t cls = PinnedClass(bytes);
  void* pinned = nullptr;
  auto pooled = pinnedPool.find(cls);
  if (pooled != pinnedPool.end() && !pooled->second.empty()) {
    pinned = pooled->second.back();
    pooled->second.pop_back();
    pinnedPooledBytes -= cls;
  } else {
    Check(env, driver.cuMemAllocHost(&pinned, cls), "cuMemAllocHost");
  }
  CUevent event = nullptr;
  CUresult r = bytes > 0 ? driver.cuMemcpyDtoHAsync(pinned, src, bytes, stream) : CUDA_SUCCESS;
  if (r == CUDA_SUCCESS) r = driver.cuEventCreate(&event, CU_EVENT_DEFAULT);
  if (r == CUDA_SUCCESS) r = driver.cuEventRecord(event, stream);
  if (r != CUDA_SUCCESS) {
    if (event) driver.cuEventDestroy(event);
    driver.cuMemFreeHost(pinned);
    throw CudaError(env, r, "cuMemcpyDtoHAsync");
  }
  auto* worker = new WaitWorker(env, event, pinned, cls, target, bytes, info[0]);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// synchronize() → Promise<void> once every queued operation has finished (waits off the main thread).
Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  auto* worker = new WaitWorker(env, nullptr, nullptr, 0, nullptr, 0, env.Undefined());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

void SynchronizeBlocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Check(env, driver.cuStreamSynchronize(stream), "cuStreamSynchronize");
}

// ---- modules and launches ---------------------------------------------------------------------

Napi::Value ModuleLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Napi::TypedArray image = info[0].As<Napi::TypedArray>();
  // cuModuleLoadData reads PTX as a NUL-terminated string: copy with a terminator to be safe.
  std::vector<uint8_t> data(image.ByteLength() + 1, 0);
  std::memcpy(data.data(), static_cast<uint8_t*>(image.ArrayBuffer().Data()) + image.ByteOffset(), image.ByteLength());
  CUmodule module = nullptr;
  Check(env, driver.cuModuleLoadData(&module, data.data()), "cuModuleLoadData");
  return FromHandle(env, module);
}

void ModuleUnload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Check(env, driver.cuModuleUnload(ToHandle<CUmodule>(info[0])), "cuModuleUnload");
}

Napi::Value ModuleGetFunction(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  std::string name = info[1].As<Napi::String>().Utf8Value();
  CUfunction fn = nullptr;
  Check(env, driver.cuModuleGetFunction(&fn, ToHandle<CUmodule>(info[0]), name.c_str()), "cuModuleGetFunction");
  return FromHandle(env, fn);
}

Napi::Value FuncAttributes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  CUfunction fn = ToHandle<CUfunction>(info[0]);
  int maxThreads = 0, regs = 0, shared = 0, dynamicShared = 0;
  Check(env, driver.cuFuncGetAttribute(&maxThreads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, fn), "cuFuncGetAttribute");
  Check(env, driver.cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, fn), "cuFuncGetAttribute");
  Check(env, driver.cuFuncGetAttribute(&shared, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, fn), "cuFuncGetAttribute");
  Check(env, driver.cuFuncGetAttribute(&dynamicShared, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, fn), "cuFuncGetAttribute");
  Napi::Object out = Napi::Object::New(env);
  out.Set("maxThreadsPerBlock", maxThreads);
  out.Set("registers", regs);
  out.Set("staticSharedBytes", shared);
  out.Set("maxDynamicSharedBytes", dynamicShared);
  return out;
}

void FuncSetMaxDynamicShared(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Check(env,
        driver.cuFuncSetAttribute(ToHandle<CUfunction>(info[0]), CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                  info[1].As<Napi::Number>().Int32Value()),
        "cuFuncSetAttribute");
}

// launch(fn, gx, gy, gz, bx, by, bz, sharedBytes, args: Uint8Array, offsets: Uint32Array).
// `args` holds every argument at its natural alignment; offsets[i] is where argument i starts.
void Launch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  CUfunction fn = ToHandle<CUfunction>(info[0]);
  unsigned dims[7];
  for (int i = 0; i < 7; i++) dims[i] = info[1 + i].As<Napi::Number>().Uint32Value();
  Napi::Uint8Array args = info[8].As<Napi::Uint8Array>();
  Napi::Uint32Array offsets = info[9].As<Napi::Uint32Array>();
  uint8_t* base = args.Data();
  size_t count = offsets.ElementLength();
  void* stackParams[32];
  std::vector<void*> heapParams;
  void** params = stackParams;
  if (count > 32) {
    heapParams.resize(count);
    params = heapParams.data();
  }
  for (size_t i = 0; i < count; i++) params[i] = base + offsets[i];
  Check(env, driver.cuLaunchKernel(fn, dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6], stream, params, nullptr),
        "cuLaunchKernel");
}

// ---- events ------------------------------------------------------------------------------------

Napi::Value EventCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  CUevent event = nullptr;
  Check(env, driver.cuEventCreate(&event, CU_EVENT_DEFAULT), "cuEventCreate");
  return FromHandle(env, event);
}

void EventRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Check(env, driver.cuEventRecord(ToHandle<CUevent>(info[0]), stream), "cuEventRecord");
}

// eventElapsed(start, end) → milliseconds; both must have completed (await synchronize() first).
Napi::Value EventElapsed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  float ms = 0;
  Check(env, driver.cuEventElapsedTime(&ms, ToHandle<CUevent>(info[0]), ToHandle<CUevent>(info[1])), "cuEventElapsedTime");
  return Napi::Number::New(env, ms);
}

void EventDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env);
  Check(env, driver.cuEventDestroy(ToHandle<CUevent>(info[0])), "cuEventDestroy");
}

// ---- NVRTC -------------------------------------------------------------------------------------

// nvrtcCompile(source, name, headerSources[], headerNames[], options[], cubin: boolean)
//   → { status, error, log, image?: Buffer }. Never throws for compile errors: the log goes back.
Napi::Value NvrtcCompile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!nvrtcLoaded) throw Napi::Error::New(env, nvrtcReason.empty() ? "NVRTC not probed" : nvrtcReason);
  std::string source = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  auto strings = [](Napi::Array array) {
    std::vector<std::string> out;
    for (uint32_t i = 0; i < array.Length(); i++) out.push_back(array.Get(i).As<Napi::String>().Utf8Value());
    return out;
  };
  std::vector<std::string> headers = strings(info[2].As<Napi::Array>());
  std::vector<std::string> headerNames = strings(info[3].As<Napi::Array>());
  std::vector<std::string> options = strings(info[4].As<Napi::Array>());
  bool cubin = info[5].As<Napi::Boolean>().Value();
  std::vector<const char*> headerPtrs, namePtrs, optionPtrs;
  for (auto& h : headers) headerPtrs.push_back(h.c_str());
  for (auto& h : headerNames) namePtrs.push_back(h.c_str());
  for (auto& o : options) optionPtrs.push_back(o.c_str());

  Napi::Object out = Napi::Object::New(env);
  nvrtcProgram program = nullptr;
  nvrtcResult r = nvrtc.nvrtcCreateProgram(&program, source.c_str(), name.c_str(), static_cast<int>(headers.size()), headerPtrs.data(),
                                           namePtrs.data());
  if (r != 0) {
    out.Set("status", r);
    out.Set("error", nvrtc.nvrtcGetErrorString(r));
    out.Set("log", "");
    return out;
  }
  r = nvrtc.nvrtcCompileProgram(program, static_cast<int>(optionPtrs.size()), optionPtrs.data());
  size_t logSize = 0;
  nvrtc.nvrtcGetProgramLogSize(program, &logSize);
  std::string log(logSize, '\0');
  if (logSize > 0) nvrtc.nvrtcGetProgramLog(program, &log[0]);
  while (!log.empty() && log.back() == '\0') log.pop_back();
  out.Set("status", r);
  out.Set("error", nvrtc.nvrtcGetErrorString(r));
  out.Set("log", log);
  if (r == 0) {
    size_t size = 0;
    nvrtcResult s = cubin ? nvrtc.nvrtcGetCUBINSize(program, &size) : nvrtc.nvrtcGetPTXSize(program, &size);
    if (s == 0) {
      Napi::Buffer<char> image = Napi::Buffer<char>::New(env, size);
      s = cubin ? nvrtc.nvrtcGetCUBIN(program, image.Data()) : nvrtc.nvrtcGetPTX(program, image.Data());
      if (s == 0) out.Set("image", image);
    }
    if (s != 0) {
      out.Set("status", s);
      out.Set("error", nvrtc.nvrtcGetErrorString(s));
    }
  }
  nvrtc.nvrtcDestroyProgram(&program);
  return out;
}

Napi::Value GetErrorName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ErrorName(info[0].As<Napi::Number>().Int32Value()));
}

// ---- the CPU emulator (kernels compiled by a host C++ compiler; see emulator/kvkit_emulator.h) --
// "Device" memory is host memory; modules are shared objects exporting kvemu_launch_<kernel>.

typedef int (*EmuLaunchFn)(unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void**);
typedef const char* (*EmuErrorFn)();

Napi::Value HostAlloc(const Napi::CallbackInfo& info) {
  size_t bytes = static_cast<size_t>(info[0].As<Napi::Number>().DoubleValue());
  size_t rounded = ((bytes > 0 ? bytes : 1) + 255) / 256 * 256;
  void* p = std::aligned_alloc(256, rounded);
  if (!p) {
    Napi::Error error = Napi::Error::New(info.Env(), "host allocation failed");
    error.Set("cudaCode", Napi::Number::New(info.Env(), 2));
    error.Set("cudaName", Napi::String::New(info.Env(), "CUDA_ERROR_OUT_OF_MEMORY"));
    throw error;
  }
  return Napi::Number::New(info.Env(), static_cast<double>(reinterpret_cast<uintptr_t>(p)));
}

void HostFree(const Napi::CallbackInfo& info) { std::free(reinterpret_cast<void*>(ToAddress(info[0]))); }

void HostWrite(const Napi::CallbackInfo& info) {
  Napi::TypedArray view = info[1].As<Napi::TypedArray>();
  std::memcpy(reinterpret_cast<void*>(ToAddress(info[0])), static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset(), view.ByteLength());
}

void HostRead(const Napi::CallbackInfo& info) {
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  std::memcpy(static_cast<uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset(), reinterpret_cast<void*>(ToAddress(info[1])), view.ByteLength());
}

void HostCopy(const Napi::CallbackInfo& info) {
  std::memmove(reinterpret_cast<void*>(ToAddress(info[0])), reinterpret_cast<void*>(ToAddress(info[1])),
               static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue()));
}

void HostSet(const Napi::CallbackInfo& info) {
  uint8_t* dst = reinterpret_cast<uint8_t*>(ToAddress(info[0]));
  uint32_t value = info[1].As<Napi::Number>().Uint32Value();
  size_t count = static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue());
  int width = info[3].As<Napi::Number>().Int32Value();
  for (size_t i = 0; i < count; i++) std::memcpy(dst + i * width, &value, width);  // little-endian: the low `width` bytes
}

Napi::Value EmuLoad(const Napi::CallbackInfo& info) {
  std::string path = info[0].As<Napi::String>().Utf8Value();
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    throw Napi::Error::New(info.Env(), std::string("emulator: cannot load ") + path + ": " + (err ? err : "unknown"));
  }
  return FromHandle(info.Env(), handle);
}

void EmuUnload(const Napi::CallbackInfo& info) { dlclose(ToHandle<void*>(info[0])); }

Napi::Value EmuFunction(const Napi::CallbackInfo& info) {
  std::string name = "kvemu_launch_" + info[1].As<Napi::String>().Utf8Value();
  void* fn = dlsym(ToHandle<void*>(info[0]), name.c_str());
  if (!fn) {
    Napi::Error error = Napi::Error::New(info.Env(), "emulator: the module has no kernel " + info[1].As<Napi::String>().Utf8Value());
    error.Set("cudaCode", Napi::Number::New(info.Env(), 500));
    error.Set("cudaName", Napi::String::New(info.Env(), "CUDA_ERROR_NOT_FOUND"));
    throw error;
  }
  return FromHandle(info.Env(), fn);
}

// emuLaunch(module, fn, gx, gy, gz, bx, by, bz, shared, args, offsets): runs the grid to completion.
void EmuLaunch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* module = ToHandle<void*>(info[0]);
  EmuLaunchFn fn = reinterpret_cast<EmuLaunchFn>(ToHandle<void*>(info[1]));
  unsigned dims[7];
  for (int i = 0; i < 7; i++) dims[i] = info[2 + i].As<Napi::Number>().Uint32Value();
  Napi::Uint8Array args = info[9].As<Napi::Uint8Array>();
  Napi::Uint32Array offsets = info[10].As<Napi::Uint32Array>();
  std::vector<void*> params(offsets.ElementLength() + 1);
  for (size_t i = 0; i < offsets.ElementLength(); i++) params[i] = args.Data() + offsets[i];
  if (fn(dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6], params.data()) != 0) {
    EmuErrorFn lastError = reinterpret_cast<EmuErrorFn>(dlsym(module, "kvemu_last_error"));
    Napi::Error error = Napi::Error::New(env, std::string("emulated kernel failed: ") + (lastError ? lastError() : "unknown"));
    error.Set("cudaCode", Napi::Number::New(env, 719));
    error.Set("cudaName", Napi::String::New(env, "CUDA_ERROR_LAUNCH_FAILED"));
    throw error;
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("open", Napi::Function::New(env, Open));
  exports.Set("close", Napi::Function::New(env, Close));
  exports.Set("memAlloc", Napi::Function::New(env, MemAlloc));
  exports.Set("memFree", Napi::Function::New(env, MemFree));
  exports.Set("memGetInfo", Napi::Function::New(env, MemGetInfo));
  exports.Set("memcpyHtoD", Napi::Function::New(env, MemcpyHtoD));
  exports.Set("memcpyDtoD", Napi::Function::New(env, MemcpyDtoD));
  exports.Set("memcpyDtoH", Napi::Function::New(env, MemcpyDtoH));
  exports.Set("memset", Napi::Function::New(env, Memset));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("synchronizeBlocking", Napi::Function::New(env, SynchronizeBlocking));
  exports.Set("moduleLoad", Napi::Function::New(env, ModuleLoad));
  exports.Set("moduleUnload", Napi::Function::New(env, ModuleUnload));
  exports.Set("moduleGetFunction", Napi::Function::New(env, ModuleGetFunction));
  exports.Set("funcAttributes", Napi::Function::New(env, FuncAttributes));
  exports.Set("funcSetMaxDynamicShared", Napi::Function::New(env, FuncSetMaxDynamicShared));
  exports.Set("launch", Napi::Function::New(env, Launch));
  exports.Set("eventCreate", Napi::Function::New(env, EventCreate));
  exports.Set("eventRecord", Napi::Function::New(env, EventRecord));
  exports.Set("eventElapsed", Napi::Function::New(env, EventElapsed));
  exports.Set("eventDestroy", Napi::Function::New(env, EventDestroy));
  exports.Set("nvrtcCompile", Napi::Function::New(env, NvrtcCompile));
  exports.Set("errorName", Napi::Function::New(env, GetErrorName));
  exports.Set("hostAlloc", Napi::Function::New(env, HostAlloc));
  exports.Set("hostFree", Napi::Function::New(env, HostFree));
  exports.Set("hostWrite", Napi::Function::New(env, HostWrite));
  exports.Set("hostRead", Napi::Function::New(env, HostRead));
  exports.Set("hostCopy", Napi::Function::New(env, HostCopy));
  exports.Set("hostSet", Napi::Function::New(env, HostSet));
  exports.Set("emuLoad", Napi::Function::New(env, EmuLoad));
  exports.Set("emuUnload", Napi::Function::New(env, EmuUnload));
  exports.Set("emuFunction", Napi::Function::New(env, EmuFunction));
  exports.Set("emuLaunch", Napi::Function::New(env, EmuLaunch));
  return exports;
}

}  // namespace
}  // namespace kvkit

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return kvkit::Init(env, exports); }

NODE_API_MODULE(kvkit_cuda, InitModule)
