{
  "targets": [
    {
      "target_name": "kvkit_cuda",
      "sources": ["native/addon.cc", "native/cuda_api.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall"],
      "libraries": ["-ldl"]
    }
  ]
}
