#!/usr/bin/env bash
# The CUDA check on the GPU machine: parity of every kernel with the CPU backend, alloc/free
# stress, out-of-memory recovery, and benchmarks next to PyTorch in the same run.
#
#   Here (build machine):   bash tooling/gpu/cuda-check.sh prepare
#       builds the packages, bundles tooling/gpu/cuda-check.ts into .gpu-carry/cuda-check.mjs,
#       copies the addon next to it and packs Node (shared/tools/gpu-carry.sh).
#   There (device tool, carry [".gpu-carry"]):   bash tooling/gpu/cuda-check.sh run [--quick]
#       writes $OUT/torch.json and $OUT/cuda-check.json and prints a short table last.
#   Dry run of the bundled script here, on the CPU emulator (tiny sizes, no torch):
#       KVKIT_CUDA_ADDON=$PWD/.gpu-carry/kvkit_cuda.node KVKIT_CUDA_EMULATOR_HEADER=$PWD/packages/cuda-runtime/emulator/kvkit_emulator.h \
#         node .gpu-carry/cuda-check.mjs --emulate --out /tmp/cuda-check
set -euo pipefail
# shellcheck source=tooling/gpu/lib.sh
source "$(dirname "$0")/lib.sh"

prepare() {
  npx turbo run build --filter=@kvkit/cuda-runtime... >/dev/null
  gpu_prepare_carry
  gpu_bundle tooling/gpu/cuda-check.ts cuda-check.mjs
  gpu_copy_cuda_addon
  du -sh .gpu-carry
  echo "prepared: run on the GPU machine with  bash tooling/gpu/cuda-check.sh run   (carry .gpu-carry)"
}

run() {
  local out=${OUT:-$gpu_root/.gpu-out}
  mkdir -p "$out"
  gpu_require_bundle cuda-check.mjs tooling/gpu/cuda-check.sh
  gpu_enter
  python3 tooling/gpu/torch_baseline.py --out "$out" "$@" 2>&1 | tail -n 30 || echo "torch baseline failed"
  node .gpu-carry/cuda-check.mjs --out "$out" "$@"
}

gpu_main "$@"
