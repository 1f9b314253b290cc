#!/usr/bin/env bash
# The WebGPU check on the GPU machine: the parity suite of every tensor-core WGSL kernel against the
# CPU backend on the real GPU (Dawn → Vulkan → NVIDIA driver), then f32 matmul TFLOP/s at 1024–8192
# and memory-bound GB/s next to PyTorch in the same run.
#
#   Here (build machine):   bash tooling/gpu/webgpu-check.sh prepare
#       packs Node, Debian's Vulkan loader and Dawn (node_modules/webgpu) with the shared gpu-carry
#       tool, and bundles packages/tensor-core/bench/webgpu-bench.ts into .gpu-carry/webgpu-bench.mjs.
#   There (device tool, carry [".gpu-carry"], timeout_s 540):   bash tooling/gpu/webgpu-check.sh run [--quick] [bench options]
#       writes $OUT/torch.json, $OUT/webgpu.json and $OUT/clocks.csv (nvidia-smi every 100 ms) and
#       prints the memory-bound table last: every row timed sustained, with the clocks of its window.
#   Dry run of the bundle here, on SwiftShader (numbers meaningless, logic checked):
#       LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp \
#         KVKIT_DAWN_NODE=$PWD/node_modules/webgpu/dist/linux-x64/dawn.node node .gpu-carry/webgpu-bench.mjs --quick --out /tmp/webgpu-check
#   (or the whole run() here with OUT=/tmp/webgpu-check and the same variables: no nvidia-smi, no
#   CUDA, so no clocks and "torch baseline failed"; the bench still runs.)
set -euo pipefail
# shellcheck source=tooling/gpu/lib.sh
source "$(dirname "$0")/lib.sh"

prepare() {
  [ -s node_modules/webgpu/dist/linux-x64/dawn.node ] || { echo "node_modules/webgpu is missing: npm ci first" >&2; exit 1; }
  gpu_prepare_carry
  gpu_bundle packages/tensor-core/bench/webgpu-bench.ts webgpu-bench.mjs
  du -sh .gpu-carry
  echo "prepared: run on the GPU machine with  bash tooling/gpu/webgpu-check.sh run   (carry .gpu-carry)"
}

run() {
  local out=${OUT:-$gpu_root/.gpu-out}
  mkdir -p "$out"
  gpu_require_bundle webgpu-bench.mjs tooling/gpu/webgpu-check.sh
  gpu_enter
  local quick=() clocks=()
  case " $* " in *" --quick "*) quick=(--quick) ;; esac
  # Clock samples over the whole run (PyTorch's ops and the bench's rows), so every GB/s figure
  # comes with the clocks it ran at: $OUT/clocks.csv (in session.sh's archive too).
  if gpu_clock_sampler_start "$out/clocks.csv"; then
    clocks=(--clocks "$out/clocks.csv")
    trap gpu_clock_sampler_stop EXIT
  else
    echo "no nvidia-smi: no clock samples"
  fi
  python3 tooling/gpu/torch_baseline.py --out "$out" --f32-sizes 1024,2048,4096,8192 "${quick[@]}" 2>&1 | tail -n 30 || echo "torch baseline failed"
  # Options after `run` go to the bench (--quick, --sections parity,matmul,bandwidth, --sms, --timed-ms, ...).
  node .gpu-carry/webgpu-bench.mjs --out "$out" "${clocks[@]}" "$@"
}

gpu_main "$@"
