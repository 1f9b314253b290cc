#!/usr/bin/env bash
# The CUDA check on the GPU machine: parity of every kernel with the CPU backend, alloc/free
# stress, out-of-memory recovery, and benchmarks next to PyTorch in the same run.
#
#   Here (build machine):   bash tooling/gpu/cuda-check.sh prepare
#       builds the packages, bundles tooling/gpu/cuda-check.ts into .gpu-carry/cuda-check.mjs,
#       copies the addon next to it and packs Node (shared/tools/gpu-carry.sh).
#   There (device tool, carry [".gpu-carry"]):   bash tooling/gpu/cuda-check.sh run [--quick]
#       first runs the cuda-runtime README's example (bundled at prepare) and requires that it ran on
#       the GPU, not its emulator fallback ($OUT/readme-example.txt); then writes $OUT/torch.json and
#       $OUT/cuda-check.json and prints a short table last.
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
  bundle_readme_example
  gpu_copy_cuda_addon
  du -sh .gpu-carry
  echo "prepared: run on the GPU machine with  bash tooling/gpu/cuda-check.sh run   (carry .gpu-carry)"
}

# The first ```js block of packages/cuda-runtime/README.md as one bundle (the GPU machine has no npm).
bundle_readme_example() {
  # Next to this script, so its imports resolve to the workspace packages (inside .gpu-carry they
  # would find the carried runtime bundle).
  local source
  source=$(mktemp -p tooling/gpu .cuda-readme-example.XXXXXX.mjs)
  awk '/^```js$/ { inside = 1; next } inside && /^```$/ { exit } inside { print }' packages/cuda-runtime/README.md > "$source"
  [ -s "$source" ] || { echo "no js example in packages/cuda-runtime/README.md" >&2; exit 1; }
  gpu_bundle "$source" cuda-readme-example.mjs
  rm "$source"
}

# The README example on the device: it must print the GPU's name and 1999, without falling back to the emulator.
run_readme_example() {
  local log=$1/readme-example.txt
  timeout -k 5 60 node .gpu-carry/cuda-readme-example.mjs > "$log" 2>&1
  local status=$?
  cat "$log"
  if [ $status -eq 0 ] && ! grep -q "emulator instead" "$log" && grep -q " 1999$" "$log"; then
    echo "cuda-runtime README example: ran on the GPU" | tee -a "$log"
  else
    echo "cuda-runtime README example: FAILED on the GPU (status $status)" | tee -a "$log"
  fi
}

run() {
  local out=${OUT:-$gpu_root/.gpu-out}
  mkdir -p "$out"
  gpu_require_bundle cuda-check.mjs tooling/gpu/cuda-check.sh
  gpu_enter
  set +e
  run_readme_example "$out"
  set -e
  python3 tooling/gpu/torch_baseline.py --out "$out" "$@" 2>&1 | tail -n 30 || echo "torch baseline failed"
  node .gpu-carry/cuda-check.mjs --out "$out" "$@"
}

gpu_main "$@"
