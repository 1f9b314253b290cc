#!/usr/bin/env bash
# The kv-quant GPU check: bit-exact parity of kv-quant's CUDA and WebGPU (WGSL) kernels with its CPU
# kernels, and quantize/dequantize throughput at 32 heads × 8192 tokens × 128 dims next to the copy
# bandwidth measured in the same run, on each.
#
#   Here (build machine):   bash tooling/gpu/kv-quant-check.sh prepare
#       builds cuda-runtime's addon, packs Node, the Vulkan loader and Dawn (shared gpu-carry tool) plus
#       the glvnd libraries NVIDIA's Vulkan driver needs, bundles tooling/gpu/kv-quant-check.ts into
#       .gpu-carry/kv-quant-check.mjs, copies the addon next to it.
#   There (device tool, carry [".gpu-carry"], timeout_s 240, ~2 min):   bash tooling/gpu/kv-quant-check.sh run
#       writes $OUT/kv-quant/kv-quant.json and prints a markdown table last.
#   Dry run of the bundle here, on the CUDA CPU emulator and on SwiftShader (numbers meaningless):
#       LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp \
#       KVKIT_DAWN_NODE=$PWD/node_modules/webgpu/dist/linux-x64/dawn.node \
#       KVKIT_CUDA_ADDON=$PWD/.gpu-carry/kvkit_cuda.node KVKIT_CUDA_EMULATOR_HEADER=$PWD/packages/cuda-runtime/emulator/kvkit_emulator.h \
#         node .gpu-carry/kv-quant-check.mjs --emulate --out /tmp/kv-quant-check
set -euo pipefail
# shellcheck source=tooling/gpu/lib.sh
source "$(dirname "$0")/lib.sh"

prepare() {
  npx turbo run build --filter=@kvkit/cuda-runtime... --filter=@kvkit/kv-quant... >/dev/null
  gpu_prepare_carry
  gpu_bundle tooling/gpu/kv-quant-check.ts kv-quant-check.mjs
  gpu_copy_cuda_addon
  du -sh .gpu-carry
  echo "prepared: run on the GPU machine with  bash tooling/gpu/kv-quant-check.sh run   (carry .gpu-carry)"
}

run() {
  local out=${OUT:-$gpu_root/.gpu-out}
  mkdir -p "$out/kv-quant"
  gpu_require_bundle kv-quant-check.mjs tooling/gpu/kv-quant-check.sh
  gpu_enter
  # The script bounds each of its steps; this bounds the whole (NVRTC hangs, driver faults).
  timeout 200 node .gpu-carry/kv-quant-check.mjs --out "$out" "$@" || echo "kv-quant check ended with status $? (see $out/kv-quant/kv-quant.json)"
}

gpu_main "$@"
