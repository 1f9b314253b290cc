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
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mode=${1:-}
shift || true

case "$mode" in
  prepare)
    npx turbo run build --filter=@kvkit/cuda-runtime... >/dev/null
    carry_tool=${GPU_CARRY_TOOL:-/work/shared/tools/gpu-carry.sh}
    if [ -x "$carry_tool" ] || [ -f "$carry_tool" ]; then bash "$carry_tool" >/dev/null; else
      mkdir -p .gpu-carry && [ -s .gpu-carry/node.xz ] || xz -T2 -6 -c "$(command -v node)" > .gpu-carry/node.xz
    fi
    npx esbuild tooling/gpu/cuda-check.ts --bundle --platform=node --format=esm --target=node20 \
      --banner:js="import { createRequire as __kvkitCreateRequire } from 'node:module'; const require = __kvkitCreateRequire(import.meta.url);" \
      --outfile=.gpu-carry/cuda-check.mjs --log-level=warning
    cp packages/cuda-runtime/build/Release/kvkit_cuda.node .gpu-carry/kvkit_cuda.node
    du -sh .gpu-carry
    echo "prepared: run on the GPU machine with  bash tooling/gpu/cuda-check.sh run   (carry .gpu-carry)"
    ;;
  run)
    out=${OUT:-$root/.gpu-out}
    mkdir -p "$out"
    if [ -f .gpu-carry/prelude.sh ]; then
      # shellcheck disable=SC1091
      source .gpu-carry/prelude.sh >/dev/null 2>&1 || true
    fi
    if ! command -v node >/dev/null 2>&1; then
      xz -d -c .gpu-carry/node.xz > /tmp/node && chmod +x /tmp/node && mkdir -p /tmp/nodebin && ln -sf /tmp/node /tmp/nodebin/node
      export PATH=/tmp/nodebin:$PATH
    fi
    export KVKIT_CUDA_ADDON="$root/.gpu-carry/kvkit_cuda.node"
    export KVKIT_CUDA_CACHE=${KVKIT_CUDA_CACHE:-/tmp/kvkit-cuda-cache}
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    python3 tooling/gpu/torch_baseline.py --out "$out" "$@" 2>&1 | tail -n 30 || echo "torch baseline failed"
    node .gpu-carry/cuda-check.mjs --out "$out" "$@"
    ;;
  *)
    echo "usage: $0 prepare | run [--quick]" >&2
    exit 2
    ;;
esac
