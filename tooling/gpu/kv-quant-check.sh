#!/usr/bin/env bash
# The kv-quant GPU check: bit-exact parity of kv-quant's CUDA kernels with its CPU kernels, and
# quantize/dequantize throughput at 32 heads × 8192 tokens × 128 dims next to the copy bandwidth.
#
#   Here (build machine):   bash tooling/gpu/kv-quant-check.sh prepare
#       builds cuda-runtime's addon, packs Node (shared gpu-carry tool), bundles
#       tooling/gpu/kv-quant-check.ts into .gpu-carry/kv-quant-check.mjs, copies the addon next to it.
#   There (device tool, carry [".gpu-carry"], ~45 s):   bash tooling/gpu/kv-quant-check.sh run
#       writes $OUT/kv-quant/kv-quant.json and prints a markdown table last.
#   Dry run of the bundle here, on the CUDA CPU emulator:
#       KVKIT_CUDA_ADDON=$PWD/.gpu-carry/kvkit_cuda.node KVKIT_CUDA_EMULATOR_HEADER=$PWD/packages/cuda-runtime/emulator/kvkit_emulator.h \
#         node .gpu-carry/kv-quant-check.mjs --emulate --out /tmp/kv-quant-check
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mode=${1:-}
shift || true

case "$mode" in
  prepare)
    npx turbo run build --filter=@kvkit/cuda-runtime... --filter=@kvkit/kv-quant... >/dev/null
    carry_tool=${GPU_CARRY_TOOL:-/work/shared/tools/gpu-carry.sh}
    if [ -f "$carry_tool" ]; then bash "$carry_tool" >/dev/null; else
      mkdir -p .gpu-carry && { [ -s .gpu-carry/node.xz ] || xz -T2 -6 -c "$(command -v node)" > .gpu-carry/node.xz; }
    fi
    npx esbuild tooling/gpu/kv-quant-check.ts --bundle --platform=node --format=esm --target=node20 --loader:.cu=text \
      --banner:js="import { createRequire as __kvkitCreateRequire } from 'node:module'; const require = __kvkitCreateRequire(import.meta.url);" \
      --outfile=.gpu-carry/kv-quant-check.mjs --log-level=warning
    cp packages/cuda-runtime/build/Release/kvkit_cuda.node .gpu-carry/kvkit_cuda.node
    du -sh .gpu-carry
    echo "prepared: run on the GPU machine with  bash tooling/gpu/kv-quant-check.sh run   (carry .gpu-carry)"
    ;;
  run)
    out=${OUT:-$root/.gpu-out}
    mkdir -p "$out/kv-quant"
    [ -s .gpu-carry/kv-quant-check.mjs ] || { echo "no .gpu-carry/kv-quant-check.mjs: run 'bash tooling/gpu/kv-quant-check.sh prepare' first" >&2; exit 2; }
    set +e # the prelude's steps report their own failures; the check records what is missing
    # shellcheck disable=SC1091
    source .gpu-carry/prelude.sh >/dev/null 2>&1
    set -e
    export KVKIT_CUDA_ADDON="$root/.gpu-carry/kvkit_cuda.node"
    export KVKIT_CUDA_CACHE=${KVKIT_CUDA_CACHE:-/tmp/kvkit-cuda-cache}
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    # The script bounds each of its steps; this bounds the whole (NVRTC hangs, driver faults).
    timeout 42 node .gpu-carry/kv-quant-check.mjs --out "$out" "$@" || echo "kv-quant check ended with status $? (see $out/kv-quant/kv-quant.json)"
    ;;
  *)
    echo "usage: $0 prepare | run" >&2
    exit 2
    ;;
esac
